"""Read ``channels.yaml`` into a :class:`Config`, reporting every problem at its line:col.

The YAML is composed (not loaded) so each node keeps its start mark; the node tree is turned
into plain data here (interpolating ``${VAR}`` / ``${VAR:-default}``, rejecting duplicate keys),
validated by the pydantic models in ``spec.py``, and pydantic's error locations are walked back
through the node tree to a position.  Then ``lint.py`` runs the cross-field checks.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from hl7bridge.channels.spec import Config
from hl7bridge.engine.errors import ConfigError, ConfigErrors

__all__ = ["Marks", "load_config", "load_config_text"]

_STR_TAG = "tag:yaml.org,2002:str"
_MERGE_TAG = "tag:yaml.org,2002:merge"
_VAR = re.compile(r"\$\$\{|\$\{([^}]*)\}|\$\{")  # escaped ${, a reference, an unclosed ${
_VAR_BODY = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)(?::-(.*))?$", re.DOTALL)


def load_config(path: str | os.PathLike[str], *, env: Mapping[str, str] | None = None) -> Config:
    """Read and validate the config at ``path``; raise ConfigErrors listing every problem."""
    file = os.fspath(path)
    try:
        text = Path(file).read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigErrors([ConfigError(f"file is not UTF-8 (byte {exc.start})", file=file, line=1,
                                        column=1, code="yaml-syntax", hint="save the file as UTF-8")]) from exc
    except OSError as exc:
        raise ConfigErrors([ConfigError(f"cannot read config: {exc.strerror}", file=file, line=1,
                                        column=1, code="io")]) from exc
    return load_config_text(text, file=file, env=env)


def load_config_text(text: str, *, file: str = "<string>", env: Mapping[str, str] | None = None) -> Config:
    """Validate config YAML given as text; ``file`` is only used in error positions."""
    from hl7bridge.channels.lint import lint  # lint.py imports this module's Marks

    root = _compose(text, file)
    builder = _Builder(file, os.environ if env is None else env)
    data = builder.build(root) if root is not None else {}
    marks = Marks(root, file)
    errors = list(builder.errors)
    config = _validate(data, marks, builder.failed_nodes, errors)
    if config is not None:
        errors.extend(lint(config, marks))
    if errors or config is None:
        raise ConfigErrors(_in_file_order(errors))
    return config


def _validate(data: Any, marks: Marks, failed_nodes: set[int], errors: list[ConfigError]) -> Config | None:
    """The Config, or None with the reasons appended to ``errors``."""
    from hl7bridge.channels.lint import schema_errors

    if not isinstance(data, dict):
        errors.append(marks.error((), "bad-type", "the top level must be a mapping with engine: and channels:"))
        return None
    # Top-level x-* keys hold YAML anchors (shared retry blocks etc.); they are not config.
    data = {k: v for k, v in data.items() if not (isinstance(k, str) and k.startswith("x-"))}
    if "source_file" in data:  # a field of Config, but the loader's to set
        del data["source_file"]
        errors.append(marks.error(("source_file",), "unknown-key", "unknown key 'source_file' at top level",
                                  key=True, hint="the loader sets source_file; remove it"))
    try:
        return Config.model_validate({**data, "source_file": marks.file})
    except ValidationError as exc:
        errors.extend(schema_errors(exc, marks, skip=failed_nodes))
        return None


def _in_file_order(errors: list[ConfigError]) -> list[ConfigError]:
    seen: set[tuple[int, int, str, str]] = set()
    unique = []
    for err in sorted(errors, key=lambda e: (e.line, e.column)):
        key = (err.line, err.column, err.code, err.message)
        if key not in seen:
            seen.add(key)
            unique.append(err)
    return unique


def _compose(text: str, file: str) -> Node | None:
    try:
        return yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problem = ": ".join(part for part in (exc.context, exc.problem) if part) or "YAML syntax error"
        raise ConfigErrors([ConfigError(problem, file=file, line=line, column=col, code="yaml-syntax",
                                        hint=_syntax_hint(problem))]) from exc
    except yaml.YAMLError as exc:
        raise ConfigErrors([ConfigError(str(exc), file=file, line=1, column=1, code="yaml-syntax")]) from exc


def _syntax_hint(problem: str) -> str | None:
    if "'\\t'" in problem:
        return "indent with spaces, not tabs"
    if "mapping values are not allowed" in problem:
        return "quote a value that contains ': ', or check the indentation"
    if "expected ',' or" in problem:
        return 'inside {...} or [...], quote values that contain [ ] { } or commas, e.g. "PID-3[1].1"'
    if "expected a single document" in problem:
        return "keep one document per file: remove the extra ---"
    return None


class Marks:
    """Positions of the YAML nodes, looked up by a path of keys and list indexes."""

    def __init__(self, root: Node | None, file: str) -> None:
        self.root = root
        self.file = file

    def node(self, path: tuple[Any, ...]) -> tuple[Node | None, Node | None]:
        """The deepest (value node, key node) found along ``path`` (keys and list indexes)."""
        node, key_node = self.root, None
        for part in path:
            found = child(node, part)
            if found is None:
                break
            key_node, node = found
        return node, key_node

    def position(self, path: tuple[Any, ...], *, key: bool = False) -> tuple[int, int]:
        """1-based (line, column) of the value (or the key) at ``path``, or of its deepest ancestor."""
        node, key_node = self.node(path)
        return at(key_node if key and key_node is not None else node)

    def error(self, path: tuple[Any, ...], code: str, message: str, *, key: bool = False,
              hint: str | None = None) -> ConfigError:
        line, col = self.position(path, key=key)
        return ConfigError(message, file=self.file, line=line, column=col, code=code, hint=hint)


def at(node: Node | None) -> tuple[int, int]:
    """1-based position of ``node`` (1:1 for an empty file)."""
    if node is None:
        return 1, 1
    return node.start_mark.line + 1, node.start_mark.column + 1


def child(node: Node | None, part: Any) -> tuple[Node, Node | None] | None:
    """(key node, value node) of ``part`` in a mapping node, or (None, item) in a sequence node."""
    if isinstance(node, MappingNode):
        for key_node, value_node in merged_pairs(node):
            if isinstance(key_node, ScalarNode) and key_node.value == str(part):
                return key_node, value_node
    if isinstance(node, SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
        return None, node.value[part]
    return None


def merged_pairs(node: MappingNode) -> list[tuple[Node, Node]]:
    """The node's own pairs, then those brought in by ``<<: *anchor`` merge keys (own keys win)."""
    own = [(k, v) for k, v in node.value if k.tag != _MERGE_TAG]
    for key_node, value_node in node.value:
        if key_node.tag == _MERGE_TAG:
            sources = value_node.value if isinstance(value_node, SequenceNode) else [value_node]
            merged = [pair for src in sources if isinstance(src, MappingNode) for pair in merged_pairs(src)]
            taken = {k.value for k, _ in own if isinstance(k, ScalarNode)}
            own += [(k, v) for k, v in merged if not (isinstance(k, ScalarNode) and k.value in taken)]
    return own


