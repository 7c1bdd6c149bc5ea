"""One repetition of an HL7v2 field, split into components on demand."""

from __future__ import annotations

from hl7bridge.transforms.hl7v2.encoding import Encoding

__all__ = ["Comps", "leaf_text"]


def leaf_text(raw: str, enc: Encoding) -> str:
    """A component's first subcomponent, unescaped and stripped ('' for empty or the HL7 null)."""
    if not raw:
        return ""
    sub = enc.subcomponent
    if sub in raw:
        raw = raw.split(sub, 1)[0]
    if raw == '""':
        return ""
    # Surrounding blanks are padding in real feeds, never part of a code or an id.
    return (enc.unescape(raw) if enc.escape_char in raw else raw).strip()


class Comps:
    """Components of one repetition; ``c(i)`` is component i's decoded text (first subcomponent)."""

    __slots__ = ("parts", "enc", "_seen")

    def __init__(self, text: str, enc: Encoding) -> None:
        self.parts = text.split(enc.component)
        self.enc = enc
        self._seen: dict[int, str] = {}  # mappers read the same component several times

    def c(self, i: int) -> str:
        seen = self._seen.get(i)
        if seen is not None:
            return seen
        parts = self.parts
        value = leaf_text(parts[i - 1], self.enc) if i <= len(parts) else ""
        self._seen[i] = value
        return value

    def subs(self, i: int) -> list[str]:
        """Subcomponents of component i, decoded."""
        parts = self.parts
        if i > len(parts) or not parts[i - 1]:
            return []
        return [self.enc.unescape(s) for s in parts[i - 1].split(self.enc.subcomponent)]
