"""A lazy, tolerant HL7v2 parse model: Message > Segment > field > repetition > component > subcomponent.

Parsing only cuts the text into segments; a segment's fields are split the first time one is
read, so a 20-OBX ORU whose OBX are never touched costs little more than a ``str.split``.
Values read through ``get`` have their escape sequences resolved; values written through
``set`` are escaped.  ``get_raw`` / ``set_raw`` move ER7 text as is (for copying whole fields).
"""

from __future__ import annotations

from hl7bridge.engine.errors import ParseError
from hl7bridge.transforms.hl7v2.charset import decode_bytes
from hl7bridge.transforms.hl7v2.encoding import Encoding
from hl7bridge.transforms.hl7v2.path import Path, parse_path
from hl7bridge.transforms.hl7v2.segment import Segment, is_segment_name

__all__ = ["Message", "Segment"]

_ENVELOPE = ("FHS", "BHS", "BTS", "FTS")


class Message:
    """One HL7v2 message.  Build with ``Message.parse``."""

    __slots__ = ("encoding", "_segments", "_index")

    def __init__(self, segments: list[Segment], encoding: Encoding) -> None:
        self.encoding = encoding
        self._segments = segments
        self._index: dict[str, list[Segment]] | None = None

    # -- parsing ------------------------------------------------------------------------------

    @classmethod
    def parse(cls, data: str | bytes, *, require_header: bool = True) -> "Message":
        """Parse ER7 text or bytes.

        Accepts a byte-order mark, CR / LF / CRLF segment ends, a missing final CR, MLLP framing
        bytes, batch envelope segments around a single message, and any encoding characters.
        Raises ParseError (HL7 table 0357 code 100 / 101 / 102) naming the position, never a value.
        With ``require_header`` (default) MSH-9 must be valued.
        """
        text = decode_bytes(data) if isinstance(data, (bytes, bytearray, memoryview)) else data
        if not isinstance(text, str):
            raise ParseError(f"expected str or bytes, got {type(data).__name__}", location="MSH", hl7_code=100)
        lines = _split_lines(text)
        while lines and lines[0][:3] in _ENVELOPE:
            lines.pop(0)
        while lines and lines[-1][:3] in _ENVELOPE:
            lines.pop()
        if not lines or not lines[0].startswith("MSH"):
            raise ParseError("message does not start with an MSH segment", location="MSH", hl7_code=100)
        encoding = _read_encoding(lines[0])
        message = cls(_build_segments(lines, encoding), encoding)
        if require_header and not message.get_raw("MSH-9"):
            raise ParseError("required field MSH-9 (message type) is empty", location="MSH-9", hl7_code=101)
        return message

    # -- segments -----------------------------------------------------------------------------

    def segments(self, name: str | None = None) -> list[Segment]:
        """Segments named ``name`` in message order (all segments when ``name`` is None)."""
        if name is None:
            return list(self._segments)
        return list(self._by_name().get(name, ()))

    def segment(self, name: str, index: int = 1) -> Segment | None:
        """The ``index``-th (1-based) segment named ``name``, or None."""
        found = self._by_name().get(name)
        return found[index - 1] if found and 0 < index <= len(found) else None

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self._segments)

    def __len__(self) -> int:
        return len(self._segments)

    def _by_name(self) -> dict[str, list[Segment]]:
        if self._index is None:
            index: dict[str, list[Segment]] = {}
            for seg in self._segments:
                index.setdefault(seg.name, []).append(seg)
            self._index = index
        return self._index

    def add_segment(self, name: str) -> Segment:
        """Append an empty segment ``name`` after the last segment of that name (or at the end)."""
        if not is_segment_name(name):
            raise ValueError(f"invalid segment name {name!r}: expected three upper-case letters or digits")
        seg = Segment(name, self.encoding)
        same = self._by_name().get(name)
        where = self._segments.index(same[-1]) + 1 if same else len(self._segments)
        self._segments.insert(where, seg)
        self._index = None
        return seg

    # -- values -------------------------------------------------------------------------------

    def get(self, path: str) -> str | None:
        """Decoded value at ``path`` (e.g. ``PID-3[1].4``); None when absent or empty."""
        p = parse_path(path)
        seg = self.segment(p.segment, p.segment_index)
        return seg.value(p.field, p.repetition, p.component, p.subcomponent) if seg else None

    def get_raw(self, path: str) -> str | None:
        """ER7 text at ``path`` with escapes and inner delimiters kept; None when absent or empty."""
        p = parse_path(path)
        seg = self.segment(p.segment, p.segment_index)
        return seg.value(p.field, p.repetition, p.component, p.subcomponent, decode=False) if seg else None

    def set(self, path: str, value: str) -> None:
        """Write a plain value at ``path`` (escaped), creating missing fields, components and segments."""
        self.set_raw(path, self.encoding.escape(value))

    def set_raw(self, path: str, er7: str) -> None:
        """Write ER7 text at ``path`` unchanged (it may carry delimiters, e.g. a whole copied field)."""
        p = parse_path(path)
        if p.segment == "MSH" and p.field in (1, 2):
            raise ValueError(f"{p}: the encoding characters cannot be changed")
        self._segment_for_write(p).set_value(p.field, p.repetition, p.component, p.subcomponent, er7)

    def _segment_for_write(self, p: Path) -> Segment:
        seg = self.segment(p.segment, p.segment_index)
        if seg is not None:
            return seg
        count = len(self._by_name().get(p.segment, ()))
        if p.segment_index != count + 1:
            raise ValueError(f"{p}: cannot create segment {p.segment} number {p.segment_index}; "
                             f"the message has {count}")
        return self.add_segment(p.segment)

    def to_er7(self) -> str:
        """The message as ER7 text with CR segment ends (and a final CR)."""
        return "\r".join(seg.raw for seg in self._segments) + "\r"

    # -- header shortcuts ---------------------------------------------------------------------

    @property
    def message_type(self) -> str | None:
        """MSH-9.1, e.g. ``ADT``."""
        return self.get("MSH-9.1")

    @property
    def trigger_event(self) -> str | None:
        """MSH-9.2, e.g. ``A01``."""
        return self.get("MSH-9.2")

    @property
    def control_id(self) -> str | None:
        """MSH-10."""
        return self.get("MSH-10")

    @property
    def version(self) -> str | None:
        """MSH-12.1, e.g. ``2.5.1``."""
        return self.get("MSH-12.1")


