"""HL7v2 encoding characters and escape sequences (HL7 v2.x chapter 2, "Escape sequences").

An ``Encoding`` carries the delimiters a message declared in MSH-1 and MSH-2; ``unescape``
resolves escape sequences in leaf text and ``escape`` is its inverse for values we write.
"""

from __future__ import annotations

import binascii

__all__ = ["Encoding", "DEFAULT"]


class Encoding:
    """The delimiters of one message: field, component, repetition, escape, subcomponent, truncation."""

    __slots__ = ("field", "component", "repetition", "escape_char", "subcomponent", "truncation", "_decode_map")

    def __init__(
        self,
        field: str = "|",
        component: str = "^",
        repetition: str = "~",
        escape_char: str = "\\",
        subcomponent: str = "&",
        truncation: str = "",
    ) -> None:
        self.field = field
        self.component = component
        self.repetition = repetition
        self.escape_char = escape_char
        self.subcomponent = subcomponent
        self.truncation = truncation
        self._decode_map = {
            "F": field, "S": component, "R": repetition, "E": escape_char, "T": subcomponent,
            "P": truncation, ".br": "\n", ".sp": "\n", "H": "", "N": "",
        }

    @classmethod
    def from_msh2(cls, field: str, msh2: str) -> "Encoding":
        """Build from MSH-1 and MSH-2 text; missing characters fall back to the HL7 defaults."""
        defaults = "^~\\&"
        chars = [msh2[i] if i < len(msh2) else defaults[i] for i in range(4)]
        return cls(field, chars[0], chars[1], chars[2], chars[3], msh2[4] if len(msh2) > 4 else "")

    def delimiters(self) -> str:
        """Every character with a structural meaning, in MSH-1 + MSH-2 order."""
        return self.field + self.component + self.repetition + self.escape_char + self.subcomponent + self.truncation

    def unescape(self, text: str) -> str:
        """Resolve escape sequences; unknown or unterminated sequences are kept as written."""
        esc = self.escape_char
        if not esc or esc not in text:
            return text
        out: list[str] = []
        pos = 0
        while True:
            start = text.find(esc, pos)
            if start < 0:
                out.append(text[pos:])
                return "".join(out)
            end = text.find(esc, start + 1)
            if end < 0:
                out.append(text[pos:])
                return "".join(out)
            out.append(text[pos:start])
            out.append(self._resolve(text[start + 1:end], text[start:end + 1]))
            pos = end + 1

    def _resolve(self, code: str, written: str) -> str:
        mapped = self._decode_map.get(code)
        if mapped is not None:
            return mapped
        head = code[:1]
        if head == "X":
            return _hex_text(code[1:], written)
        if head in ("C", "M", "Z") or code.startswith((".in", ".ti", ".sk", ".ce", ".fi", ".nf")):
            # Character-set switches and formatting hints carry no text of their own.
            return ""
        return written

    def escape(self, text: str) -> str:
        """Encode a plain value so it can sit in one leaf of this message."""
        text = text.replace("\r\n", "\n").replace("\r", "\n")
        esc = self.escape_char
        pairs = [(esc, "E"), (self.field, "F"), (self.component, "S"), (self.repetition, "R"),
                 (self.subcomponent, "T"), (self.truncation, "P")]
        if not any(ch and ch in text for ch, _ in pairs) and "\n" not in text:
            return text
        table = {ord(ch): f"{esc}{code}{esc}" for ch, code in pairs if ch}
        table[ord("\n")] = f"{esc}.br{esc}"
        return text.translate(table)


def _hex_text(digits: str, written: str) -> str:
    """Decode a \\Xhh..\\ sequence as UTF-8 (Latin-1 when not UTF-8); keep it as written if not hex."""
    try:
        raw = binascii.unhexlify(digits)
    except (binascii.Error, ValueError):
        return written
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


DEFAULT = Encoding()
