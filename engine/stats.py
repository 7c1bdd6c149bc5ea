"""Per channel and destination counts, backlog and age: ``hl7bridge stats``."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from hl7bridge.engine import ledger
from hl7bridge.engine.brokers.names import destination_queue
from hl7bridge.engine.schema import deliveries, messages
from hl7bridge.engine.schema import outbox as outbox_rows


def collect(connection: Connection, channels: dict[str, list[str]]) -> dict[str, Any]:
    """Counts by status per channel (messages) and per destination (deliveries)."""
    now = time.time()
    by_channel: dict[str, dict[str, int]] = {}
    for channel, status, n in connection.execute(
            select(messages.c.channel, messages.c.status, func.count()).group_by(messages.c.channel, messages.c.status)):
        by_channel.setdefault(channel, {})[status] = n
    last = dict(connection.execute(select(messages.c.channel, func.max(messages.c.received_at))
                                   .group_by(messages.c.channel)).all())
    by_dest: dict[tuple[str, str], dict[str, int]] = {}
    for channel, dest, status, n in connection.execute(
            select(deliveries.c.channel, deliveries.c.destination, deliveries.c.status, func.count())
            .group_by(deliveries.c.channel, deliveries.c.destination, deliveries.c.status)):
        by_dest.setdefault((channel, dest), {})[status] = n
    oldest = {(c, d): t for c, d, t in connection.execute(
        select(deliveries.c.channel, deliveries.c.destination, func.min(deliveries.c.created_at))
        .where(deliveries.c.status == ledger.QUEUED).group_by(deliveries.c.channel, deliveries.c.destination))}
    out: dict[str, Any] = {"at": now, "channels": []}
    for channel in sorted(set(channels) | set(by_channel)):
        counts = by_channel.get(channel, {})
        entry = {"channel": channel, "received": sum(counts.values()), **_statuses(counts),
                 "last_received_age_secs": round(now - last[channel], 1) if channel in last else None,
                 "destinations": []}
        for dest in sorted(set(channels.get(channel, [])) | {d for c, d in by_dest if c == channel}):
            dcounts = by_dest.get((channel, dest), {})
            age = oldest.get((channel, dest))
            entry["destinations"].append({
                "destination": dest, "delivered": dcounts.get(ledger.DELIVERED, 0),
                "dead_lettered": dcounts.get(ledger.DEAD_LETTERED, 0), "pending": dcounts.get(ledger.QUEUED, 0),
                "oldest_pending_age_secs": round(now - age, 1) if age else None, "queued": None})
        out["channels"].append(entry)
    return out


def _statuses(counts: dict[str, int]) -> dict[str, int]:
    return {s.lower(): counts.get(s, 0) for s in (ledger.FILTERED, ledger.ERRORED, ledger.QUEUED,
                                                 ledger.DELIVERED, ledger.DEAD_LETTERED)}


def outbox_depths(connection: Connection) -> dict[str, int]:
    """Work waiting in the store's outbox per queue (the embedded broker's backlog)."""
    return dict(connection.execute(select(outbox_rows.c.queue, func.count()).group_by(outbox_rows.c.queue)).all())


def rabbitmq_depths(url: str, queues: list[str]) -> dict[str, int]:
    from hl7bridge.engine.brokers.rabbitmq_admin import queue_depths

    return queue_depths(url, queues)


def fill_backlog(report: dict[str, Any], depths: dict[str, int]) -> None:
    for channel in report["channels"]:
        for dest in channel["destinations"]:
            dest["queued"] = depths.get(destination_queue(channel["channel"], dest["destination"]), 0)
