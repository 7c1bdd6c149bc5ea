"""What each stage writes to the store, and reads back.

Functions here take a SQLAlchemy connection and run inside the store's transactions (see
engine/store.py), so each state change commits together with the work it hands on (outbox).
Status words: RECEIVED, FILTERED, TRANSFORMED, QUEUED, DELIVERED, ERRORED, DEAD_LETTERED.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from collections.abc import Callable
from typing import Any, NamedTuple

import orjson
from sqlalchemy import bindparam, func, select, text, update
from sqlalchemy.engine import Connection, Row

from hl7bridge.engine import outbox
from hl7bridge.engine.brokers.names import channel_queue, dead_letter_queue, destination_queue
from hl7bridge.engine.fastsql import FastStatement
from hl7bridge.engine.ids import new_id
from hl7bridge.engine.schema import attempts, contents, deliveries, messages

RECEIVED, FILTERED, TRANSFORMED, QUEUED = "RECEIVED", "FILTERED", "TRANSFORMED", "QUEUED"
DELIVERED, ERRORED, DEAD_LETTERED = "DELIVERED", "ERRORED", "DEAD_LETTERED"
STATUSES = (RECEIVED, FILTERED, TRANSFORMED, QUEUED, DELIVERED, ERRORED, DEAD_LETTERED)
FINAL_DELIVERY = (DELIVERED, DEAD_LETTERED)


@dataclass(slots=True)
class NewMessage:
    """A received message, ready to be stored."""

    id: str
    channel: str
    raw: bytes
    content_hash: str
    correlation_id: str
    ack: bytes | None
    status: str = RECEIVED
    source: str = "mllp"
    content_type: str = "x-application/hl7-v2+er7"
    message_type: str = ""
    trigger_event: str = ""
    control_id: str = ""
    sending_app: str = ""
    sending_facility: str = ""
    version: str = ""
    patient_id: str = ""
    error: str | None = None
    error_location: str | None = None


@dataclass(slots=True)
class Stored:
    message_id: str
    ack: bytes | None
    duplicate: bool


# Built once and run on the DB-API cursor (engine/fastsql.py): intake's writes are the hot path.
# The duplicate lookup filters on (channel, control_id) only, so every database searches
# ix_messages_dedup (given sending_app too, SQLite's planner chose ix_messages_sender_time and
# scanned every message from that sender); the rest of the key is compared below.
_SAME_CONTROL_ID = FastStatement(select(
    messages.c.id, messages.c.ack, messages.c.sending_app, messages.c.sending_facility, messages.c.content_hash,
).where(messages.c.channel == bindparam("channel"), messages.c.control_id == bindparam("control_id")))
_MESSAGE_FIELDS = ("id", "channel", "source", "message_type", "trigger_event", "control_id", "sending_app",
                   "sending_facility", "version", "patient_id", "status", "error", "error_location",
                   "content_hash", "correlation_id", "ack")
_INSERT_MESSAGE = FastStatement(messages.insert(), _MESSAGE_FIELDS + ("received_at", "updated_at", "size_bytes"))
_INSERT_CONTENT = FastStatement(contents.insert(), ("message_id", "kind", "created_at", "content_type", "body"))

# The pipeline's per-message writes, prebuilt the same way (each runs once or twice per delivery).
_CLAIM_RECEIVED = FastStatement(update(messages).where(
    messages.c.id == bindparam("mid"), messages.c.status == bindparam("expect")).values(
    status=bindparam("new_status"), updated_at=bindparam("now")))
_INSERT_DELIVERY = FastStatement(deliveries.insert(), (
    "id", "message_id", "channel", "destination", "status", "attempts", "idempotency_key", "created_at",
    "updated_at", "replay_of"))
_INSERT_ATTEMPT = FastStatement(attempts.insert(), (
    "delivery_id", "message_id", "number", "at", "duration_ms", "outcome", "code", "error"))
_UPDATE_DELIVERY = FastStatement(update(deliveries).where(deliveries.c.id == bindparam("did")).values(
    status=bindparam("new_status"), attempts=bindparam("number"), updated_at=bindparam("now"),
    last_code=bindparam("code"), last_error=bindparam("error"), next_attempt_at=bindparam("next_at")))
_INSERT_EXCHANGE = FastStatement(contents.insert(), (
    "message_id", "kind", "destination", "delivery_id", "created_at", "body"))
_DELIVERY_STATES = FastStatement(select(deliveries.c.id, deliveries.c.status, deliveries.c.replay_of).where(
    deliveries.c.message_id == bindparam("mid")))
_SET_MESSAGE_STATUS = FastStatement(update(messages).where(messages.c.id == bindparam("mid")).values(
    status=bindparam("new_status"), updated_at=bindparam("now")))


def store_received(connection: Connection, message: NewMessage) -> Stored:
    """Store a received message (and queue it for its channel unless it is ERRORED); a duplicate
    (same channel, MSH-3, MSH-4, MSH-10 and bytes) is recognised and its stored ACK returned."""
    if message.control_id:
        found = _SAME_CONTROL_ID.execute(connection, {"channel": message.channel,
                                                      "control_id": message.control_id}).fetchall()
        for existing_id, ack, sending_app, sending_facility, content_hash in found:
            if (sending_app, sending_facility, content_hash) == (
                    message.sending_app, message.sending_facility, message.content_hash):
                return Stored(existing_id, bytes(ack) if ack is not None else None, duplicate=True)
    now = time.time()
    row = {k: getattr(message, k) for k in _MESSAGE_FIELDS}
    _INSERT_MESSAGE.execute(connection, row | {"received_at": now, "updated_at": now,
                                               "size_bytes": len(message.raw)})
    _INSERT_CONTENT.execute(connection, {"message_id": message.id, "kind": "raw", "created_at": now,
                                         "content_type": message.content_type, "body": message.raw})
    if message.status == RECEIVED:
        outbox.enqueue(connection, channel_queue(message.channel),
                       orjson.dumps({"message_id": message.id, "key": message.patient_id}))
    return Stored(message.id, message.ack, duplicate=False)


def load_message(connection: Connection, message_id: str) -> Row[Any] | None:
    return connection.execute(select(messages).where(messages.c.id == message_id)).first()


def load_content(connection: Connection, message_id: str, kind: str = "raw",
                 delivery_id: str | None = None) -> Row[Any] | None:
    query = select(contents).where(contents.c.message_id == message_id, contents.c.kind == kind)
    if delivery_id is not None:
        query = query.where(contents.c.delivery_id == delivery_id)
    return connection.execute(query.order_by(contents.c.id.desc()).limit(1)).first()


def set_status(connection: Connection, message_id: str, status: str, *, error: str | None = None,
               location: str | None = None) -> None:
    connection.execute(update(messages).where(messages.c.id == message_id).values(
        status=status, error=error[:500] if error else None, error_location=location, updated_at=time.time()))


def queue_deliveries(connection: Connection, message_id: str, channel: str, destinations: list[str],
                     payload: bytes, content_type: str, *, replay_of: dict[str, str] | None = None,
                     first_time: bool = False, order_key: str = "") -> list[str]:
    """Store the transformed payload, create one delivery per destination and queue each; the
    idempotency key is the delivery's id, the same for all of that delivery's attempts.

    ``first_time``: only if the message is still RECEIVED (a compare-and-set in this commit), so
    two copies of the same channel work -- republished after a crash -- never make two sets of
    deliveries; the copy that loses gets [] and does nothing."""
    now = time.time()
    claim = {"mid": message_id, "expect": RECEIVED, "new_status": QUEUED, "now": now}
    if first_time and _CLAIM_RECEIVED.execute(connection, claim).rowcount != 1:
        return []
    _INSERT_CONTENT.execute(connection, {"message_id": message_id, "kind": "transformed", "created_at": now,
                                         "content_type": content_type, "body": payload})
    ids = []
    for destination in destinations:
        delivery_id = new_id()
        _INSERT_DELIVERY.execute(connection, {
            "id": delivery_id, "message_id": message_id, "channel": channel, "destination": destination,
            "status": QUEUED, "attempts": 0, "idempotency_key": f"{message_id}.{destination}.{delivery_id}",
            "created_at": now, "updated_at": now, "replay_of": (replay_of or {}).get(destination)})
        outbox.enqueue(connection, destination_queue(channel, destination),
                       orjson.dumps({"delivery_id": delivery_id, "key": order_key}))
        ids.append(delivery_id)
    if not first_time:
        set_status(connection, message_id, QUEUED)
    return ids


class WorkMessage(NamedTuple):
    """What a pipeline stage needs of a message (the row itself has ~20 columns)."""

    id: str
    status: str
    correlation_id: str
    patient_id: str
    message_type: str
    trigger_event: str


class Content(NamedTuple):
    body: bytes
    content_type: str


class WorkDelivery(NamedTuple):
    id: str
    message_id: str
    channel: str
    destination: str
    status: str
    attempts: int
    idempotency_key: str


# The stages' reads, one statement each (they ran three SQLAlchemy selects per delivery: ~170 us of
# CPU each in the engine, most of it statement building and result wrapping, not SQLite).
_M = "m.id, m.status, m.correlation_id, m.patient_id, m.message_type, m.trigger_event"
_LATEST_CONTENT = "(SELECT max(id) FROM contents WHERE message_id = :mid AND kind = :kind)"
_LOAD_WORK = FastStatement(text(
    f"SELECT {_M}, c.body, c.content_type FROM messages m LEFT JOIN contents c ON c.id = {_LATEST_CONTENT} "
    "WHERE m.id = :mid"))
_LOAD_DELIVERY = FastStatement(text(
    "SELECT d.id, d.message_id, d.channel, d.destination, d.status, d.attempts, d.idempotency_key, "
    f"{_M}, c.body, c.content_type FROM deliveries d JOIN messages m ON m.id = d.message_id "
    "LEFT JOIN contents c ON c.id = (SELECT max(id) FROM contents WHERE message_id = d.message_id "
    "AND kind = 'transformed') WHERE d.id = :did"))


def _first(cursor: Any) -> Any:
    """The first row, with the statement run to its end and the cursor closed: outside an explicit
    transaction (``Store.read(single=True)``) an unfinished SQLite statement would keep its read
    snapshot open -- later reads on that connection would see old data, and the WAL could not be
    checkpointed past it."""
    rows = cursor.fetchall()
    cursor.close()
    return rows[0] if rows else None


def _content(body: Any, content_type: str | None) -> Content | None:
    return None if body is None else Content(bytes(body), content_type or "")


def load_work(connection: Connection, message_id: str, kind: str = "raw") -> tuple[WorkMessage | None,
                                                                                     Content | None]:
    """The channel stage's read: the message and its latest content of ``kind``, in one statement."""
    row = _first(_LOAD_WORK.execute(connection, {"mid": message_id, "kind": kind}))
    if row is None:
        return None, None
    return WorkMessage(*row[:6]), _content(row[6], row[7])