class _Builder:
    """Turns composed nodes into plain data, collecting env-var and duplicate-key errors."""

    def __init__(self, file: str, env: Mapping[str, str]) -> None:
        self.file = file
        self.env = env
        self.errors: list[ConfigError] = []
        self.failed_nodes: set[int] = set()
        self._constructor = SafeConstructor()
        self._active: set[int] = set()

    def build(self, node: Node) -> Any:
        if id(node) in self._active:  # an alias that contains itself
            self._error(node, "yaml-syntax", "recursive alias")
            return None
        self._active.add(id(node))
        try:
            if isinstance(node, MappingNode):
                return self._mapping(node)
            if isinstance(node, SequenceNode):
                return [self.build(item) for item in node.value]
            return self._scalar(node)
        finally:
            self._active.discard(id(node))

    def _mapping(self, node: MappingNode) -> dict[Any, Any]:
        result: dict[Any, Any] = {}
        first: dict[Any, Node] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                continue
            key = self._key(key_node)
            if key in first:
                line, _ = at(first[key])
                self._error(key_node, "duplicate-key", f"duplicate key {key!r}",
                            hint=f"first defined at line {line}; keep one")
                continue
            first[key] = key_node
            result[key] = self.build(value_node)
        for key, value in self._merges(node).items():
            result.setdefault(key, value)
        return result

    def _merges(self, node: MappingNode) -> dict[Any, Any]:
        merged: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag != _MERGE_TAG:
                continue
            sources = value_node.value if isinstance(value_node, SequenceNode) else [value_node]
            for source in sources:
                value = self.build(source)
                if not isinstance(value, dict):
                    self._error(source, "bad-type", "a << merge needs a mapping (an &anchor of a mapping)")
                    continue
                for key, item in value.items():
                    merged.setdefault(key, item)
        return merged

    def _key(self, node: Node) -> Any:
        if not isinstance(node, ScalarNode):
            self._error(node, "bad-type", "a key must be a plain word, not a list or mapping")
            return f"<key at {at(node)}>"
        return self._scalar(node, interpolate=False)

    def _scalar(self, node: ScalarNode, *, interpolate: bool = True) -> Any:
        if node.tag == _STR_TAG:
            return self._interpolate(node) if interpolate else node.value
        try:
            return self._constructor.construct_object(node, deep=True)
        except yaml.YAMLError as exc:
            problem = getattr(exc, "problem", None) or "cannot read this value"
            self._error(node, "yaml-syntax", problem.split(" in ")[0],
                        hint="remove the !tag; hl7bridge reads plain YAML only")
            return None

    def _interpolate(self, node: ScalarNode) -> str:
        return _VAR.sub(lambda match: self._variable(node, match), node.value)

    def _variable(self, node: ScalarNode, match: re.Match[str]) -> str:
        if match.group(0) == "$${":  # escaped: a literal ${
            return "${"
        body = _VAR_BODY.match(match.group(1) or "")
        if body is None:
            self._error(node, "env-var", f"malformed variable reference {match.group(0)!r}",
                        hint="write ${NAME} or ${NAME:-default}", offset=match.start())
            return ""
        name, default = body.group(1), body.group(2)
        value = self.env.get(name)
        if value:
            return value
        if default is not None:
            return default
        if value is None:
            self._error(node, "env-var", f"environment variable {name} is not set",
                        hint=f"set {name} or give a default: ${{{name}:-value}}", offset=match.start())
        return ""

    def _error(self, node: Node, code: str, message: str, *, hint: str | None = None, offset: int = 0) -> None:
        line, col = at(node)
        # Only a one-line plain scalar maps a character offset straight onto a column.
        if offset and isinstance(node, ScalarNode) and node.style is None and node.end_mark.line == node.start_mark.line:
            col += offset
        self.failed_nodes.add(id(node))
        self.errors.append(ConfigError(message, file=self.file, line=line, column=col, code=code, hint=hint))
