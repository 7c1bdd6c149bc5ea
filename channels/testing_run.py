"""Running one test case through a channel offline, and checking its expectations.

What the engine would do, without its I/O: intake's ACK (``acks.read_header`` / ``build_ack``),
the channel's filter and steps (``ChannelProgram``), and what each destination's mocked answer
means under the retry rules (``retry.http_outcome`` / ``ack_outcome``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from hl7bridge.channels.program import ChannelProgram
from hl7bridge.channels.testing_match import contains, diff, file_lines, json_text, payload_lines, project
from hl7bridge.channels.testing_spec import Case, DestinationExpect, ErrorExpect, MockResponse
from hl7bridge.engine.acks import build_ack, read_header, split_segments
from hl7bridge.engine.errors import MessageError, ParseError
from hl7bridge.engine.retry import ack_outcome, http_outcome
from hl7bridge.transforms.hl7v2.message import Message
from hl7bridge.transforms.payload import CONTENT_TYPES, Payload

__all__ = ["CaseResult", "ChannelUnderTest", "Failure", "check", "delivery_outcome"]


@dataclass(slots=True)
class CaseResult:
    """What happened to a case's message. ``ack`` is None when the source is not HL7v2."""

    ack: str | None = None
    error: MessageError | None = None
    crashed: str | None = None  # type name of an exception that is not a MessageError
    filtered: bool = False
    payload: Payload | None = None
    outcomes: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class Failure:
    line: int
    what: str
    diff: list[str]


def delivery_outcome(destination: Any, mock: MockResponse | None) -> str:
    """delivered, retry or dead_letter for a destination answering ``mock`` (None: success)."""
    if mock is None or (mock.status is None and mock.ack is None):
        return "delivered"
    if mock.status is not None:
        result = http_outcome(mock.status)
    else:
        result = ack_outcome(mock.ack or "", destination.ack_rules if destination.type == "mllp" else None)
    if result == "retry" and mock.attempt >= destination.retry.max_attempts:
        return "dead_letter"  # the engine's last attempt: no retry left
    return "delivered" if result == "success" else result


class ChannelUnderTest:
    def __init__(self, name: str, spec: Any, config_dir: Path) -> None:
        self.name, self.spec = name, spec
        self.program = ChannelProgram(spec, config_dir)
        source = spec.source
        self.kind = "hl7v2" if source.type == "mllp" else source.format
        self.allowed_versions = frozenset(source.allowed_versions) if source.type == "mllp" else None

    def run(self, case: Case, index: int) -> CaseResult:
        result = CaseResult()
        if self.kind == "hl7v2" and not self._intake(case.body, result):
            return result
        meta = {"message_id": f"test-{index}", "channel": self.name, "correlation_id": f"test-{index}"}
        try:
            result.payload = self.program.run(case.body, CONTENT_TYPES[self.kind], meta)
        except MessageError as exc:
            result.error = exc
        except orjson.JSONDecodeError as exc:  # an HTTP source would have refused it with a 400
            result.error = ParseError(f"input cannot be read as {self.kind} JSON (at byte {exc.pos})")
        except Exception as exc:  # a step's bug: the engine would not survive it either
            result.crashed = type(exc).__name__
        result.filtered = result.payload is None and result.error is None and result.crashed is None
        if result.payload is not None:
            result.outcomes = {name: delivery_outcome(dest, case.responses.get(name))
                               for name, dest in self.spec.destinations.items() if dest.enabled}
        return result

    def _intake(self, body: bytes, result: CaseResult) -> bool:
        """The ACK intake would send; False when intake rejects the message (no channel work)."""
        try:
            header, error = read_header(body, self.allowed_versions), None
        except ParseError as exc:
            header, error = getattr(exc, "header", None), exc
        ack = build_ack(header, "accept" if error is None else "reject", ack_control_id="TEST", error=error)
        wanted = header is None or header.wants_ack(error is None)
        result.ack = _msa_code(ack) if wanted else "none"
        result.error = error
        return error is None


def _msa_code(ack: bytes) -> str:
    text = ack.decode("utf-8")
    for segment in split_segments(text):
        if segment.startswith("MSA"):
            return segment.split(text[3])[1]
    return ""


