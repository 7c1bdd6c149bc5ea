"""Retention: prune content, then metadata, per channel, in small batches.

Only messages that are settled (DELIVERED, FILTERED, ERRORED, DEAD_LETTERED) are touched, so a
delivery still pending never loses its payload.  Content goes first (``content_days``): the
message stays searchable with its attempts, marked ``content_pruned_at``, and replay is refused.
Metadata goes later (``metadata_days``): the message with its deliveries, attempts and contents.
Each batch is its own short transaction through the store's writer, so intake never waits long.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.engine import Connection

from hl7bridge.engine import ledger
from hl7bridge.engine.schema import attempts, contents, deliveries, messages

SETTLED = (ledger.DELIVERED, ledger.FILTERED, ledger.ERRORED, ledger.DEAD_LETTERED)
BATCH = 500


@dataclass(slots=True)
class PrunePlan:
    channel: str
    kind: str  # content | metadata
    cutoff: float
    count: int


def plans(connection: Connection, config: Any, now: float | None = None) -> list[PrunePlan]:
    now = now or time.time()
    out = []
    for name, spec in config.channels.items():
        retention = spec.retention
        for kind, days in (("content", retention.content_days), ("metadata", retention.metadata_days)):
            if days is None:
                continue
            cutoff = now - days * 86400
            out.append(PrunePlan(name, kind, cutoff, connection.execute(
                select(func.count()).select_from(messages).where(*_due(name, kind, cutoff))).scalar_one()))
    return out


def _due(channel: str, kind: str, cutoff: float) -> list[Any]:
    where = [messages.c.channel == channel, messages.c.received_at < cutoff, messages.c.status.in_(SETTLED)]
    if kind == "content":
        where.append(messages.c.content_pruned_at.is_(None))
    return where


def prune_batch(connection: Connection, plan: PrunePlan) -> int:
    """Prune up to BATCH messages of ``plan``; returns how many (0 when done)."""
    ids = list(connection.execute(select(messages.c.id).where(*_due(plan.channel, plan.kind, plan.cutoff))
                                  .limit(BATCH)).scalars())
    if not ids:
        return 0
    connection.execute(delete(contents).where(contents.c.message_id.in_(ids)))
    if plan.kind == "content":
        connection.execute(update(messages).where(messages.c.id.in_(ids)).values(content_pruned_at=time.time()))
    else:
        connection.execute(delete(attempts).where(attempts.c.message_id.in_(ids)))
        connection.execute(delete(deliveries).where(deliveries.c.message_id.in_(ids)))
        connection.execute(delete(messages).where(messages.c.id.in_(ids)))
    return len(ids)


def run_plan(write: Callable[[Callable[[Connection], int]], int], plan: PrunePlan,
             progress: Callable[[int], None] | None = None) -> int:
    total = 0
    while True:
        done = write(lambda c: prune_batch(c, plan))
        if not done:
            return total
        total += done
        if progress:
            progress(done)
