"""One HL7v2 segment whose fields are split only when first read."""

from __future__ import annotations

from hl7bridge.transforms.hl7v2.encoding import Encoding

__all__ = ["Segment", "is_segment_name"]


def is_segment_name(name: str) -> bool:
    """Three characters, upper-case letters or digits, starting with a letter (``PID``, ``ZPI``, ``IN1``)."""
    return len(name) == 3 and name[0].isalpha() and name.isupper() and name.isalnum() and name.isascii()


class Segment:
    """A segment.  ``field(n)`` is field n's ER7 text (1-based, HL7 numbering: MSH-1 is the field separator)."""

    __slots__ = ("name", "encoding", "_raw", "_fields")

    def __init__(self, name: str, encoding: Encoding, raw: str | None = None) -> None:
        self.name = name
        self.encoding = encoding
        self._raw = raw if raw is not None else name
        self._fields: list[str] | None = None

    def __repr__(self) -> str:
        # Never the content: reprs end up in logs and tracebacks.
        return f"<Segment {self.name} fields={len(self) - 1}>"

    @property
    def fields(self) -> list[str]:
        """Fields as ER7 text; index 0 is the segment name, index n is field n."""
        if self._fields is None:
            parts = self._raw.split(self.encoding.field)
            if self.name == "MSH":
                parts.insert(1, self.encoding.field)
            self._fields = parts
        return self._fields

    @property
    def raw(self) -> str:
        """The segment as ER7 text (rebuilt after a write)."""
        if self._raw is None:
            fields = self.fields
            sep = self.encoding.field
            if self.name == "MSH":
                self._raw = "MSH" + sep + sep.join(fields[2:])
            else:
                self._raw = sep.join(fields)
        return self._raw

    def __len__(self) -> int:
        return len(self.fields)

    def field(self, number: int) -> str:
        """ER7 text of field ``number`` ('' when absent)."""
        fields = self._fields
        if fields is None:
            fields = self.fields
        return fields[number] if number < len(fields) else ""

    def append_text(self, text: str) -> None:
        """Append text to the end of the segment (used to re-join a wrapped line)."""
        self._raw = self.raw + text
        self._fields = None

    def value(
        self,
        field: int,
        repetition: int | None = None,
        component: int | None = None,
        subcomponent: int | None = None,
        *,
        decode: bool = True,
    ) -> str | None:
        """Value at the given position (1-based); None when absent or empty.

        Without repetition and component the whole field is returned; with a component but no
        repetition, the first repetition is used.  The encoding characters (MSH-2) are returned as
        written.
        """
        text = self.field(field)
        if not text:
            return None
        if self.name == "MSH" and field <= 2:
            return text
        enc = self.encoding
        if repetition is not None or component is not None:
            text = _pick(text, enc.repetition, repetition or 1)
            if component is not None:
                text = _pick(text, enc.component, component)
                if subcomponent is not None:
                    text = _pick(text, enc.subcomponent, subcomponent)
        if not text:
            return None
        return enc.unescape(text) if decode else text

    def set_value(
        self,
        field: int,
        repetition: int | None,
        component: int | None,
        subcomponent: int | None,
        er7: str,
    ) -> None:
        """Write ER7 text at the position, padding with empty fields / repetitions / components."""
        fields = self.fields
        if len(fields) <= field:
            fields.extend([""] * (field + 1 - len(fields)))
        if repetition is None and component is None:
            fields[field] = er7
        else:
            enc = self.encoding
            levels = [(enc.repetition, repetition or 1)]
            if component is not None:
                levels.append((enc.component, component))
                if subcomponent is not None:
                    levels.append((enc.subcomponent, subcomponent))
            fields[field] = _replace(fields[field], levels, er7)
        self._raw = None


def _pick(text: str, sep: str, index: int) -> str:
    if sep not in text:
        return text if index == 1 else ""
    parts = text.split(sep)
    return parts[index - 1] if index <= len(parts) else ""


def _replace(text: str, levels: list[tuple[str, int]], er7: str) -> str:
    sep, index = levels[0]
    parts = text.split(sep)
    if len(parts) < index:
        parts.extend([""] * (index - len(parts)))
    parts[index - 1] = _replace(parts[index - 1], levels[1:], er7) if len(levels) > 1 else er7
    return sep.join(parts)
