"""What operators ask of the store: find messages, show one, list and purge dead letters.

Results are plain dicts of ids, types, statuses, times and codes: no message content.  Content is
read only through ``message_content``, which the CLI calls on explicit request (and audits).
Searches use keyset pagination on (received_at, id), so page 1,000 costs what page 1 does.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import and_, delete, exists, or_, select, tuple_, update
from sqlalchemy.engine import Connection

from hl7bridge.engine import ledger
from hl7bridge.engine.brokers.names import dead_letter_queue, destination_queue
from hl7bridge.engine.schema import attempts, contents, deliveries, messages
from hl7bridge.engine.schema import outbox as outbox_rows

MESSAGE_FIELDS = ("id", "channel", "received_at", "status", "message_type", "trigger_event", "control_id",
                  "sending_app", "sending_facility", "patient_id", "correlation_id", "error", "error_location")


@dataclass(slots=True)
class MessageFilter:
    channel: str | None = None
    status: str | None = None
    message_type: str | None = None  # "ADT" or "ADT^A01"
    since_secs: float | None = None
    patient_id: str | None = None
    control_id: str | None = None
    limit: int = 100
    sender: str | None = None       # MSH-3 or MSH-4
    destination: str | None = None  # has a delivery to this destination
    error_text: str | None = None   # in the message's or a delivery's error
    from_ts: float | None = None
    until_ts: float | None = None
    before: str | None = None       # a message id: the page after it


def parse_since(text: str) -> float:
    """'90s', '15m', '2h', '7d' -> seconds."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd])\s*", text)
    if match is None:
        raise ValueError("use a number and a unit: 90s, 15m, 2h, 7d")
    return float(match[1]) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[match[2]]


def parse_time(text: str) -> float:
    """An ISO 8601 date or date-time (UTC unless it says otherwise) -> epoch seconds."""
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise ValueError("use ISO 8601, e.g. 2026-11-21 or 2026-11-21T08:30:00Z") from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()


def _conditions(connection: Connection, flt: MessageFilter) -> list[Any]:
    m = messages.c
    where: list[Any] = []
    simple = ((flt.channel, m.channel), (flt.patient_id, m.patient_id), (flt.control_id, m.control_id))
    where += [column == value for value, column in simple if value]
    if flt.status:
        where.append(m.status == flt.status.upper())
    if flt.message_type:
        mtype, _, event = flt.message_type.partition("^")
        where.append(m.message_type == mtype)
        if event:
            where.append(m.trigger_event == event)
    if flt.sender:
        where.append(or_(m.sending_app == flt.sender, m.sending_facility == flt.sender))
    if flt.since_secs is not None:
        where.append(m.received_at >= time.time() - flt.since_secs)
    if flt.from_ts is not None:
        where.append(m.received_at >= flt.from_ts)
    if flt.until_ts is not None:
        where.append(m.received_at < flt.until_ts)
    # Correlated EXISTS, not IN (subquery): the planner walks messages in received_at order and
    # probes deliveries by message id, stopping after one page (IN built a 300k-id set first).
    d = deliveries.c
    if flt.destination:
        where.append(exists().where(d.message_id == m.id, d.destination == flt.destination))
    if flt.error_text:
        pattern = f"%{flt.error_text}%"
        where.append(or_(m.error.like(pattern), exists().where(d.message_id == m.id, d.last_error.like(pattern))))
    if flt.before:
        anchor = connection.execute(select(m.received_at).where(m.id == flt.before)).first()
        if anchor is not None:
            where.append(tuple_(m.received_at, m.id) < tuple_(anchor.received_at, flt.before))
    return where


def list_messages(connection: Connection, flt: MessageFilter) -> list[dict[str, Any]]:
    query = select(*(messages.c[f] for f in MESSAGE_FIELDS)).where(and_(True, *_conditions(connection, flt)))
    query = query.order_by(messages.c.received_at.desc(), messages.c.id.desc()).limit(flt.limit)
    return [_message_dict(row) for row in connection.execute(query)]


def message_ids(connection: Connection, flt: MessageFilter) -> list[str]:
    query = select(messages.c.id).where(and_(True, *_conditions(connection, flt)))
    return list(connection.execute(query.order_by(messages.c.received_at, messages.c.id).limit(flt.limit)).scalars())


def _message_dict(row: Any) -> dict[str, Any]:
    data = {f: getattr(row, f) for f in MESSAGE_FIELDS}
    data["received_at"] = iso(data["received_at"])
    return data


