"""What a channel test file says: read from YAML with the line of every expectation.

The file is composed (not loaded) so each expectation keeps the line it was written on; a
failing expectation is reported at that line.  Problems in the file itself (unknown keys,
missing fixtures, a channel or destination the config does not have) are ConfigErrors with
file:line:col, like the channel config's own.  docs/channel-tests.md describes the format.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

import yaml
from yaml.nodes import Node, ScalarNode

from hl7bridge.channels.lint import did_you_mean, valid_hl7_path
from hl7bridge.channels.load import at
from hl7bridge.channels.spec import Config
from hl7bridge.channels.testing_yaml import NodeReader
from hl7bridge.engine.errors import ConfigError, ConfigErrors

__all__ = ["Case", "DestinationExpect", "ErrorExpect", "Located", "MockResponse", "TestFile", "read_test_file"]

T = TypeVar("T")
ACK_CODES = ("AA", "AE", "AR", "CA", "CE", "CR", "none")
MOCK_ACKS = ("AA", "AE", "AR", "CA", "CE", "CR", "timeout")
OUTCOMES = ("delivered", "retry", "dead_letter")
_FILE_KEYS = {"channel", "description", "cases"}
_CASE_KEYS = {"name", "file", "message", "destinations", "expect"}
_EXPECT_KEYS = {"ack", "filtered", "error", "destinations"}
_ERROR_KEYS = {"location", "code", "reason"}
_MOCK_KEYS = {"status", "ack", "attempt"}
_DEST_KEYS = {"payload_equals_file", "payload_contains_json", "hl7_fields", "outcome"}


@dataclass(frozen=True, slots=True)
class Located(Generic[T]):
    """An expected value and the line it was written on."""

    value: T
    line: int


@dataclass(frozen=True, slots=True)
class ErrorExpect:
    location: str | None = None
    code: int | None = None
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class MockResponse:
    """How a mocked destination answers: an HTTP ``status``, an ACK code, or success when neither."""

    status: int | None = None
    ack: str | None = None
    attempt: int = 1


@dataclass(slots=True)
class DestinationExpect:
    line: int
    payload_equals_file: Located[Path] | None = None
    payload_contains_json: Located[Any] | None = None
    hl7_fields: list[Located[tuple[str, str | None]]] = field(default_factory=list)
    outcome: Located[str] | None = None


@dataclass(slots=True)
class Case:
    name: str
    line: int
    body: bytes
    responses: dict[str, MockResponse] = field(default_factory=dict)
    ack: Located[str] | None = None
    filtered: Located[bool] | None = None
    error: Located[ErrorExpect] | None = None
    destinations: dict[str, DestinationExpect] = field(default_factory=dict)


@dataclass(slots=True)
class TestFile:
    __test__ = False  # not a pytest class, whatever its name says

    path: str
    channel: str
    cases: list[Case]


def read_test_file(path: str | os.PathLike[str], config: Config) -> TestFile:
    """Read and check one test file against ``config``; raise ConfigErrors listing every problem."""
    file = os.fspath(path)
    try:
        text = Path(file).read_text(encoding="utf-8")
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ConfigErrors([_unreadable(file, exc)]) from exc
    reader = _TestFileReader(file, config)
    result = reader.read(root)
    if reader.errors or result is None:
        raise ConfigErrors(sorted(reader.errors, key=lambda e: (e.line, e.column)))
    return result


def _unreadable(file: str, exc: Exception) -> ConfigError:
    mark = getattr(exc, "problem_mark", None)
    line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    if isinstance(exc, yaml.YAMLError):
        problem = getattr(exc, "problem", None) or "YAML syntax error"
        return ConfigError(problem, file=file, line=line, column=col, code="yaml-syntax")
    return ConfigError(f"cannot read test file ({type(exc).__name__})", file=file, line=1, column=1, code="io")


class _TestFileReader(NodeReader):
    def __init__(self, file: str, config: Config) -> None:
        super().__init__(file)
        self.config = config
        self.base = Path(file).parent
        self.destinations: dict[str, Any] = {}
        self.names: dict[str, int] = {}

    def read(self, root: Node | None) -> TestFile | None:
        pairs = self.mapping(root, _FILE_KEYS, "the test file", required={"channel", "cases"})
        if pairs is None or "channel" not in pairs or "cases" not in pairs:
            return None
        channel = self._channel(*pairs["channel"])
        cases = self.sequence(pairs["cases"][1], "cases")
        if channel is None or cases is None:
            return None
        read = [self._case(node) for node in cases]
        return TestFile(self.file, channel, [c for c in read if c is not None])

    def _channel(self, key: Node, node: Node) -> str | None:
        name = self.text(node, "channel")
        if name is not None and name not in self.config.channels:
            hint = did_you_mean(name, self.config.channels) or f"channels: {', '.join(sorted(self.config.channels))}"
            self.error(node, "unknown-channel", f"the config has no channel {name!r}", hint)
            return None
        if name is not None:
            self.destinations = dict(self.config.channels[name].destinations)
        return name

    def _case(self, node: Node) -> Case | None:
        pairs = self.mapping(node, _CASE_KEYS, "a case", required={"name"})
        if pairs is None:
            return None
        name = self._name(pairs["name"][1]) if "name" in pairs else None
        body = self._input(node, pairs)
        if name is None or body is None:
            return None
        case = Case(name, at(node)[0], body)
        if "destinations" in pairs:
            case.responses = self._responses(pairs["destinations"][1])
        if "expect" in pairs:
            self._expect(pairs["expect"][1], case)
        return case

    def _name(self, node: Node) -> str | None:
        name = self.text(node, "name")
        if name is not None and name in self.names:
            # The name is how a result line points back at its case; two alike would be ambiguous.
            self.error(node, "duplicate-case", f"duplicate case name {name!r}",
                       f"first used at line {self.names[name]}; name each case apart")
        elif name is not None:
            self.names[name] = at(node)[0]
        return name

    def _input(self, node: Node, pairs: dict[str, tuple[Node, Node]]) -> bytes | None:
        if ("file" in pairs) == ("message" in pairs):
            self.error(node, "missing-key", "a case needs exactly one of 'file' or 'message'",
                       "file: fixtures/adt_a01.hl7, or message: | with the text")
            return None
        if "message" in pairs:
            text = self.text(pairs["message"][1], "message")
            return text.encode("utf-8") if text is not None else None
        path = self.existing_file(pairs["file"][1], "file")
        return path.read_bytes() if path is not None else None

    def existing_file(self, node: Node, what: str) -> Path | None:
        name = self.text(node, what)
        if name is None:
            return None
        path = self.base / name
        if not path.is_file():
            self.error(node, "file-not-found", f"{what}: no file {name!r} beside the test file",
                       f"paths are relative to {self.base.as_posix() or '.'}/")
            return None
        return path

    def _responses(self, node: Node) -> dict[str, MockResponse]:
        responses = {}
        for name, (key, value) in (self.mapping(node, None, "destinations") or {}).items():
            if self._known_destination(name, key):
                mock = self._mock(value, name)
                if mock is not None:
                    responses[name] = mock
        return responses

    def _known_destination(self, name: str, key: Node) -> bool:
        if name in self.destinations:
            return True
        hint = did_you_mean(name, self.destinations) or f"destinations: {', '.join(sorted(self.destinations))}"
        self.error(key, "unknown-destination", f"the channel has no destination {name!r}", hint)
        return False

    def _mock(self, node: Node, name: str) -> MockResponse | None:
        pairs = self.mapping(node, _MOCK_KEYS, f"the mocked response of {name}")
        if pairs is None:
            return None
        if "status" in pairs and "ack" in pairs:
            self.error(node, "invalid-value", f"the mocked response of {name} has both status and ack",
                       "status: for an HTTP answer, ack: for an HL7 ACK; keep one")
            return None
        status = self.integer(pairs["status"][1], "status", 100, 599) if "status" in pairs else None
        ack = self.choice(pairs["ack"][1], "ack", MOCK_ACKS) if "ack" in pairs else None
        attempt = self.integer(pairs["attempt"][1], "attempt", 1, 10_000) if "attempt" in pairs else 1
        return MockResponse(status, ack, attempt or 1)

    def _expect(self, node: Node, case: Case) -> None:
        pairs = self.mapping(node, _EXPECT_KEYS, "expect")
        if pairs is None:
            return
        if "ack" in pairs:
            case.ack = self.located(pairs["ack"][1], self.choice(pairs["ack"][1], "ack", ACK_CODES))
        if "filtered" in pairs:
            case.filtered = self.located(pairs["filtered"][1], self.boolean(pairs["filtered"][1], "filtered"))
        if "error" in pairs:
            case.error = self.located(pairs["error"][1], self._error_expect(pairs["error"][1]))
        if "destinations" in pairs:
            for name, (key, value) in (self.mapping(pairs["destinations"][1], None, "destinations") or {}).items():
                if self._known_destination(name, key):
                    case.destinations[name] = self._destination(value, name)

    def _error_expect(self, node: Node) -> ErrorExpect | None:
        if isinstance(node, ScalarNode):  # shorthand: the location alone
            location = self.text(node, "error")
            return ErrorExpect(location=location) if location is not None else None
        pairs = self.mapping(node, _ERROR_KEYS, "error")
        if pairs is None:
            return None
        return ErrorExpect(
            location=self.text(pairs["location"][1], "location") if "location" in pairs else None,
            code=self.integer(pairs["code"][1], "code", 100, 999) if "code" in pairs else None,
            reason=self.text(pairs["reason"][1], "reason") if "reason" in pairs else None)

    def _destination(self, node: Node, name: str) -> DestinationExpect:
        expect = DestinationExpect(at(node)[0])
        pairs = self.mapping(node, _DEST_KEYS, f"destinations.{name}") or {}
        if "payload_equals_file" in pairs:
            value = pairs["payload_equals_file"][1]
            expect.payload_equals_file = self.located(value, self.existing_file(value, "payload_equals_file"))
        if "payload_contains_json" in pairs:
            value = pairs["payload_contains_json"][1]
            expect.payload_contains_json = Located(self.plain(value), at(value)[0])
        if "hl7_fields" in pairs:
            expect.hl7_fields = self._hl7_fields(pairs["hl7_fields"][1])
        if "outcome" in pairs:
            value = pairs["outcome"][1]
            expect.outcome = self.located(value, self.choice(value, "outcome", OUTCOMES))
        return expect

    def _hl7_fields(self, node: Node) -> list[Located[tuple[str, str | None]]]:
        fields = []
        for path, (key, value) in (self.mapping(node, None, "hl7_fields") or {}).items():
            if not valid_hl7_path(path):
                self.error(key, "invalid-value", f"{path!r} is not an HL7 path", "e.g. PID-5.1, PID-3[1].4, OBX[2]-5")
                continue
            wanted = self.plain(value)
            if wanted is not None and not isinstance(wanted, (str, int, float)):
                self.error(value, "bad-type", f"hl7_fields.{path} should be a text value", 'e.g. "DOE"')
                continue
            fields.append(Located((path, None if wanted is None else _as_text(value, wanted)), at(key)[0]))
        return fields

    def located(self, node: Node, value: T | None) -> Located[T] | None:
        return None if value is None else Located(value, at(node)[0])


def _as_text(node: Node, value: Any) -> str:
    # YAML reads 007 or 1.10 as numbers; the field's text is what the analyst typed.
    return node.value if isinstance(node, ScalarNode) and not isinstance(value, str) else str(value)
