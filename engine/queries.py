"""What operators ask of the store: find messages, show one, replay, list and replay dead letters.

Results are plain dicts of ids, types, statuses, times and codes: no message content.  Content is
read only through ``message_content``, which the CLI calls on explicit request.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import delete, select
from sqlalchemy.engine import Connection

from hl7bridge.engine import ledger, outbox
from hl7bridge.engine.brokers.names import channel_queue, dead_letter_queue, destination_queue
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


def parse_since(text: str) -> float:
    """'90s', '15m', '2h', '7d' -> seconds."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd])\s*", text)
    if match is None:
        raise ValueError("use a number and a unit: 90s, 15m, 2h, 7d")
    return float(match[1]) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[match[2]]


def list_messages(connection: Connection, flt: MessageFilter) -> list[dict[str, Any]]:
    query = select(*(messages.c[f] for f in MESSAGE_FIELDS))
    if flt.channel:
        query = query.where(messages.c.channel == flt.channel)
    if flt.status:
        query = query.where(messages.c.status == flt.status.upper())
    if flt.message_type:
        mtype, _, event = flt.message_type.partition("^")
        query = query.where(messages.c.message_type == mtype)
        if event:
            query = query.where(messages.c.trigger_event == event)
    if flt.since_secs is not None:
        query = query.where(messages.c.received_at >= time.time() - flt.since_secs)
    if flt.patient_id:
        query = query.where(messages.c.patient_id == flt.patient_id)
    if flt.control_id:
        query = query.where(messages.c.control_id == flt.control_id)
    query = query.order_by(messages.c.received_at.desc(), messages.c.id.desc()).limit(flt.limit)
    return [_message_dict(row) for row in connection.execute(query)]


def _message_dict(row: Any) -> dict[str, Any]:
    data = {f: getattr(row, f) for f in MESSAGE_FIELDS}
    data["received_at"] = _iso(data["received_at"])
    return data


def _iso(epoch: float | None) -> str | None:
    if epoch is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(epoch)) + f".{int(epoch % 1 * 1000):03d}Z"


def show_message(connection: Connection, message_id: str) -> dict[str, Any] | None:
    row = ledger.load_message(connection, message_id)
    if row is None:
        return None
    data = _message_dict(row) | {"version": row.version, "size_bytes": row.size_bytes, "replay_of": row.replay_of}
    data["deliveries"] = [_delivery_dict(connection, d) for d in connection.execute(
        select(deliveries).where(deliveries.c.message_id == message_id).order_by(deliveries.c.created_at))]
    return data


def _delivery_dict(connection: Connection, d: Any) -> dict[str, Any]:
    tries = connection.execute(select(attempts).where(attempts.c.delivery_id == d.id).order_by(attempts.c.number))
    return {
        "id": d.id, "destination": d.destination, "status": d.status, "attempts": d.attempts,
        "idempotency_key": d.idempotency_key, "replay_of": d.replay_of, "last_code": d.last_code,
        "last_error": d.last_error, "next_attempt_at": _iso(d.next_attempt_at),
        "history": [{"number": a.number, "at": _iso(a.at), "outcome": a.outcome, "code": a.code,
                     "error": a.error, "duration_ms": round(a.duration_ms, 2)} for a in tries],
    }


def message_content(connection: Connection, message_id: str, kind: str) -> list[bytes]:
    rows = connection.execute(select(contents.c.body).where(contents.c.message_id == message_id,
                                                            contents.c.kind == kind).order_by(contents.c.id))
    return [row.body for row in rows]


def request_replay(connection: Connection, message_id: str, *, destinations: list[str] | None = None,
                   source: str = "raw", replay_of: dict[str, str] | None = None) -> bool:
    """Queue a replay of a stored message through its channel; False if the message is unknown."""
    row = ledger.load_message(connection, message_id)
    if row is None or ledger.load_content(connection, message_id, source) is None:
        return False
    request = {"message_id": message_id, "replay": {"from": source, "destinations": destinations or [],
                                                    "replay_of": replay_of or {}}}
    outbox.enqueue(connection, channel_queue(row.channel), orjson.dumps(request))
    return True


def dead_letters(connection: Connection, channel: str | None = None,
                 destination: str | None = None) -> list[dict[str, Any]]:
    """Dead-lettered deliveries not yet superseded by a replay."""
    replayed = select(deliveries.c.replay_of).where(deliveries.c.replay_of.is_not(None))
    query = select(deliveries).where(deliveries.c.status == ledger.DEAD_LETTERED,
                                     deliveries.c.id.not_in(replayed))
    if channel:
        query = query.where(deliveries.c.channel == channel)
    if destination:
        query = query.where(deliveries.c.destination == destination)
    return [_delivery_dict(connection, d) | {"message_id": d.message_id, "channel": d.channel}
            for d in connection.execute(query.order_by(deliveries.c.updated_at))]


def replay_dead_letter(connection: Connection, entry: dict[str, Any]) -> bool:
    """Replay one dead letter to its destination, as a new delivery linked to the dead one."""
    ok = request_replay(connection, entry["message_id"], destinations=[entry["destination"]],
                        replay_of={entry["destination"]: entry["id"]})
    if ok:  # its record in the embedded .dlq is settled now
        dlq = dead_letter_queue(destination_queue(entry["channel"], entry["destination"]))
        connection.execute(delete(outbox_rows).where(outbox_rows.c.queue == dlq,
                                                     outbox_rows.c.body.like(f'%"{entry["id"]}"%'.encode())))
    return ok