def load_delivery(connection: Connection, delivery_id: str) -> tuple[WorkDelivery, WorkMessage, Content] | None:
    """The delivery, its message, and the payload to send (one statement)."""
    row = _first(_LOAD_DELIVERY.execute(connection, {"did": delivery_id}))
    if row is None:
        return None
    payload = _content(row[13], row[14])
    if payload is None:
        return None
    return WorkDelivery(*row[:7]), WorkMessage(*row[7:13]), payload


@dataclass(slots=True)
class AttemptResult:
    outcome: str  # success | retry | dead_letter
    code: str | None
    error: str | None
    duration_ms: float
    response: bytes | None = None
    sent: bytes | None = None
    retry_in_secs: float = 0.0


def record_attempt(connection: Connection, delivery: Any, result: AttemptResult, *,
                   requeue: bool = True, order_key: str = "") -> None:
    """Record one attempt and move the delivery on: DELIVERED, back to its queue after a delay
    (``requeue``; strict ordering retries in place instead), or DEAD_LETTERED to its .dlq."""
    now, number = time.time(), delivery.attempts + 1
    error = result.error[:500] if result.error else None
    _INSERT_ATTEMPT.execute(connection, {
        "delivery_id": delivery.id, "message_id": delivery.message_id, "number": number, "at": now,
        "duration_ms": result.duration_ms, "outcome": result.outcome, "code": result.code, "error": error})
    status = {"success": DELIVERED, "dead_letter": DEAD_LETTERED}.get(result.outcome, QUEUED)
    _UPDATE_DELIVERY.execute(connection, {
        "did": delivery.id, "new_status": status, "number": number, "now": now, "code": result.code,
        "error": error, "next_at": now + result.retry_in_secs if result.outcome == "retry" else None})
    _store_exchange(connection, delivery, result, now)
    queue = destination_queue(delivery.channel, delivery.destination)
    if result.outcome == "retry" and requeue:
        outbox.enqueue(connection, queue, orjson.dumps({"delivery_id": delivery.id, "key": order_key}),
                       delay_secs=result.retry_in_secs)
    elif result.outcome == "dead_letter":
        outbox.enqueue(connection, dead_letter_queue(queue), orjson.dumps(
            {"delivery_id": delivery.id, "message_id": delivery.message_id, "reason": result.error,
             "code": result.code, "attempts": number}),
            headers={"x-dead-letter-reason": (result.error or "")[:200], "x-delivery-id": delivery.id})
    refresh_message_status(connection, delivery.message_id)


