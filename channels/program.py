"""A channel's filter and steps, compiled once and run on a message: pure, no I/O.

The engine's channel worker runs it on stored messages; ``hl7bridge test`` runs it offline on
fixture messages.  ``run`` returns the payload to deliver, or None when the filter drops it;
it raises MessageError (ParseError, TransformError) when the message cannot be processed.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import orjson

from hl7bridge.transforms.hl7v2.message import Message
from hl7bridge.transforms.payload import Payload
from hl7bridge.transforms.registry import Step, build_step


def kind_of(content_type: str) -> str:
    if "json" in content_type:
        return "fhir"
    if "xml" in content_type:
        return "ccda"
    return "hl7v2"


class ChannelProgram:
    def __init__(self, spec: Any, config_dir: Path) -> None:
        self.spec = spec
        self.steps: list[Step] = [build_step(s.name, s.options, config_dir) for s in spec.steps]

    def run(self, body: bytes, content_type: str, meta: dict[str, str] | None = None, *,
            run_steps: bool = True) -> Payload | None:
        kind = kind_of(content_type)
        if kind == "hl7v2":
            message = Message.parse(body)
            if not self.passes(message):
                return None
            payload = Payload("hl7v2", message, body, meta or {})
        else:
            payload = Payload(kind, orjson.loads(body) if kind == "fhir" else body, None, meta or {})
        if run_steps:
            for step in self.steps:
                payload = step(payload)
        return payload

    def passes(self, message: Message) -> bool:
        spec = self.spec.filter
        if spec is None:
            return True
        if spec.message_types and not type_matches(message, spec.message_types):
            return False
        return all(condition_holds(message, c) for c in spec.conditions)


def type_matches(message: Message, patterns: list[str]) -> bool:
    mtype, event = message.message_type or "", message.trigger_event or ""
    for pattern in patterns:
        want_type, _, want_event = pattern.partition("^")
        if want_type == mtype and want_event in ("", "*", event):
            return True
    return False


def condition_holds(message: Message, condition: Any) -> bool:
    value = message.get(condition.path)
    if condition.exists is not None:
        return (value not in (None, "")) == condition.exists
    if condition.equals is not None:
        return value == condition.equals
    if condition.not_equals is not None:
        return value != condition.not_equals
    if condition.in_ is not None:
        return value in condition.in_
    if condition.matches is not None:
        return value is not None and re.search(condition.matches, value) is not None
    return True
