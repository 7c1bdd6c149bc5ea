"""Split HL7v2 batch files (FHS / BHS ... BTS / FTS envelopes) into single messages."""

from __future__ import annotations

from hl7bridge.engine.errors import ParseError
from hl7bridge.transforms.hl7v2.charset import decode_bytes

__all__ = ["split_batch"]

_ENVELOPE = frozenset(("FHS", "BHS", "BTS", "FTS"))


def split_batch(data: str | bytes) -> list[str]:
    """Messages of a batch (or of a plain stream of messages) as ER7 text with CR segment ends.

    Envelope segments are dropped; each MSH starts a new message.  A segment other than an
    envelope segment before the first MSH raises ParseError (code 100) naming its line number.
    Empty input gives an empty list.
    """
    text = decode_bytes(data) if isinstance(data, (bytes, bytearray, memoryview)) else data
    text = text.lstrip("\ufeff").replace("\r\n", "\r").replace("\n", "\r")
    messages: list[list[str]] = []
    for number, line in enumerate(text.split("\r"), start=1):
        stripped = line.strip("\x0b\x1c")
        if not stripped.strip():
            continue
        name = stripped[:3]
        if name in _ENVELOPE:
            continue
        if name == "MSH":
            messages.append([stripped])
        elif messages:
            messages[-1].append(stripped)
        else:
            raise ParseError(f"segment {name[:3].isalnum() and name or '?'} before the first MSH",
                             location=f"line {number}", hl7_code=100)
    return ["\r".join(segments) + "\r" for segments in messages]