def iso(epoch: float | None) -> str | None:
    if epoch is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(epoch)) + f".{int(epoch % 1 * 1000):03d}Z"


def show_message(connection: Connection, message_id: str) -> dict[str, Any] | None:
    row = ledger.load_message(connection, message_id)
    if row is None:
        return None
    data = _message_dict(row) | {"version": row.version, "size_bytes": row.size_bytes,
                                 "content_pruned_at": iso(row.content_pruned_at)}
    data["deliveries"] = [delivery_dict(connection, d) for d in connection.execute(
        select(deliveries).where(deliveries.c.message_id == message_id).order_by(deliveries.c.created_at))]
    data["replays"] = [d["id"] for d in data["deliveries"] if d["replay_of"]]
    return data


def delivery_dict(connection: Connection, d: Any) -> dict[str, Any]:
    tries = connection.execute(select(attempts).where(attempts.c.delivery_id == d.id).order_by(attempts.c.number))
    return {
        "id": d.id, "message_id": d.message_id, "channel": d.channel, "destination": d.destination,
        "status": d.status, "attempts": d.attempts, "idempotency_key": d.idempotency_key, "replay_of": d.replay_of,
        "replayed_by": list(connection.execute(select(deliveries.c.id).where(deliveries.c.replay_of == d.id))
                            .scalars()),
        "last_code": d.last_code, "last_error": d.last_error, "next_attempt_at": iso(d.next_attempt_at),
        "history": [{"number": a.number, "at": iso(a.at), "outcome": a.outcome, "code": a.code,
                     "error": a.error, "duration_ms": round(a.duration_ms, 2)} for a in tries],
    }


def message_content(connection: Connection, message_id: str, kind: str) -> list[bytes]:
    """Stored content of one kind.  Destinations send the transformed bytes as they are, so 'sent'
    is the transformed payload unless a destination recorded something else."""
    def read(k: str) -> list[bytes]:
        rows = connection.execute(select(contents.c.body).where(contents.c.message_id == message_id,
                                                                contents.c.kind == k).order_by(contents.c.id))
        return [row.body for row in rows]

    return read(kind) or (read("transformed") if kind == "sent" else [])


def _dead(channel: str | None, destination: str | None) -> Any:
    replayed = select(deliveries.c.replay_of).where(deliveries.c.replay_of.is_not(None))
    query = select(deliveries).where(deliveries.c.status == ledger.DEAD_LETTERED, deliveries.c.dlq_purged_at.is_(None),
                                     deliveries.c.id.not_in(replayed))
    if channel:
        query = query.where(deliveries.c.channel == channel)
    if destination:
        query = query.where(deliveries.c.destination == destination)
    return query


def dead_letters(connection: Connection, channel: str | None = None,
                 destination: str | None = None) -> list[dict[str, Any]]:
    """Dead-lettered deliveries neither replayed nor purged, oldest first."""
    rows = connection.execute(_dead(channel, destination).order_by(deliveries.c.updated_at))
    return [delivery_dict(connection, d) for d in rows]


def dead_letter(connection: Connection, delivery_id: str) -> dict[str, Any] | None:
    row = connection.execute(select(deliveries).where(deliveries.c.id == delivery_id)).first()
    return delivery_dict(connection, row) if row is not None else None


def settle_dead_letter_records(connection: Connection, entry: dict[str, Any]) -> None:
    """Remove a dead letter's record from the embedded broker's .dlq queue (RabbitMQ's is purged by the CLI)."""
    dlq = dead_letter_queue(destination_queue(entry["channel"], entry["destination"]))
    connection.execute(delete(outbox_rows).where(outbox_rows.c.queue == dlq,
                                                 outbox_rows.c.headers.like(f'%"x-delivery-id":"{entry["id"]}"%')))


def purge_dead_letters(connection: Connection, ids: list[str]) -> int:
    now = time.time()
    result = connection.execute(update(deliveries).where(deliveries.c.id.in_(ids)).values(dlq_purged_at=now))
    for row in connection.execute(select(deliveries.c.id, deliveries.c.channel, deliveries.c.destination)
                                  .where(deliveries.c.id.in_(ids))):
        settle_dead_letter_records(connection, {"id": row.id, "channel": row.channel,
                                                "destination": row.destination})
    return result.rowcount or 0
