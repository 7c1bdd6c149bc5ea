"""Config problems as analysts read them: schema errors mapped to positions, then the checks the
schema cannot make (cross-references, step names, HL7 paths, message types, listen clashes).

Every error carries file:line:col, a code and, where one helps, a hint (often "did you mean ...?").
"""

from __future__ import annotations

import difflib
import re
import types
from collections.abc import Iterable, Iterator
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError
from yaml.nodes import MappingNode, Node, ScalarNode

from hl7bridge.channels.load import Marks, at, child
from hl7bridge.channels.spec import Config, parse_host_port
from hl7bridge.engine.errors import ConfigError

__all__ = ["did_you_mean", "format_errors", "lint", "schema_errors"]

_FALLBACK_STEPS = {"hl7v2_to_fhir", "ccda_to_fhir", "fhir_to_hl7v2", "fhir_to_ccda", "set", "copy", "map", "python"}
_MESSAGE_TYPE = re.compile(r"^[A-Z0-9]{3}(\^([A-Z0-9]{3}|\*))?$")
_HL7_PATH = re.compile(r"^[A-Z][A-Z0-9]{2}(\[[1-9]\d*\])?-[1-9]\d*(\[[1-9]\d*\])?(\.[1-9]\d*(\.[1-9]\d*)?)?$")
_IDENT = r"[A-Za-z_]\w*"
_TARGET = re.compile(rf"^{_IDENT}(\.{_IDENT})*(:{_IDENT}(\.{_IDENT})*)?$")
_WILDCARD_HOSTS = {"0.0.0.0", "::", "*", ""}
# Declarative field steps: required keys, optional keys.
_FIELD_STEPS = {"set": ({"path", "value"}, set()), "copy": ({"from", "to"}, set()),
                "map": ({"path"}, {"table", "csv", "default"})}
_PATH_KEYS = {"path", "from", "to"}


def format_errors(errors: list[ConfigError]) -> str:
    """One ``file:line:col error [code] message (hint)`` line per error."""
    return "\n".join(err.render() for err in errors)


