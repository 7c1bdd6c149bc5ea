"""Reading YAML nodes with positions: the small toolkit under the channel test-file reader.

Each getter returns the value, or None after recording a ConfigError at the node's line:col,
so one pass over a file reports every problem in it.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from hl7bridge.channels.lint import did_you_mean
from hl7bridge.channels.load import at, merged_pairs
from hl7bridge.engine.errors import ConfigError

__all__ = ["NodeReader"]

_STR_TAG = "tag:yaml.org,2002:str"


class NodeReader:
    def __init__(self, file: str) -> None:
        self.file = file
        self.errors: list[ConfigError] = []
        self._constructor = SafeConstructor()

    def error(self, node: Node | None, code: str, message: str, hint: str | None = None) -> None:
        line, col = at(node)
        self.errors.append(ConfigError(message, file=self.file, line=line, column=col, code=code, hint=hint))

    def mapping(self, node: Node | None, allowed: set[str] | None, where: str, *,
                required: set[str] = frozenset()) -> dict[str, tuple[Node, Node]] | None:
        """Key -> (key node, value node); unknown keys (when ``allowed`` is given) and duplicates are errors."""
        if not isinstance(node, MappingNode):
            self.error(node, "bad-type", f"{where} should be a mapping (key: value lines)")
            return None
        pairs: dict[str, tuple[Node, Node]] = {}
        for key_node, value_node in merged_pairs(node):
            key = key_node.value if isinstance(key_node, ScalarNode) else None
            if key is None:
                self.error(key_node, "bad-type", "a key must be a plain word, not a list or mapping")
            elif key in pairs:
                line = at(pairs[key][0])[0]
                self.error(key_node, "duplicate-key", f"duplicate key {key!r}",
                           f"first defined at line {line}; keep one")
            elif allowed is not None and key not in allowed:
                hint = did_you_mean(key, allowed) or f"allowed keys: {', '.join(sorted(allowed))}"
                self.error(key_node, "unknown-key", f"unknown key {key!r} in {where}", hint)
            else:
                pairs[key] = (key_node, value_node)
        for key in sorted(required - set(pairs)):
            self.error(node, "missing-key", f"missing required key {key!r} in {where}", f"add {key}: ...")
        return pairs

    def sequence(self, node: Node, where: str) -> list[Node] | None:
        if not isinstance(node, SequenceNode) or not node.value:
            self.error(node, "bad-type", f"{where} should be a list with at least one entry (lines starting '- ')")
            return None
        return list(node.value)

    def plain(self, node: Node) -> Any:
        """The node as plain data (str, int, bool, list, dict, None)."""
        try:
            return self._constructor.construct_object(node, deep=True)
        except yaml.YAMLError:
            self.error(node, "yaml-syntax", "cannot read this value", "remove the !tag; plain YAML only")
            return None

    def text(self, node: Node, where: str) -> str | None:
        if not isinstance(node, ScalarNode) or node.tag != _STR_TAG or not node.value:
            self.error(node, "bad-type", f"{where} should be text", f'quote it: "{node.value}"'
                       if isinstance(node, ScalarNode) and node.value else None)
            return None
        return node.value

    def integer(self, node: Node, where: str, low: int, high: int) -> int | None:
        value = self.plain(node) if isinstance(node, ScalarNode) else None
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            self.error(node, "invalid-value", f"{where} should be a whole number from {low} to {high}")
            return None
        return value

    def boolean(self, node: Node, where: str) -> bool | None:
        value = self.plain(node) if isinstance(node, ScalarNode) else None
        if not isinstance(value, bool):
            self.error(node, "bad-type", f"{where} should be true or false", "write true or false")
            return None
        return value

    def choice(self, node: Node, where: str, choices: tuple[str, ...]) -> str | None:
        value = node.value if isinstance(node, ScalarNode) else None
        if value not in choices:
            hint = did_you_mean(str(value), choices) or f"expected one of: {', '.join(choices)}"
            self.error(node, "invalid-value", f"{value!r} is not allowed in {where}", hint)
            return None
        return value
