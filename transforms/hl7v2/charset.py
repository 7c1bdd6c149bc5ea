"""Bytes to text for HL7v2: byte-order marks, MSH-18 character sets (HL7 table 0211), fallbacks."""

from __future__ import annotations

__all__ = ["decode_bytes", "codec_for"]

# HL7 table 0211 names that map onto a byte encoding Python knows.  UTF-16/32 are left out:
# the delimiters of such a message are not single bytes, so MSH-18 cannot be read that way.
_CODECS = {
    "ASCII": "ascii", "ISO IR6": "ascii",
    "8859/1": "latin-1", "ISO IR100": "latin-1", "8859/2": "iso8859-2", "ISO IR101": "iso8859-2",
    "8859/3": "iso8859-3", "8859/4": "iso8859-4", "8859/5": "iso8859-5", "ISO IR144": "iso8859-5",
    "8859/6": "iso8859-6", "ISO IR127": "iso8859-6", "8859/7": "iso8859-7", "ISO IR126": "iso8859-7",
    "8859/8": "iso8859-8", "ISO IR138": "iso8859-8", "8859/9": "iso8859-9", "ISO IR148": "iso8859-9",
    "8859/15": "iso8859-15", "UNICODE UTF-8": "utf-8", "UNICODE": "utf-8", "ISO IR192": "utf-8",
    "GB 18030-2000": "gb18030", "KS X 1001": "euc_kr", "BIG-5": "big5", "ISO IR87": "iso2022_jp",
    "ISO IR13": "shift_jis", "ISO IR159": "iso2022_jp_2",
}


def codec_for(charset: str) -> str | None:
    """Python codec for an HL7 table 0211 value, or None when unknown."""
    return _CODECS.get(charset.strip().upper())


def decode_bytes(data: bytes | bytearray | memoryview) -> str:
    """Decode per BOM, then MSH-18 when it names a known set, else UTF-8, else Latin-1 (never fails)."""
    raw = bytes(data)
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    elif raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return raw.decode("utf-16")
        except UnicodeDecodeError:
            pass
    declared = codec_for(_msh18(raw))
    for codec in (declared, "utf-8"):
        if codec:
            try:
                return raw.decode(codec)
            except (UnicodeDecodeError, LookupError):
                continue
    return raw.decode("latin-1")


def _msh18(raw: bytes) -> str:
    start = raw.find(b"MSH")
    if start < 0 or len(raw) < start + 8:
        return ""
    end = len(raw)
    for stop in (b"\r", b"\n"):
        pos = raw.find(stop, start)
        if 0 <= pos < end:
            end = pos
    header = raw[start:end].decode("latin-1")
    fields = header.split(header[3])
    if len(fields) < 18:
        return ""
    msh2 = fields[1]
    value = fields[17]
    for sep in msh2[1:2] + msh2[0:1]:  # first repetition, first component
        value = value.split(sep)[0]
    return value