def _store_exchange(connection: Connection, delivery: Any, result: AttemptResult, now: float) -> None:
    for kind, body in (("sent", result.sent), ("response", result.response)):
        if body:
            _INSERT_EXCHANGE.execute(connection, {
                "message_id": delivery.message_id, "kind": kind, "destination": delivery.destination,
                "delivery_id": delivery.id, "created_at": now, "body": body[:1_048_576]})


def refresh_message_status(connection: Connection, message_id: str) -> None:
    """A message is DELIVERED when all its live deliveries are, DEAD_LETTERED when one is and
    none is pending, else QUEUED.  A replayed delivery supersedes the one it replays."""
    rows = _DELIVERY_STATES.execute(connection, {"mid": message_id}).fetchall()
    replaced = {replay_of for _id, _status, replay_of in rows if replay_of}
    live = [status for delivery_id, status, _replay_of in rows if delivery_id not in replaced]
    if not live:
        return
    if all(s == DELIVERED for s in live):
        status = DELIVERED
    elif any(s == QUEUED for s in live):
        status = QUEUED
    else:
        status = DEAD_LETTERED
    _SET_MESSAGE_STATUS.execute(connection, {"mid": message_id, "new_status": status, "now": time.time()})


def count_by_status(connection: Connection, channel: str | None = None) -> dict[str, int]:
    query = select(messages.c.status, func.count()).group_by(messages.c.status)
    if channel:
        query = query.where(messages.c.channel == channel)
    return {status: n for status, n in connection.execute(query)}


@dataclass(slots=True)
class Answer:
    """What an HTTP sender is told: status, body, and the message it concerns."""

    status: int
    body: bytes
    message_id: str
    replayed: bool = False  # the stored answer to an earlier request with the same Idempotency-Key


def store_document(connection: Connection, message: NewMessage, *, key: str | None,
                   answer: Callable[[str], tuple[int, bytes]]) -> Answer:
    """Store a document received over HTTP (FHIR, C-CDA, HL7v2) with its Idempotency-Key: the same key
    and body get the stored answer and no second message; the same key with another body gets 422."""
    from hl7bridge.engine.schema import idempotency

    if key:
        seen = connection.execute(select(idempotency).where(idempotency.c.channel == message.channel,
                                                            idempotency.c.key == key)).first()
        if seen is not None:
            if seen.body_hash != message.content_hash:
                return Answer(422, b"", seen.message_id)
            return Answer(seen.status_code, seen.response, seen.message_id, replayed=True)
    store_received(connection, message)
    status, body = answer(message.id)
    if key:
        connection.execute(idempotency.insert().values(
            channel=message.channel, key=key, body_hash=message.content_hash, message_id=message.id,
            status_code=status, response=body, created_at=time.time()))
    return Answer(status, body, message.id)