def check(case: Case, result: CaseResult) -> list[Failure]:
    """Every expectation of ``case`` that ``result`` does not meet, in file order."""
    failures = _problems(case, result)
    if case.ack is not None and case.ack.value != result.ack:
        actual = result.ack or "no ACK: the channel's source does not take HL7v2"
        failures.append(Failure(case.ack.line, "ack", diff([case.ack.value], [actual])))
    errored = result.error is not None or result.crashed is not None
    if case.filtered is not None and (errored or case.filtered.value != result.filtered):
        failures.append(Failure(case.filtered.line, "filtered",
                                diff([f"filtered: {str(case.filtered.value).lower()}"], [_fate(result)])))
    if case.error is not None:
        failures += _error_failures(case.error.value, case.error.line, result)
    for name, expect in case.destinations.items():
        failures += _destination_failures(name, expect, result)
    return sorted(failures, key=lambda f: f.line)


def _problems(case: Case, result: CaseResult) -> list[Failure]:
    if result.crashed is not None:
        return [Failure(case.line, "a step failed", diff(["no exception"], [f"{result.crashed} raised in a step"]))]
    if result.error is not None and case.error is None:
        return [Failure(case.line, "unexpected error (add expect: error: ... if it is meant)",
                        diff(["no error"], _error_lines(result.error, _EVERY_ERROR_KEY)))]
    return []


_EVERY_ERROR_KEY = ErrorExpect("", 0, "")  # every key given: _error_lines shows them all


def _fate(result: CaseResult) -> str:
    if result.error is not None or result.crashed is not None:
        return "errored (neither filtered nor passed)"
    return f"filtered: {str(result.filtered).lower()}"


def _error_lines(error: MessageError, keys: ErrorExpect) -> list[str]:
    lines = []
    if keys.location is not None:
        lines.append(f"location: {error.location or '(none)'}")
    if keys.code is not None:
        lines.append(f"code: {error.hl7_code}")
    if keys.reason is not None:
        lines.append(f"reason: {error.reason}")
    return lines


def _error_failures(expected: ErrorExpect, line: int, result: CaseResult) -> list[Failure]:
    error = result.error
    wanted = _error_lines(MessageError(expected.reason or "", location=expected.location,
                                       hl7_code=expected.code), expected)
    if error is None:
        return [Failure(line, "error", diff(wanted or ["an error"], [_fate(result)]))]
    ok = (expected.location in (None, error.location) and expected.code in (None, error.hl7_code)
          and (expected.reason is None or expected.reason.lower() in error.reason.lower()))
    return [] if ok else [Failure(line, "error", diff(wanted, _error_lines(error, expected)))]


def _destination_failures(name: str, expect: DestinationExpect, result: CaseResult) -> list[Failure]:
    where = f"destinations.{name}"
    if name not in result.outcomes:
        why = "destination is disabled" if result.payload is not None else _fate(result)
        return [Failure(expect.line, where, diff([f"a delivery to {name}"], [f"no delivery: {why}"]))]
    payload = result.payload
    assert payload is not None  # outcomes exist only for a payload
    failures = []
    if expect.outcome is not None and expect.outcome.value != result.outcomes[name]:
        failures.append(Failure(expect.outcome.line, f"{where}.outcome",
                                diff([expect.outcome.value], [result.outcomes[name]])))
    if expect.payload_equals_file is not None:
        wanted = file_lines(expect.payload_equals_file.value.read_bytes(), payload.kind)
        if wanted != payload_lines(payload):
            failures.append(Failure(expect.payload_equals_file.line, f"{where}.payload_equals_file",
                                    diff(wanted, payload_lines(payload))))
    if expect.payload_contains_json is not None:
        wanted_json = expect.payload_contains_json
        failures += _json_failures(where, wanted_json.value, wanted_json.line, payload)
    for field_expect in expect.hl7_fields:
        failures += _field_failures(where, field_expect.value, field_expect.line, payload)
    return failures


def _json_failures(where: str, expected: Any, line: int, payload: Payload) -> list[Failure]:
    what = f"{where}.payload_contains_json"
    if payload.kind != "fhir":
        return [Failure(line, what, diff(["a JSON payload"], [f"a {payload.kind} payload"]))]
    if contains(payload.data, expected):
        return []
    return [Failure(line, what, diff(json_text(expected).splitlines(),
                                     json_text(project(payload.data, expected)).splitlines()))]


def _field_failures(where: str, expected: tuple[str, str | None], line: int, payload: Payload) -> list[Failure]:
    path, value = expected
    what = f"{where}.hl7_fields.{path}"
    if payload.kind != "hl7v2":
        return [Failure(line, what, diff(["an HL7v2 payload"], [f"a {payload.kind} payload"]))]
    message: Message = payload.data
    actual = message.get(path)
    if actual == value:
        return []
    return [Failure(line, what, diff([f"{path}: {_shown(value)}"], [f"{path}: {_shown(actual)}"]))]


def _shown(value: str | None) -> str:
    return "(empty)" if value is None else value
