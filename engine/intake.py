"""Intake of HL7v2 messages: read the header, store durably, then acknowledge.

The order is the whole point (invariant 1): the positive ACK (AA/CA) is built before the
commit, stored with the message (a duplicate gets the very same ACK back), and only returned
once the commit succeeded.  A message whose header cannot be read is still stored, as ERRORED,
and answered AR/CR with an ERR segment naming the position.  If the store cannot commit, the
sender gets AE/CE with code 207 and sends again later.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from hl7bridge.engine import ledger
from hl7bridge.engine.acks import Header, build_ack, decode_text, read_header
from hl7bridge.engine.errors import MessageError, ParseError, StoreError
from hl7bridge.engine.ids import content_hash, new_correlation_id, new_id
from hl7bridge.engine.store import Store

log = logging.getLogger("hl7bridge.intake")
STORE_FAILED = MessageError("message could not be stored; send it again", hl7_code=207)


@dataclass(slots=True)
class Accepted:
    ack: bytes | None
    stored: bool
    error: ParseError | None


@dataclass(slots=True)
class IntakeStats:
    received: int = 0
    rejected: int = 0
    duplicates: int = 0
    store_failures: int = 0


class HL7Intake:
    """Receives HL7v2 for one channel; ``receive`` returns the ACK bytes (or None when MSH-15 says none)."""

    def __init__(self, store: Store, channel: str, *, allowed_versions: frozenset[str] | None = None,
                 source: str = "mllp") -> None:
        self.store, self.channel, self.allowed_versions, self.source = store, channel, allowed_versions, source
        self.stats = IntakeStats()

    async def receive(self, raw: bytes, peer: str = "") -> bytes | None:
        text_start = raw.lstrip(b"\xef\xbb\xbf \t\r\n")[:3]
        if text_start in (b"FHS", b"BHS"):
            return await self._receive_batch(raw, peer)
        return await self._receive_one(raw, peer)

    async def _receive_one(self, raw: bytes, peer: str) -> bytes | None:
        return (await self.accept(raw, peer)).ack

    async def accept(self, raw: bytes, peer: str = "", *, correlation_id: str | None = None) -> "Accepted":
        """Store one message and build its answer; ``stored`` is False only when the store failed.
        ``correlation_id`` continues a message handed over from another channel."""
        ack_id = new_id()
        header, error = self._header(raw)
        kind = "accept" if error is None else "reject"
        ack = build_ack(header, kind, ack_control_id=ack_id, error=error)
        message = self._new_message(ack_id, raw, header, ack, error)
        if correlation_id:
            message.correlation_id = correlation_id
        try:
            stored = await self.store.write(lambda c: ledger.store_received(c, message), urgent=True)
        except StoreError:
            self.stats.store_failures += 1
            log.error("channel=%s control_id=%s not stored; answering AE 207", self.channel,
                      header.control_id if header else "?")
            return Accepted(build_ack(header, "error", ack_control_id=ack_id, error=STORE_FAILED), False, error)
        self._count(stored, error, header, peer)
        wanted = header is None or header.wants_ack(error is None)
        return Accepted(stored.ack if wanted else None, True, error)

    def _header(self, raw: bytes) -> tuple[Header | None, ParseError | None]:
        try:
            return read_header(raw, self.allowed_versions), None
        except ParseError as exc:
            return getattr(exc, "header", None), exc

    def _new_message(self, message_id: str, raw: bytes, header: Header | None, ack: bytes,
                     error: ParseError | None) -> ledger.NewMessage:
        h = header or Header()
        return ledger.NewMessage(
            id=message_id, channel=self.channel, raw=raw, content_hash=content_hash(raw),
            correlation_id=new_correlation_id(), ack=ack, source=self.source,
            status=ledger.ERRORED if error else ledger.RECEIVED,
            message_type=h.message_type[:16], trigger_event=h.trigger_event[:16], control_id=h.control_id[:64],
            sending_app=h.sending_app[:64], sending_facility=h.sending_facility[:64], version=h.version[:16],
            patient_id=h.patient_id, error=str(error) if error else None,
            error_location=error.location if error else None)

    def _count(self, stored: ledger.Stored, error: ParseError | None, header: Header | None, peer: str) -> None:
        self.stats.received += 1
        if stored.duplicate:
            self.stats.duplicates += 1
            log.info("channel=%s message=%s duplicate intake; stored ACK sent again", self.channel,
                     stored.message_id)
        if error is not None:
            self.stats.rejected += 1
            log.warning("channel=%s message=%s rejected: %s (code %s) peer=%s", self.channel,
                        stored.message_id, error, error.hl7_code, peer)

    async def _receive_batch(self, raw: bytes, peer: str) -> bytes:
        """Split FHS/BHS batches into their messages; answer with a batch of their ACKs."""
        from hl7bridge.transforms.hl7v2.batch import split_batch

        try:
            parts = split_batch(decode_text(raw))
        except (ParseError, ValueError) as exc:
            error = exc if isinstance(exc, ParseError) else ParseError("malformed batch envelope", location="BHS")
            ack = await self._receive_one(raw, peer)  # stored as ERRORED with its NAK
            log.warning("channel=%s batch rejected: %s", self.channel, error)
            return ack or b""
        acks = [await self._receive_one(part.encode("utf-8"), peer) for part in parts]
        body = b"".join(a for a in acks if a)
        return b"BHS|^~\\&\r" + body + f"BTS|{len(parts)}\r".encode()


@dataclass(slots=True)
class Document:
    """A non-MLLP submission, already parsed and checked by its source: what to store and search by."""

    body: bytes
    content_type: str
    message_type: str = ""
    trigger_event: str = ""
    control_id: str = ""
    patient_id: str = ""
    correlation_id: str | None = None


class DocumentIntake:
    """Stores documents received over HTTP or from a folder; ``answer(message_id)`` builds the reply
    stored with an Idempotency-Key (so a repeat gets the same reply)."""

    def __init__(self, store: Store, channel: str, *, source: str) -> None:
        self.store, self.channel, self.source = store, channel, source

    async def receive(self, doc: Document, *, key: str | None, answer: Callable[[str], tuple[int, bytes]],
                      error: ParseError | None = None) -> ledger.Answer:
        """Store ``doc`` (as ERRORED, not routed, when ``error`` says it cannot be read)."""
        message = ledger.NewMessage(
            id=new_id(), channel=self.channel, raw=doc.body, content_hash=content_hash(doc.body),
            correlation_id=doc.correlation_id or new_correlation_id(), ack=None, source=self.source,
            content_type=doc.content_type, message_type=doc.message_type[:16], trigger_event=doc.trigger_event[:16],
            control_id=doc.control_id[:64], patient_id=doc.patient_id[:64],
            status=ledger.ERRORED if error else ledger.RECEIVED, error=str(error) if error else None,
            error_location=error.location if error else None)
        return await self.store.write(lambda c: ledger.store_document(c, message, key=key, answer=answer),
                                      urgent=True)
