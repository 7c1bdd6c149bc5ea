"""Reading the MSH header at intake, and building HL7 acknowledgements.

Intake reads only what routing, searching and acknowledging need (MSH, PID-3), without a full
parse: this runs once per received message on the hot path.  ACKs mirror the sender's
delimiters so echoed application and facility ids come back verbatim; NAKs carry an ERR
segment with an HL7 table 0357 code and a position, never a field value.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from hl7bridge.engine.errors import MessageError, ParseError

ERROR_TEXTS = {
    100: "Segment sequence error",
    101: "Required field missing",
    102: "Data type error",
    103: "Table value not found",
    200: "Unsupported message type",
    201: "Unsupported event code",
    202: "Unsupported processing id",
    203: "Unsupported version id",
    204: "Unknown key identifier",
    205: "Duplicate key identifier",
    206: "Application record locked",
    207: "Application internal error",
}

ORIGINAL_CODES = {"accept": "AA", "error": "AE", "reject": "AR"}
ENHANCED_CODES = {"accept": "CA", "error": "CE", "reject": "CR"}


@dataclass(slots=True)
class Header:
    """What intake needs from MSH (and PID-3), as text; 1-based names follow HL7."""

    field_sep: str = "|"
    encoding: str = "^~\\&"
    sending_app: str = ""
    sending_facility: str = ""
    receiving_app: str = ""
    receiving_facility: str = ""
    message_type: str = ""
    trigger_event: str = ""
    control_id: str = ""
    processing_id: str = ""
    version: str = ""
    accept_ack_type: str = ""
    patient_id: str = ""

    @property
    def enhanced(self) -> bool:
        """MSH-15 valued means the sender asked for enhanced-mode (commit) acknowledgements."""
        return bool(self.accept_ack_type)

    def wants_ack(self, positive: bool) -> bool:
        """Enhanced mode honours MSH-15: AL always, NE never, ER only errors, SU only successes."""
        mode = self.accept_ack_type.upper()
        if mode == "NE":
            return False
        if mode == "ER":
            return not positive
        if mode == "SU":
            return positive
        return True


def decode_text(raw: bytes) -> str:
    """Bytes to text for header reading: drop a byte-order mark, never fail."""
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def split_segments(text: str) -> list[str]:
    """Segments separated by CR, LF or CRLF; blank lines dropped."""
    return [s for s in text.replace("\r\n", "\r").replace("\n", "\r").split("\r") if s.strip()]


def _component(field: str, encoding: str, index: int = 0) -> str:
    first_rep = field.split(encoding[1], 1)[0] if len(encoding) > 1 else field
    parts = first_rep.split(encoding[0])
    return parts[index] if index < len(parts) else ""


def read_header(raw: bytes | str, allowed_versions: frozenset[str] | None = None) -> Header:
    """Read MSH (and PID-3) from a message; raise ParseError naming the position on bad input."""
    text = (decode_text(raw) if isinstance(raw, bytes) else raw).lstrip("\ufeff \t\r\n")
    if not text.startswith("MSH") or len(text) < 8:
        raise ParseError("message does not start with an MSH segment", location="MSH", hl7_code=100)
    sep = text[3]
    if sep.isalnum() or sep in "\r\n ":
        raise ParseError("invalid field separator", location="MSH-1", hl7_code=102)
    segments = split_segments(text)
    fields = segments[0].split(sep)
    encoding = fields[1] if len(fields) > 1 else ""
    if not 4 <= len(encoding) <= 5 or sep in encoding:
        raise ParseError("invalid encoding characters", location="MSH-2", hl7_code=102)
    header = Header(field_sep=sep, encoding=encoding)
    msh = fields + [""] * (20 - len(fields))  # msh[n - 1] is MSH-n
    header.sending_app, header.sending_facility = msh[2], msh[3]
    header.receiving_app, header.receiving_facility = msh[4], msh[5]
    header.message_type = _component(msh[8], encoding, 0)
    header.trigger_event = _component(msh[8], encoding, 1)
    header.control_id, header.processing_id = msh[9], msh[10]
    header.version = _component(msh[11], encoding, 0)
    header.accept_ack_type = msh[14]
    try:
        _check_required(header, allowed_versions)
    except ParseError as exc:
        exc.header = header  # type: ignore[attr-defined]  # lets the NAK mirror what was readable
        raise
    header.patient_id = _patient_id(segments, sep, encoding)
    return header


def _check_required(header: Header, allowed_versions: frozenset[str] | None) -> None:
    if not header.message_type:
        raise ParseError("message type is required", location="MSH-9", hl7_code=101)
    if not header.control_id:
        raise ParseError("message control id is required", location="MSH-10", hl7_code=101)
    if not header.version:
        raise ParseError("version id is required", location="MSH-12", hl7_code=101)
    if allowed_versions is not None and header.version not in allowed_versions:
        raise ParseError("unsupported version id", location="MSH-12", hl7_code=203)


def _patient_id(segments: list[str], sep: str, encoding: str) -> str:
    for segment in segments[1:]:
        if segment.startswith("PID" + sep):
            fields = segment.split(sep)
            return _component(fields[3], encoding, 0)[:64] if len(fields) > 3 else ""
    return ""


def hl7_timestamp(now: float | None = None) -> str:
    t = time.gmtime(now if now is not None else time.time())
    return time.strftime("%Y%m%d%H%M%S", t) + "+0000"


def error_location(location: str | None, sep: str) -> str:
    """'PID-3.1' -> 'PID^1^3^1^1' (ERR-2 ERL: segment, sequence, field, repetition, component)."""
    if not location or "-" not in location:
        return (location or "MSH")[:3]
    segment, _, position = location.partition("-")
    segment = segment.split("[")[0]
    parts = position.split(".")
    field = parts[0].split("[")[0]
    erl = [segment, "1", field]
    if len(parts) > 1:
        erl += ["1", parts[1]]
    return sep.join(erl)


def build_ack(
    header: Header | None,
    kind: str,
    *,
    ack_control_id: str,
    error: MessageError | None = None,
) -> bytes:
    """An ACK for ``header``: kind is 'accept', 'error' or 'reject'; enhanced mode gives CA/CE/CR."""
    h = header or Header()
    sep, enc = h.field_sep, h.encoding
    comp = enc[0]
    code = (ENHANCED_CODES if h.enhanced else ORIGINAL_CODES)[kind]
    event = h.trigger_event
    msg_type = "ACK" + (comp + event if event else "") + (comp + "ACK" if event and h.version >= "2.3.1" else "")
    msh = sep.join([
        "MSH", enc, h.receiving_app, h.receiving_facility, h.sending_app, h.sending_facility,
        hl7_timestamp(), "", msg_type, ack_control_id, h.processing_id or "P", h.version or "2.5.1",
    ])
    segments = [msh, sep.join(["MSA", code, h.control_id] + ([_short(error)] if error else []))]
    if error is not None:
        segments.append(_err_segment(h, error))
    return ("\r".join(segments) + "\r").encode("utf-8")


def _short(error: MessageError) -> str:
    """MSA-3 text: the error's reason with delimiters removed (reasons never carry values)."""
    return "".join(ch for ch in error.reason if ch not in "|^~\\&\r\n")[:80]


def _err_segment(h: Header, error: MessageError) -> str:
    sep, comp, sub = h.field_sep, h.encoding[0], h.encoding[3]
    code = error.hl7_code
    coded = [str(code), ERROR_TEXTS.get(code, "Application internal error"), "HL70357"]
    location = error_location(error.location, comp)
    if h.version and h.version < "2.5":  # ERR-1 (ELD): segment^sequence^field^code&text&table
        eld = (location.split(comp) + ["", "", ""])[:3]
        return sep.join(["ERR", comp.join(eld + [sub.join(coded)])])
    return sep.join(["ERR", "", location, comp.join(coded), "E"])
