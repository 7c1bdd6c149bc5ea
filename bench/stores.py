"""What the bench reads back: the engine's SQLite store (read-only, WAL lets it read while the
engine writes) and RabbitMQ queues it must delete afterwards."""

from __future__ import annotations

import sqlite3
import time
import uuid
from pathlib import Path
from typing import Any

from hl7bridge.bench.common import tcp_reachable

RABBIT_URL = "amqp://guest:guest@127.0.0.1:5672/"


def rabbit_reachable() -> bool:
    """A full AMQP handshake, not just a TCP connect: a stalled broker accepts sockets too."""
    if not tcp_reachable("127.0.0.1", 5672):
        return False
    import pika

    params = pika.URLParameters(RABBIT_URL)
    params.socket_timeout = params.stack_timeout = 5
    try:
        pika.BlockingConnection(params).close()
        return True
    except Exception:  # noqa: BLE001 -- any failure means "skip the RabbitMQ scenarios"
        return False


def unique_channel(prefix: str) -> str:
    """Queue names derive from the channel name: a fresh one per run keeps runs apart."""
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


def delete_queues(channel: str, destinations: list[str]) -> None:
    import pika

    from hl7bridge.engine.brokers.names import dead_letter_queue, topology

    queues = topology({channel: destinations})
    params = pika.URLParameters(RABBIT_URL)
    params.socket_timeout = params.blocked_connection_timeout = 10
    try:
        connection = pika.BlockingConnection(params)
    except Exception as exc:  # noqa: BLE001 -- leave the queues; say so rather than hide the run's result
        print(f"bench: could not delete queues of {channel} ({type(exc).__name__})")
        return
    try:
        ch = connection.channel()
        for queue in queues + [dead_letter_queue(q) for q in queues]:
            ch.queue_delete(queue)
    finally:
        connection.close()


class StoreReader:
    """Read-only queries on the engine's SQLite store file."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=30)
        try:
            return conn.execute(sql, params).fetchall()
        finally:
            conn.close()

    def outbox_lag(self) -> tuple[int, float]:
        """(rows waiting in the outbox, age in ms of the oldest ready one)."""
        now = time.time()
        count, oldest = self.query("select count(*), min(created_at) from outbox "
                                   "where queue not like '%.dlq' and available_at <= ?", (now,))[0]
        return int(count), (now - oldest) * 1000.0 if oldest else 0.0

    def status_counts(self) -> dict[str, int]:
        return dict(self.query("select status, count(*) from messages group by status"))

    def wait_all(self, status: str, total: int, timeout: float) -> float | None:
        """Seconds until ``total`` messages have ``status`` (None if not within ``timeout``)."""
        start = time.monotonic()
        while time.monotonic() - start < timeout:
            if self.status_counts().get(status, 0) >= total:
                return time.monotonic() - start
            time.sleep(0.2)
        return None