def did_you_mean(word: str, choices: Iterable[str]) -> str | None:
    """``did you mean 'x'?`` for the closest choice, or None when nothing is close."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"did you mean {close[0]!r}?" if close else None


def builtin_steps() -> set[str]:
    """Step names the transform registry knows (a fixed set while the registry is not there)."""
    try:
        from hl7bridge.transforms.registry import BUILTIN_STEPS
    except ImportError:
        return set(_FALLBACK_STEPS)
    return set(BUILTIN_STEPS) | {"python"}


def valid_hl7_path(text: Any) -> bool:
    """True when ``text`` reads as SEG[n]-F[r].C.S (the transforms' parser when it is there)."""
    if not isinstance(text, str):
        return False
    try:
        from hl7bridge.transforms.hl7v2.path import parse_path
    except ImportError:
        return _HL7_PATH.match(text) is not None
    try:
        parse_path(text)
    except ValueError:
        return False
    return True


def lint(config: Config, marks: Marks | None = None) -> list[ConfigError]:
    """Checks beyond the schema; ``marks`` gives positions (None: every position is 1:1)."""
    marks = marks or Marks(None, config.source_file or "<config>")
    errors = list(_listen_clashes(config, marks))
    errors += _http_path_clashes(config, marks)
    steps = builtin_steps()
    for name, channel in config.channels.items():
        base = ("channels", name)
        if channel.filter is not None:
            errors += _filter_errors(channel.filter, (*base, "filter"), marks)
        for index, step in enumerate(channel.steps):
            errors += _step_errors(step.name, step.options, (*base, "steps", index), steps, marks)
        errors += _destination_errors(config, name, marks)
    errors += _channel_loops(config, marks)
    return errors


def _listen_clashes(config: Config, marks: Marks) -> Iterator[ConfigError]:
    taken: list[tuple[str, int, tuple[Any, ...]]] = []
    listens: list[tuple[str, tuple[Any, ...]]] = []
    if config.engine.http is not None:
        listens.append((config.engine.http.listen, ("engine", "http", "listen")))
    for name, channel in config.channels.items():
        if channel.source.type == "mllp":
            listens.append((channel.source.listen, ("channels", name, "source", "listen")))
    for listen, path in listens:
        host, port = parse_host_port(listen)
        for other_host, other_port, other_path in taken:
            if port == other_port and (host == other_host or {host, other_host} & _WILDCARD_HOSTS):
                line, _ = marks.position(other_path)
                yield marks.error(path, "duplicate-listen", f"{listen} clashes with {_dotted(other_path)}",
                                  hint=f"that address is taken at line {line}; give each listener its own port")
                break
        taken.append((host, port, path))


def _http_path_clashes(config: Config, marks: Marks) -> Iterator[ConfigError]:
    seen: dict[str, tuple[Any, ...]] = {}
    for name, channel in config.channels.items():
        if channel.source.type != "http":
            continue
        path = ("channels", name, "source", "path")
        first = seen.setdefault(channel.source.path, path)
        if first is not path:
            line, _ = marks.position(first)
            yield marks.error(path, "duplicate-path", f"HTTP path {channel.source.path} is used by two channels",
                              hint=f"first used at line {line}; give each HTTP source its own path")


def _filter_errors(spec: Any, base: tuple[Any, ...], marks: Marks) -> Iterator[ConfigError]:
    for index, text in enumerate(spec.message_types or []):
        if not _MESSAGE_TYPE.match(text):
            guess = text.upper().replace("_", "^", 1)
            hint = f"did you mean {guess!r}?" if _MESSAGE_TYPE.match(guess) else "write ADT^A01, ADT^* or ADT"
            yield marks.error((*base, "message_types", index), "invalid-value",
                              f"message type {text!r} is not TYPE^EVENT, TYPE^* or TYPE", hint=hint)
    for index, condition in enumerate(spec.conditions):
        if not valid_hl7_path(condition.path):
            yield _path_error(condition.path, (*base, "conditions", index, "path"), marks)


def _path_error(text: Any, path: tuple[Any, ...], marks: Marks) -> ConfigError:
    guess = text.upper() if isinstance(text, str) else ""
    hint = f"did you mean {guess!r}?" if valid_hl7_path(guess) else "write SEG-FIELD[rep].COMPONENT.SUB, e.g. PID-3[1].4"
    return marks.error(path, "invalid-value", f"{text!r} is not an HL7 path", hint=hint)


def _step_errors(name: str, options: dict[str, Any], path: tuple[Any, ...], known: set[str],
                 marks: Marks) -> Iterator[ConfigError]:
    if name not in known:
        hint = did_you_mean(name, known) or f"built-in steps: {', '.join(sorted(known))}"
        yield marks.error(path, "unknown-step", f"unknown step {name!r}", hint=hint)
    elif name == "python":
        yield from _python_errors(options, (*path, "python"), marks)
    elif name in _FIELD_STEPS:
        yield from _field_step_errors(name, options, (*path, name), marks)


def _python_errors(options: dict[str, Any], path: tuple[Any, ...], marks: Marks) -> Iterator[ConfigError]:
    target = options.get("target")
    if target is None:
        yield marks.error(path, "missing-key", "python step needs a target", hint="write python: package.module:function")
    elif not isinstance(target, str) or not _TARGET.match(target) or not re.search(r"[.:]", target):
        yield marks.error(path, "invalid-value", f"python target {target!r} is not package.module:function",
                          hint="e.g. python: transforms.site:add_mrn_system")


def _field_step_errors(name: str, options: dict[str, Any], path: tuple[Any, ...],
                       marks: Marks) -> Iterator[ConfigError]:
    required, optional = _FIELD_STEPS[name]
    allowed = required | optional
    for key in options:
        if key not in allowed:
            hint = did_you_mean(str(key), allowed) or f"allowed keys: {', '.join(sorted(allowed))}"
            yield marks.error((*path, key), "unknown-key", f"unknown key {key!r} in {name} step", key=True, hint=hint)
    for key in sorted(required - set(options)):
        yield marks.error(path, "missing-key", f"{name} step needs {key!r}", hint=f"add {key}: ...")
    for key in sorted(_PATH_KEYS & set(options)):
        if not valid_hl7_path(options[key]):
            yield _path_error(options[key], (*path, key), marks)
    if name == "map":
        yield from _map_table_errors(options, path, marks)


def _map_table_errors(options: dict[str, Any], path: tuple[Any, ...], marks: Marks) -> Iterator[ConfigError]:
    if ("table" in options) == ("csv" in options):
        yield marks.error(path, "missing-key", "map step needs exactly one of 'table' or 'csv'",
                          hint="table: {from: to, ...} or csv: file.csv")
    elif "table" in options and not isinstance(options["table"], dict):
        yield marks.error((*path, "table"), "bad-type", "map table must be a mapping of code: code")


def _destination_errors(config: Config, name: str, marks: Marks) -> Iterator[ConfigError]:
    from hl7bridge.engine.brokers.names import RESERVED_DESTINATIONS

    for dest_name, dest in config.channels[name].destinations.items():
        if dest_name in RESERVED_DESTINATIONS:  # <channel>.dlq is the channel queue's dead-letter queue
            yield marks.error(("channels", name, "destinations", dest_name), "reserved-name",
                              f"destination name {dest_name!r} is reserved for queue names",
                              hint=f"call it {dest_name}_service or similar")
        if dest.type != "channel":
            continue
        path = ("channels", name, "destinations", dest_name, "channel")
        if dest.channel not in config.channels:
            hint = did_you_mean(dest.channel, config.channels) or f"channels: {', '.join(sorted(config.channels))}"
            yield marks.error(path, "unknown-channel", f"no channel named {dest.channel!r}", hint=hint)


def _channel_loops(config: Config, marks: Marks) -> Iterator[ConfigError]:
    """A channel that hands messages back to itself, directly or round a ring, would never stop."""
    edges = {name: [(d, n) for n, d in ch.destinations.items() if d.type == "channel" and d.channel in config.channels]
             for name, ch in config.channels.items()}
    reported: set[frozenset[str]] = set()
    for start in edges:
        stack: list[tuple[str, list[str]]] = [(start, [start])]
        while stack:
            current, trail = stack.pop()
            for dest, dest_name in edges[current]:
                if dest.channel == start and frozenset(trail) not in reported:
                    reported.add(frozenset(trail))
                    ring = " -> ".join([*trail, start])
                    yield marks.error(("channels", current, "destinations", dest_name, "channel"), "channel-loop",
                                      f"channels form a loop: {ring}", hint="break the ring; messages would circle forever")
                elif dest.channel not in trail:
                    stack.append((dest.channel, [*trail, dest.channel]))


# --- pydantic errors -> positions -------------------------------------------------------------

def schema_errors(exc: ValidationError, marks: Marks, *, skip: set[int] = frozenset()) -> list[ConfigError]:
    """Translate each pydantic error to a positioned ConfigError; errors at ``skip`` node ids are dropped."""
    errors = []
    for err in exc.errors(include_url=False):
        where = _Where(marks, err["loc"])
        if where.node is not None and id(where.node) in skip:
            continue
        errors.append(_translate(err, where, marks))
    # A misspelt required key is one problem: keep the unknown-key error that names the fix.
    typo_hints = {e.hint for e in errors if e.code == "unknown-key"}
    return [e for e in errors if not (e.code == "missing-key" and e.hint and " instead of " in e.hint
                                      and e.hint.split(" instead of ")[0] + "?" in typo_hints)]


class _Where:
    """Walks a pydantic location through the models and the YAML nodes together.

    Tagged unions put the ``type`` value into the location; it is not a YAML key, so it only picks
    the model.  The walk stops in YAML at the deepest node that exists (a missing key's mapping).
    """

    def __init__(self, marks: Marks, loc: tuple[Any, ...]) -> None:
        self.node: Node | None = marks.root
        self.key_node: Node | None = None
        self.model: Any = Config
        self.path: list[Any] = []
        lost = False
        for part in loc:
            self.model = _unwrap(self.model)
            if part == "[key]":
                self.node, self.model = self.key_node, None
                break
            member = _member(self.model, part)
            if member is not None:
                self.model = member
                continue
            self.model = _child_type(self.model, part)
            self.path.append(part)
            found = None if lost else child(self.node, part)
            lost = found is None
            if found is not None:
                self.key_node, self.node = found
        self.model = _unwrap(self.model)


def _translate(err: dict[str, Any], where: _Where, marks: Marks) -> ConfigError:
    kind, loc, ctx = err["type"], err["loc"], err.get("ctx") or {}
    text = _dotted(where.path) or "top level"
    if kind == "extra_forbidden":
        allowed = _keys(_Where(marks, loc[:-1]).model)
        hint = did_you_mean(str(loc[-1]), allowed) or f"allowed keys: {', '.join(allowed)}"
        if len(loc) == 1 and hint.startswith("allowed"):
            hint += "; top-level x-* keys may hold YAML anchors"
        return _error(marks, where.key_node or where.node, "unknown-key",
                      f"unknown key {loc[-1]!r} in {_dotted(where.path[:-1]) or 'top level'}", hint)
    if kind in ("missing", "union_tag_not_found"):
        key = "type" if kind == "union_tag_not_found" else str(loc[-1])
        parent = _dotted(where.path if kind == "union_tag_not_found" else where.path[:-1]) or "top level"
        return _error(marks, where.node, "missing-key", f"missing required key {key!r} in {parent}",
                      _missing_hint(key, where.node, where.model))
    if kind == "union_tag_invalid":
        tags = re.findall(r"'([^']*)'", ctx.get("expected_tags", ""))
        type_node = child(where.node, "type")
        hint = did_you_mean(str(ctx.get("tag")), tags) or f"known types: {', '.join(tags)}"
        return _error(marks, type_node[1] if type_node else where.node, "invalid-value",
                      f"unknown type {ctx.get('tag')!r} in {text}", hint)
    if kind == "literal_error":
        choices = re.findall(r"'([^']*)'", ctx.get("expected", ""))
        hint = did_you_mean(str(err["input"]), choices) or f"expected one of: {', '.join(choices)}"
        return _error(marks, where.node, "invalid-value", f"{err['input']!r} is not allowed in {text}", hint)
    if kind == "string_pattern_mismatch" and loc[-1] == "[key]":
        return _error(marks, where.node, "invalid-value", f"invalid name {loc[-2]!r}: use a-z, 0-9 and _, "
                      "starting with a letter, at most 63 characters", f"try {_as_name(str(loc[-2]))!r}")
    if kind.endswith(("_type", "_parsing")) or kind == "int_from_float":
        return _error(marks, where.node, "bad-type", f"{text}: {_plain(err['msg'])}", _quote_hint(kind, where.node))
    if kind == "too_short":
        return _error(marks, where.node, "invalid-value", f"{text} needs at least one entry", None)
    return _error(marks, where.node, "invalid-value", f"{text}: {_plain(err['msg'])}", ctx.get("hint") or None)


def _error(marks: Marks, node: Node | None, code: str, message: str, hint: str | None) -> ConfigError:
    line, col = at(node)
    return ConfigError(message, file=marks.file, line=line, column=col, code=code, hint=hint)


def _missing_hint(key: str, node: Node | None, model: Any) -> str | None:
    if key == "type" and get_origin(model) in (Union, types.UnionType):
        tags = [get_args(option.model_fields["type"].annotation)[0] for option in get_args(model)]
        return f"add type: one of {', '.join(tags)}"
    present = [k.value for k, _ in node.value if isinstance(k, ScalarNode)] if isinstance(node, MappingNode) else []
    close = difflib.get_close_matches(key, present, n=1, cutoff=0.6)
    return f"did you mean {key!r} instead of {close[0]!r}?" if close else f"add {key}: ..."


def _quote_hint(kind: str, node: Node | None) -> str | None:
    if kind == "string_type" and isinstance(node, ScalarNode):
        return f'quote it: "{node.value}"'
    if kind == "bool_parsing":
        return "write true or false"
    return None


def _plain(msg: str) -> str:
    msg = re.sub(r"a valid dictionary( or (instance of \w+|object to extract fields from))?", "a mapping", msg)
    msg = msg.replace("a valid list", "a list")
    return msg.replace("Value error, ", "").replace("Input should be", "should be")


def _as_name(text: str) -> str:
    name = re.sub(r"[^a-z0-9_]+", "_", text.lower()).strip("_")
    return (name if name[:1].isalpha() else f"c_{name}")[:63]


def _dotted(path: Iterable[Any]) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _unwrap(tp: Any) -> Any:
    while True:
        origin = get_origin(tp)
        if origin is Annotated:
            tp = get_args(tp)[0]
        elif origin in (Union, types.UnionType) and type(None) in get_args(tp):
            rest = [a for a in get_args(tp) if a is not type(None)]
            tp = rest[0] if len(rest) == 1 else Union[tuple(rest)]
        else:
            return tp


def _member(tp: Any, tag: Any) -> Any:
    if get_origin(tp) not in (Union, types.UnionType):
        return None
    for option in get_args(tp):
        field = getattr(option, "model_fields", {}).get("type")
        if field is not None and get_args(field.annotation) == (tag,):
            return option
    return None


def _child_type(tp: Any, part: Any) -> Any:
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        for name, field in tp.model_fields.items():
            if part in (name, field.alias):
                return field.annotation
        return None
    origin = get_origin(tp)
    if origin is dict:
        return get_args(tp)[1]
    if origin is list:
        return get_args(tp)[0]
    return None


def _keys(model: Any) -> list[str]:
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        return []
    return [field.alias or name for name, field in model.model_fields.items() if name != "source_file"]
