"""RabbitMQ through pika's AsyncioConnection, on the engine's own event loop.

- Relay: outbox rows are leased from the store, published with publisher confirms (a whole batch
  outstanding at once, not one by one), and deleted only once confirmed.  While RabbitMQ is away
  rows stay in the store and intake keeps acknowledging; after a restart whatever was not
  confirmed is published again.
- Consumers: one channel each, with prefetch and manual acks; a handler that raises is nacked
  (requeued) after a pause.  Quorum queues dead-letter a message after ``delivery_limit``
  deliveries to its .dlq (at-least-once dead-lettering).
- Connection loss: everything reconnects with exponential backoff; unconfirmed publishes are
  left in the outbox, unacked deliveries come back from RabbitMQ.
Queue arguments are set explicitly (RabbitMQ 3.10 defaults differ from later versions).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pika
from pika.adapters.asyncio_connection import AsyncioConnection

from hl7bridge.engine import outbox
from hl7bridge.engine.broker import Envelope, Handler
from hl7bridge.engine.brokers.names import dead_letter_queue
from hl7bridge.engine.futures import fail, resolve
from hl7bridge.engine.errors import StoreError
from hl7bridge.engine.retry import backoff_secs
from hl7bridge.engine.store import Store

log = logging.getLogger("hl7bridge.broker.rabbitmq")
PERSISTENT = 2


class RabbitMQBroker:
    name = "rabbitmq"

    def __init__(self, url: str, store: Store, *, queue_type: str = "quorum", relay_batch: int = 512,
                 delivery_limit: int = 20, lease_secs: float = 60.0) -> None:
        self.url, self.store, self.queue_type = url, store, queue_type
        self.relay_batch, self.delivery_limit, self.lease_secs = relay_batch, delivery_limit, lease_secs
        self._queues: list[str] = []
        self._consumers: list[tuple[str, Handler, int]] = []
        self._connection: AsyncioConnection | None = None
        self._publish_channel: Any = None
        self._pending: dict[int, asyncio.Future[None]] = {}
        self._tag = 0
        self._ready = asyncio.Event()
        self._wake = asyncio.Event()
        self._closing = False
        self._accepting = True
        self._tasks: list[asyncio.Task[None]] = []
        self._running: set[asyncio.Task[None]] = set()
        self._failures = 0

    # connection --------------------------------------------------------------------------------
    async def start(self, queues: list[str]) -> None:
        self._queues = queues
        self.store.on_enqueue(lambda _queues: self._wake.set())
        loop = asyncio.get_running_loop()
        self._tasks.append(loop.create_task(self._keep_connected()))
        self._tasks.append(loop.create_task(self._relay()))

    async def _keep_connected(self) -> None:
        while not self._closing:
            closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            try:
                await self._connect(closed)
                self._failures = 0
                await closed
            except Exception as exc:  # connection refused, auth, declare failure
                log.warning("rabbitmq unavailable (%s); retrying", type(exc).__name__)
            self._ready.clear()
            self._fail_pending()
            if self._closing:
                return
            self._failures += 1
            await asyncio.sleep(backoff_secs(self._failures, initial_secs=0.2, max_secs=10.0, jitter=0.2))

    async def _connect(self, closed: asyncio.Future[None]) -> None:
        loop = asyncio.get_running_loop()
        opened: asyncio.Future[AsyncioConnection] = loop.create_future()

        def on_open(connection: AsyncioConnection) -> None:
            resolve(opened, connection)

        def on_open_error(_connection: AsyncioConnection, exc: BaseException) -> None:
            fail(opened, ConnectionError(type(exc).__name__))

        def on_close(_connection: AsyncioConnection, exc: BaseException) -> None:
            fail(opened, ConnectionError("closed"))
            resolve(closed, None)

        params = pika.URLParameters(self.url)
        params.heartbeat = 30
        params.blocked_connection_timeout = 60
        self._connection = AsyncioConnection(params, on_open, on_open_error, on_close, custom_ioloop=loop)
        connection = await asyncio.wait_for(opened, 15)
        channel = await self._open_channel(connection)
        for queue in self._queues:
            await self._declare(channel, queue)
        channel.confirm_delivery(self._on_confirm)
        self._publish_channel, self._tag = channel, 0
        for queue, handler, prefetch in self._consumers:
            await self._start_consumer(connection, queue, handler, prefetch)
        self._ready.set()
        self._wake.set()
        log.info("rabbitmq connected; %d queues declared", len(self._queues))

    async def _open_channel(self, connection: AsyncioConnection) -> Any:
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        connection.channel(on_open_callback=lambda ch: resolve(future, ch))
        return await asyncio.wait_for(future, 15)

    async def _declare(self, channel: Any, queue: str) -> None:
        dlq = dead_letter_queue(queue)
        args: dict[str, Any] = {"x-queue-type": self.queue_type, "x-dead-letter-exchange": "",
                                "x-dead-letter-routing-key": dlq}
        if self.queue_type == "quorum":
            args |= {"x-delivery-limit": self.delivery_limit, "x-dead-letter-strategy": "at-least-once",
                     "x-overflow": "reject-publish"}
        await self._call(channel.queue_declare, queue=dlq, durable=True, arguments={"x-queue-type": self.queue_type})
        await self._call(channel.queue_declare, queue=queue, durable=True, arguments=args)

    async def _call(self, method: Any, **kwargs: Any) -> Any:
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        method(callback=lambda frame: resolve(future, frame), **kwargs)
        return await asyncio.wait_for(future, 15)

    # publishing --------------------------------------------------------------------------------
    def _on_confirm(self, frame: Any) -> None:
        method = frame.method
        ok = isinstance(method, pika.spec.Basic.Ack)
        tags = [t for t in self._pending if t <= method.delivery_tag] if method.multiple else [method.delivery_tag]
        for tag in tags:
            future = self._pending.pop(tag, None)
            if future is None:
                continue
            if ok:
                resolve(future, None)
            else:
                fail(future, ConnectionError("publish nacked by the broker"))

    def _fail_pending(self) -> None:
        for future in self._pending.values():
            fail(future, ConnectionError("connection lost before the confirm"))
        self._pending.clear()

    def _publish(self, row: outbox.OutboxRow) -> asyncio.Future[None]:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        properties = pika.BasicProperties(delivery_mode=PERSISTENT, headers=row.headers or None)
        self._publish_channel.basic_publish("", row.queue, row.body, properties)
        self._tag += 1
        self._pending[self._tag] = future
        return future

    async def _relay(self) -> None:
        while not self._closing:
            await self._ready.wait()
            self._wake.clear()
            try:
                await self._relay_batch()
            except StoreError:  # the store is away: try again, or the relay stops for good
                log.warning("relay: store unavailable; retrying")
                await asyncio.sleep(1.0)

    async def _relay_batch(self) -> None:
        """Publish one batch of ready outbox rows; remove the confirmed ones.

        SQLite (one engine process owns the store, and this relay is its only reader of the
        outbox): the batch is read, not leased -- a lease would cost a commit (an fsync) per batch.
        PostgreSQL (several engines may share it): rows are leased, and unconfirmed ones released."""
        leased = not self.store.is_sqlite
        if leased:
            rows = await self.store.write(lambda c: outbox.claim(c, limit=self.relay_batch,
                                                                 lease_secs=self.lease_secs))
        else:
            rows = await self.store.read(lambda c: outbox.peek_ready(c, limit=self.relay_batch), single=True)
        if not rows:
            await self._idle()
            return
        try:
            futures = [self._publish(row) for row in rows]
        except Exception as exc:  # channel closed under us
            log.warning("relay publish failed (%s)", type(exc).__name__)
            futures = []
        results = await asyncio.gather(*futures, return_exceptions=True)
        done = [row.id for row, result in zip(rows, results) if result is None]
        failed = [row.id for row in rows if row.id not in set(done)]
        if leased:
            await self.store.write(lambda c: (outbox.remove(c, done), outbox.release(c, failed, delay_secs=0)))
        elif done:
            await self.store.write(lambda c: outbox.remove(c, done))
        if failed:
            await asyncio.sleep(0.2)

    async def _idle(self) -> None:
        next_at = await self.store.read(outbox.next_ready_at)
        import time

        timeout = 1.0 if next_at is None else max(0.0, min(1.0, next_at - time.time()))
        try:
            await asyncio.wait_for(self._wake.wait(), timeout)
        except asyncio.TimeoutError:
            pass

    # consuming ---------------------------------------------------------------------------------
    async def consume(self, queue: str, handler: Handler, *, prefetch: int) -> None:
        self._consumers.append((queue, handler, prefetch))
        if self._ready.is_set() and self._connection is not None:
            await self._start_consumer(self._connection, queue, handler, prefetch)

    async def _start_consumer(self, connection: AsyncioConnection, queue: str, handler: Handler,
                              prefetch: int) -> None:
        channel = await self._open_channel(connection)
        await self._call(channel.basic_qos, prefetch_count=prefetch)

        def on_message(ch: Any, method: Any, properties: Any, body: bytes) -> None:
            if not self._accepting:
                return  # not acked: RabbitMQ redelivers it to another consumer or after restart
            envelope = Envelope(queue, body, dict(properties.headers or {}), redelivered=method.redelivered)
            task = asyncio.get_running_loop().create_task(self._run(ch, method.delivery_tag, envelope, handler))
            self._running.add(task)
            task.add_done_callback(self._running.discard)

        channel.basic_consume(queue, on_message, auto_ack=False)

    async def _run(self, channel: Any, tag: int, envelope: Envelope, handler: Handler) -> None:
        try:
            await handler(envelope)
        except Exception as exc:  # ask for redelivery after a pause
            log.warning("queue=%s handler failed (%s); requeued", envelope.queue, type(exc).__name__)
            await asyncio.sleep(1.0)
            _safely(channel.basic_nack, tag, requeue=True)
        else:
            _safely(channel.basic_ack, tag)

    async def depth(self, queue: str) -> int | None:
        if not self._ready.is_set() or self._connection is None:
            return None
        channel = await self._open_channel(self._connection)
        try:
            frame = await self._call(channel.queue_declare, queue=queue, passive=True)
            return int(frame.method.message_count)
        finally:
            _safely(channel.close)

    async def stop_consuming(self) -> None:
        self._accepting = False
        if self._running:
            await asyncio.gather(*list(self._running), return_exceptions=True)

    async def close(self) -> None:
        await self.stop_consuming()
        self._closing = True
        self._ready.set()
        self._wake.set()
        if self._connection is not None and not self._connection.is_closed:
            self._connection.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)




def _safely(method: Any, *args: Any, **kwargs: Any) -> None:
    try:
        method(*args, **kwargs)
    except Exception:  # the channel is gone: RabbitMQ redelivers unacked work
        log.debug("channel closed before ack/nack")
