"""ER7 writing for fhir_to_hl7v2: escaped leaves, components, repetitions, segments, versions.

Every plain value goes through ``Encoding.escape`` here and nowhere else, so a ``|`` or ``^``
inside a name can never break the message structure (it becomes ``\\F\\`` / ``\\S\\``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from hl7bridge.engine.errors import TransformError
from hl7bridge.transforms.hl7v2.encoding import DEFAULT

__all__ = ["Version", "SUPPORTED_VERSIONS", "SegmentOut", "comps", "reps", "dtm", "esc"]

SUPPORTED_VERSIONS = ("2.3", "2.3.1", "2.4", "2.5", "2.5.1")

Part = str | Sequence[str] | None
"""One component: plain text, or a sequence of plain subcomponents, or None (empty)."""


class Version:
    """An HL7 v2 version with the feature questions the segment writers ask."""

    __slots__ = ("text", "key")

    def __init__(self, text: str) -> None:
        if text not in SUPPORTED_VERSIONS:
            raise TransformError(f"HL7 version must be one of {', '.join(SUPPORTED_VERSIONS)}",
                                 location="fhir_to_hl7v2.version")
        self.text = text
        self.key = tuple(int(p) for p in text.split("."))

    def at_least(self, text: str) -> bool:
        return self.key >= tuple(int(p) for p in text.split("."))

    # Facts from the HL7 v2.3-2.5.1 datatype and segment definitions (checked against hl7apy's tables).
    @property
    def message_structure(self) -> bool:
        """MSH-9.3 (message structure) exists from 2.3.1."""
        return self.at_least("2.3.1")

    @property
    def cx_dates(self) -> bool:
        """CX-7 / CX-8 (effective / expiration date) exist from 2.4."""
        return self.at_least("2.4")

    @property
    def xpn_professional_suffix(self) -> bool:
        """XPN-14 exists from 2.5."""
        return self.at_least("2.5")

    @property
    def obx_analysis_time(self) -> bool:
        """OBX-19 (date/time of the analysis) exists from 2.4."""
        return self.at_least("2.4")

    @property
    def coded_demographics(self) -> bool:
        """PID-10 / PID-16 / PID-22 are IS (a bare code) in 2.3 and CE from 2.3.1."""
        return self.at_least("2.3.1")

    @property
    def coded_value_type(self) -> str:
        """OBX-2 for a coded result: CE before 2.5, CWE from 2.5."""
        return "CWE" if self.at_least("2.5") else "CE"

    @property
    def charset_utf8(self) -> str:
        """HL7 table 0211 name for UTF-8 ("UNICODE UTF-8" from 2.5, "UNICODE" before)."""
        return "UNICODE UTF-8" if self.at_least("2.5") else "UNICODE"


_NEEDS_ESCAPE = re.compile(r"[|^~\\&\r\n]")


def esc(text: str) -> str:
    """Escape one plain leaf value (most values need nothing: checked with one regex scan)."""
    return DEFAULT.escape(text) if _NEEDS_ESCAPE.search(text) else text


def comps(*parts: Part) -> str:
    """Join components (escaping each leaf) and drop the empty tail."""
    out: list[str] = []
    for part in parts:
        if part is None or part == "":
            out.append("")
        elif isinstance(part, str):
            out.append(esc(part))
        else:
            out.append("&".join(esc(s or "") for s in part).rstrip("&"))
    return "^".join(out).rstrip("^")


def reps(items: Iterable[str | None]) -> str:
    """Join non-empty repetitions of one field."""
    return "~".join(i for i in items if i)


class SegmentOut:
    """A segment being written: field number -> ER7 text (already escaped)."""

    __slots__ = ("name", "fields")

    def __init__(self, name: str) -> None:
        self.name = name
        self.fields: dict[int, str] = {}

    def __setitem__(self, number: int, er7: str | None) -> None:
        if er7:
            self.fields[number] = er7

    def __getitem__(self, number: int) -> str:
        return self.fields.get(number, "")

    def er7(self) -> str:
        last = max(self.fields, default=0)
        values = [self.fields.get(i, "") for i in range(1, last + 1)]
        if self.name == "MSH":
            # MSH-1 is the field separator itself; MSH-2 the encoding characters.
            return "MSH|" + "|".join(values[1:])
        return "|".join([self.name] + values)


_FHIR_DATETIME = re.compile(
    r"^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?(Z|[+-]\d{2}:\d{2})?)?)?)?$")


def dtm(value: object, loc: str) -> str:
    """FHIR date / dateTime / instant -> HL7 DTM (TS) at the same precision; '' when absent."""
    if value is None or value == "":
        return ""
    match = _FHIR_DATETIME.match(value) if isinstance(value, str) else None
    if match is None:
        raise TransformError("not a valid FHIR date or dateTime", location=loc)
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    text = year + (month or "") + (day or "") + (hour or "") + (minute or "") + (second or "")
    if fraction:
        text += "." + fraction[:4]  # TS allows at most four fractional digits
    if zone:
        text += "+0000" if zone == "Z" else zone.replace(":", "")
    return text
