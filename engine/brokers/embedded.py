"""The embedded broker: consumers take work straight from the store's outbox table.

For one engine process on one machine (the default, ``broker: embedded``): no RabbitMQ needed.
Work in flight is tracked in memory (one process owns the store), so taking work costs a read,
and only finishing it costs a write (batched with everything else by the store's writer).
A handler that raises puts the row back with a growing pause; after ``max_deliveries`` tries the
row moves to the queue's .dlq, like a quorum queue's delivery limit.
"""

from __future__ import annotations

import asyncio
import logging
import time

from sqlalchemy import select

from hl7bridge.engine import outbox
from hl7bridge.engine.broker import Envelope, Handler
from hl7bridge.engine.brokers.names import dead_letter_queue
from hl7bridge.engine.errors import StoreError
from hl7bridge.engine.schema import outbox as outbox_table
from hl7bridge.engine.store import Store

log = logging.getLogger("hl7bridge.broker.embedded")


class EmbeddedBroker:
    name = "embedded"

    def __init__(self, store: Store, *, poll_secs: float = 0.5, max_deliveries: int = 20) -> None:
        self.store = store
        self.poll_secs = poll_secs
        self.max_deliveries = max_deliveries
        self._wake: dict[str, asyncio.Event] = {}
        self._loops: list[asyncio.Task[None]] = []
        self._running: set[asyncio.Task[None]] = set()
        self._stopping = False

    async def start(self, queues: list[str]) -> None:
        self.store.on_enqueue(self._on_enqueue)

    def _on_enqueue(self, queues: set[str]) -> None:
        for queue in queues:
            event = self._wake.get(queue)
            if event is not None:
                event.set()

    async def consume(self, queue: str, handler: Handler, *, prefetch: int) -> None:
        self._wake[queue] = asyncio.Event()
        self._loops.append(asyncio.get_running_loop().create_task(self._consume_loop(queue, handler, prefetch)))

    async def _consume_loop(self, queue: str, handler: Handler, prefetch: int) -> None:
        in_flight: set[int] = set()
        wake = self._wake[queue]
        while not self._stopping:
            wake.clear()
            free = prefetch - len(in_flight)
            try:
                rows = await self._ready(queue, free, in_flight) if free > 0 else []
            except StoreError:  # the store is away: keep polling, or this queue stops for good
                log.warning("queue=%s store unavailable; polling again", queue)
                rows = []
            for row in rows:
                in_flight.add(row.id)
                task = asyncio.get_running_loop().create_task(self._run(row, handler, in_flight))
                self._running.add(task)
                task.add_done_callback(self._running.discard)
            if len(rows) < free or free <= 0:
                await self._wait(wake, queue)

    async def _wait(self, wake: asyncio.Event, queue: str) -> None:
        try:
            await asyncio.wait_for(wake.wait(), self.poll_secs)
        except asyncio.TimeoutError:
            pass

    async def _ready(self, queue: str, limit: int, in_flight: set[int]) -> list[outbox.OutboxRow]:
        def query(connection: object) -> list[outbox.OutboxRow]:
            t = outbox_table
            stmt = (select(t).where(t.c.queue == queue, t.c.available_at <= time.time())
                    .order_by(t.c.id).limit(limit + len(in_flight)))
            rows = connection.execute(stmt)  # type: ignore[attr-defined]
            return [outbox.OutboxRow(r.id, r.queue, r.body, _headers(r.headers), r.delivery_count)
                    for r in rows if r.id not in in_flight][:limit]

        return await self.store.read(query)

    async def _run(self, row: outbox.OutboxRow, handler: Handler, in_flight: set[int]) -> None:
        envelope = Envelope(row.queue, row.body, row.headers, redelivered=row.delivery_count > 0)
        try:
            try:
                await handler(envelope)
            except Exception as exc:  # handlers raise to ask for redelivery
                await self._retry_later(row, exc)
            else:
                await self.store.write(lambda c: outbox.remove_one(c, row.id))
        except StoreError:  # the row stays in the outbox and is taken again once the store answers
            log.warning("queue=%s item=%s store unavailable; will run again", row.queue, row.id)
        finally:
            in_flight.discard(row.id)
            if row.queue in self._wake:
                self._wake[row.queue].set()

    async def _retry_later(self, row: outbox.OutboxRow, exc: Exception) -> None:
        count = row.delivery_count + 1
        log.warning("queue=%s item=%s handler failed (%s), try %d", row.queue, row.id, type(exc).__name__, count)

        def put_back(connection: object) -> None:
            from sqlalchemy import update

            connection.execute(update(outbox_table).where(outbox_table.c.id == row.id)  # type: ignore[attr-defined]
                               .values(delivery_count=count))
            if count >= self.max_deliveries:
                outbox.move(connection, [row.id], dead_letter_queue(row.queue), "delivery limit reached")  # type: ignore[arg-type]
            else:
                outbox.release(connection, [row.id], delay_secs=min(2.0 ** count / 4, 30.0))  # type: ignore[arg-type]

        await self.store.write(put_back)

    async def depth(self, queue: str) -> int | None:
        return await self.store.read(lambda c: outbox.count(c, queue))

    async def stop_consuming(self) -> None:
        self._stopping = True
        for event in self._wake.values():
            event.set()
        if self._loops:
            await asyncio.gather(*self._loops, return_exceptions=True)
        if self._running:
            await asyncio.gather(*list(self._running), return_exceptions=True)

    async def close(self) -> None:
        await self.stop_consuming()


def _headers(text: str) -> dict[str, str]:
    import orjson

    return orjson.loads(text)