def _split_lines(text: str) -> list[str]:
    text = text.lstrip("\ufeff\x0b \t\r\n").rstrip("\x1c\x0b\r\n")
    if "\n" in text:
        text = text.replace("\r\n", "\r").replace("\n", "\r")
    return [line for line in text.split("\r") if line.strip()]


def _read_encoding(msh: str) -> Encoding:
    if len(msh) < 5:
        raise ParseError("MSH segment too short for its encoding characters", location="MSH-2", hl7_code=101)
    field_sep = msh[3]
    if field_sep.isalnum() or field_sep.isspace():
        raise ParseError("field separator must be a non-alphanumeric character", location="MSH-1", hl7_code=102)
    msh2 = msh[4:].split(field_sep, 1)[0]
    if msh2.count("\\") == 2 and "\\\\" in msh2:
        # "^~\\\\&" (escape character doubled) comes from messages pasted out of source-code strings.
        msh2 = msh2.replace("\\\\", "\\", 1)
    if not 1 <= len(msh2) <= 5:
        raise ParseError("encoding characters must be 1 to 5 characters", location="MSH-2", hl7_code=102)
    if len(set(msh2 + field_sep)) != len(msh2) + 1 or any(c.isalnum() or c.isspace() for c in msh2):
        raise ParseError("encoding characters must be distinct non-alphanumeric characters",
                         location="MSH-2", hl7_code=102)
    return Encoding.from_msh2(field_sep, msh2)


def _build_segments(lines: list[str], encoding: Encoding) -> list[Segment]:
    segments: list[Segment] = []
    field_sep = encoding.field
    continuation = f"{encoding.escape_char}.br{encoding.escape_char}"
    for line in lines:
        name = line[:3]
        if is_segment_name(name) and (len(line) == 3 or line[3] == field_sep):
            segments.append(Segment(name, encoding, line))
        else:
            # A bare line break inside a field (common in text reports) split the segment:
            # join it back as an escaped line break so the text is kept.
            segments[-1].append_text(continuation + line)
    return segments
