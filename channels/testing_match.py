"""Comparing what a channel produced with what a test expects, and showing the difference.

Pure functions: a JSON subset match (with the projection of the actual value onto the expected
shape, so a diff shows only what the analyst asked about), text forms of each payload kind,
and the unified diff printed under a failing expectation.
"""

from __future__ import annotations

import difflib
from typing import Any

import orjson

from hl7bridge.engine.acks import split_segments
from hl7bridge.transforms.payload import Payload

__all__ = ["contains", "diff", "json_text", "payload_lines", "project", "file_lines"]


def contains(actual: Any, expected: Any) -> bool:
    """True when ``expected`` is a subset of ``actual``: every key of a mapping matches, and every
    item of a list matches some item of the actual list (in any order); other values are equal."""
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(k in actual and contains(actual[k], v) for k, v in expected.items())
    if isinstance(expected, list):
        return isinstance(actual, list) and all(any(contains(a, e) for a in actual) for e in expected)
    if isinstance(expected, bool) or isinstance(actual, bool):
        return expected is actual
    return expected == actual


def project(actual: Any, expected: Any) -> Any:
    """``actual`` cut down to the shape of ``expected``; where they differ, the diff shows why."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        return {k: project(actual[k], v) for k, v in expected.items() if k in actual}
    if isinstance(expected, list) and isinstance(actual, list):
        return [project(_closest(actual, item), item) for item in expected if actual]
    return actual


def _closest(items: list[Any], expected: Any) -> Any:
    """The item that contains ``expected``, else the one sharing the most of it."""
    for item in items:
        if contains(item, expected):
            return item
    return max(items, key=lambda item: _score(item, expected))


def _score(actual: Any, expected: Any) -> int:
    if isinstance(expected, dict) and isinstance(actual, dict):
        return sum(_score(actual[k], v) for k, v in expected.items() if k in actual)
    if isinstance(expected, list) and isinstance(actual, list):
        return sum(max((_score(a, e) for a in actual), default=0) for e in expected)
    return 1 if contains(actual, expected) else 0


def json_text(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS).decode()


def payload_lines(payload: Payload) -> list[str]:
    """The payload as lines to compare: HL7v2 segments, indented sorted JSON, or document lines."""
    if payload.kind == "hl7v2":
        return split_segments(payload.to_bytes().decode("utf-8"))
    if payload.kind == "fhir":
        return json_text(payload.data).splitlines()
    return payload.to_bytes().decode("utf-8", errors="replace").splitlines()


def file_lines(data: bytes, kind: str) -> list[str]:
    """An expected-payload file as the same kind of lines (CR or LF segment ends alike)."""
    text = data.decode("utf-8-sig", errors="replace")
    if kind == "hl7v2":
        return split_segments(text)
    if kind == "fhir":
        try:
            return json_text(orjson.loads(data)).splitlines()
        except orjson.JSONDecodeError:
            return text.splitlines()
    return text.splitlines()


def diff(expected: list[str], actual: list[str]) -> list[str]:
    """A unified diff, expected first; never empty for different inputs."""
    lines = list(difflib.unified_diff(expected, actual, "expected", "actual", lineterm="", n=2))
    return lines or ["--- expected", "+++ actual"]
