"""What a channel's steps pass along: the working payload and what it came from."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

CONTENT_TYPES = {"hl7v2": "x-application/hl7-v2+er7", "fhir": "application/fhir+json", "ccda": "application/xml"}
EXTENSIONS = {"hl7v2": "hl7", "fhir": "json", "ccda": "xml"}


@dataclass(slots=True)
class Payload:
    """``kind`` is 'hl7v2' (``data`` a transforms.hl7v2.message.Message), 'fhir' (a dict) or 'ccda' (bytes).

    ``original`` is the received message, parsed, for mapping code that needs source fields after
    a conversion or a change (parsed on first use: most channels never ask); ``meta`` carries ids
    (message_id, channel, correlation_id), never content.
    """

    kind: str
    data: Any
    source: bytes | None = None  # the received bytes, from which ``original`` is parsed
    meta: dict[str, str] = field(default_factory=dict)
    _original: Any = None

    @property
    def original(self) -> Any:
        if self._original is None and self.source is not None:
            from hl7bridge.transforms.hl7v2.message import Message

            self._original = Message.parse(self.source)
        return self._original

    def to_bytes(self) -> bytes:
        if self.kind == "hl7v2":
            return self.data.to_er7().encode("utf-8")
        if self.kind == "fhir":
            return orjson.dumps(self.data)
        return self.data if isinstance(self.data, bytes) else str(self.data).encode("utf-8")

    @property
    def content_type(self) -> str:
        return CONTENT_TYPES[self.kind]
