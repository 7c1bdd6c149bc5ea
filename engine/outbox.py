"""The outbox: work handed from one stage to the next, written in the same transaction as the
state change that produced it, so a stage's result and its hand-off commit or fail together.

``enqueue`` is called inside a store write.  Rows become visible to consumers at
``available_at`` (retry delays live here).  ``claim`` leases ready rows to one consumer (the
RabbitMQ relay, or an embedded-broker consumer) and ``remove`` deletes them when done; a lease
that runs out (a crashed process) makes the rows claimable again.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import orjson
from sqlalchemy import bindparam, delete, select, text, update
from sqlalchemy.engine import Connection

from hl7bridge.engine.fastsql import FastStatement
from hl7bridge.engine.schema import outbox


@dataclass(slots=True)
class OutboxRow:
    id: int
    queue: str
    body: bytes
    headers: dict[str, str]
    delivery_count: int


_INSERT = FastStatement(outbox.insert(), ["queue", "body", "headers", "created_at", "available_at",
                                          "delivery_count"])  # hot path: see engine/fastsql.py


def enqueue(connection: Connection, queue: str, body: bytes, *, headers: dict[str, str] | None = None,
            delay_secs: float = 0.0) -> None:
    now = time.time()
    _INSERT.execute(connection, {"queue": queue, "body": body, "headers": orjson.dumps(headers or {}).decode(),
                                 "created_at": now, "available_at": now + delay_secs, "delivery_count": 0})
    connection.info.setdefault("enqueued", set()).add(queue)


# The relay's lease of every ready queue but the dead-letter ones: one UPDATE .. RETURNING, built
# once (three SQLAlchemy statements per batch cost the relay more than publishing did).
_READY = ("available_at <= :now AND (claimed_until IS NULL OR claimed_until < :now) "
          "AND queue NOT LIKE :dlq ORDER BY id LIMIT :lim")
_CLAIM_READY = {
    "sqlite": FastStatement(text(
        f"UPDATE outbox SET claimed_until = :until, delivery_count = delivery_count + 1 WHERE id IN "
        f"(SELECT id FROM outbox WHERE {_READY}) RETURNING id, queue, body, headers, delivery_count")),
    "postgresql": FastStatement(text(
        f"UPDATE outbox SET claimed_until = :until, delivery_count = delivery_count + 1 WHERE id IN "
        f"(SELECT id FROM outbox WHERE {_READY} FOR UPDATE SKIP LOCKED) "
        "RETURNING id, queue, body, headers, delivery_count")),
}


_PEEK_READY = FastStatement(text(
    "SELECT id, queue, body, headers, delivery_count FROM outbox WHERE available_at <= :now "
    "AND queue NOT LIKE :dlq ORDER BY id LIMIT :lim"))


def peek_ready(connection: Connection, *, limit: int) -> list[OutboxRow]:
    """Ready rows of every queue but the dead-letter ones, oldest first, without a lease: for a
    relay that is the only consumer of its store's outbox (SQLite: one engine process owns the
    store) and runs one batch at a time, so nothing it reads is still in flight.  A row stays until
    ``remove`` after its publish is confirmed; after a crash it is read and published again."""
    cursor = _PEEK_READY.execute(connection, {"now": time.time(), "dlq": "%.dlq", "lim": limit})
    rows = cursor.fetchall()
    cursor.close()  # outside a transaction an unfinished statement would hold its snapshot
    return [OutboxRow(r[0], r[1], bytes(r[2]), orjson.loads(r[3]), r[4]) for r in rows]


def claim(connection: Connection, *, limit: int, lease_secs: float) -> list[OutboxRow]:
    """Lease up to ``limit`` ready rows of every queue but the dead-letter ones, oldest first (for a
    relay that may share its store with other engines: PostgreSQL)."""
    now = time.time()
    found = _CLAIM_READY[connection.dialect.name].execute(
        connection, {"until": now + lease_secs, "now": now, "dlq": "%.dlq", "lim": limit}).fetchall()
    return sorted((OutboxRow(r[0], r[1], bytes(r[2]), orjson.loads(r[3]), r[4]) for r in found),
                  key=lambda row: row.id)


_DELETE_ONE = FastStatement(delete(outbox).where(outbox.c.id == bindparam("oid")))


def remove_one(connection: Connection, row_id: int) -> None:
    """Delete one finished row (the embedded broker's ack, once per stage per message)."""
    _DELETE_ONE.execute(connection, {"oid": row_id})


def remove(connection: Connection, ids: list[int]) -> None:
    _DELETE_ONE.execute_many(connection, [{"oid": i} for i in ids])


def release(connection: Connection, ids: list[int], *, delay_secs: float) -> None:
    """Give leased rows back, visible again after ``delay_secs``."""
    if ids:
        connection.execute(update(outbox).where(outbox.c.id.in_(ids)).values(
            claimed_until=None, available_at=time.time() + delay_secs))


def move(connection: Connection, ids: list[int], queue: str, reason: str) -> None:
    """Move rows to another queue (a poison message to its .dlq), keeping why in the headers."""
    for row in connection.execute(select(outbox.c.id, outbox.c.headers).where(outbox.c.id.in_(ids))):
        headers = orjson.loads(row.headers) | {"x-dead-letter-reason": reason}
        connection.execute(update(outbox).where(outbox.c.id == row.id).values(
            queue=queue, claimed_until=None, headers=orjson.dumps(headers).decode()))


def reset_claims(connection: Connection) -> None:
    """At start-up of a single-process store: nothing is in flight, so no lease is held."""
    connection.execute(update(outbox).where(outbox.c.claimed_until.is_not(None)).values(claimed_until=None))


def next_ready_at(connection: Connection, queues: list[str] | None = None) -> float | None:
    query = select(outbox.c.available_at).where(outbox.c.claimed_until.is_(None))
    if queues is not None:
        query = query.where(outbox.c.queue.in_(queues))
    else:
        query = query.where(~outbox.c.queue.like("%.dlq"))
    row = connection.execute(query.order_by(outbox.c.available_at).limit(1)).first()
    return row.available_at if row else None


def count(connection: Connection, queue: str) -> int:
    from sqlalchemy import func

    return connection.execute(select(func.count()).select_from(outbox).where(outbox.c.queue == queue)).scalar_one()
