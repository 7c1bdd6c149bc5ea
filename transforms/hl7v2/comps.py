"""One repetition of an HL7v2 field, split into components on demand."""

from __future__ import annotations

from hl7bridge.transforms.hl7v2.encoding import Encoding

__all__ = ["Comps"]


class Comps:
    """Components of one repetition; ``c(i)`` is component i's decoded text (first subcomponent)."""

    __slots__ = ("parts", "enc")

    def __init__(self, text: str, enc: Encoding) -> None:
        self.parts = text.split(enc.component)
        self.enc = enc

    def c(self, i: int) -> str:
        parts = self.parts
        if i > len(parts):
            return ""
        raw = parts[i - 1]
        if not raw:
            return ""
        sub = self.enc.subcomponent
        if sub in raw:
            raw = raw.split(sub, 1)[0]
        if raw == '""':
            return ""
        # Surrounding blanks are padding in real feeds, never part of a code or an id.
        return (self.enc.unescape(raw) if self.enc.escape_char in raw else raw).strip()

    def subs(self, i: int) -> list[str]:
        """Subcomponents of component i, decoded."""
        parts = self.parts
        if i > len(parts) or not parts[i - 1]:
            return []
        return [self.enc.unescape(s) for s in parts[i - 1].split(self.enc.subcomponent)]
