"""One contract, every broker backend: what the pipeline relies on from a Broker."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from hl7bridge.engine import outbox
from hl7bridge.engine.broker import Broker, Envelope
from hl7bridge.engine.brokers.embedded import EmbeddedBroker
from hl7bridge.engine.store import Store
from hl7b_testkit import delete_queues

BACKENDS = ["embedded", pytest.param("rabbitmq", marks=pytest.mark.rabbitmq)]


class Harness:
    def __init__(self, store: Store, broker: Broker, queue: str) -> None:
        self.store, self.broker, self.queue = store, broker, queue
        self.seen: list[Envelope] = []
        self.arrived = asyncio.Event()

    async def put(self, body: bytes, delay_secs: float = 0.0, queue: str | None = None) -> None:
        await self.store.write(lambda c: outbox.enqueue(c, queue or self.queue, body, delay_secs=delay_secs))

    async def wait_seen(self, count: int, timeout: float = 15.0) -> None:
        async def until() -> None:
            while len(self.seen) < count:
                self.arrived.clear()
                await self.arrived.wait()
        await asyncio.wait_for(until(), timeout)


def make_broker(kind: str, store: Store, request: pytest.FixtureRequest) -> Broker:
    if kind == "embedded":
        return EmbeddedBroker(store, poll_secs=0.2)
    from hl7bridge.engine.brokers.rabbitmq import RabbitMQBroker

    return RabbitMQBroker(request.getfixturevalue("amqp_url"), store, queue_type="quorum")


@pytest.fixture(params=BACKENDS)
async def harness(request: pytest.FixtureRequest, tmp_path: Path, unique: str) -> AsyncIterator[Harness]:
    store = Store(f"sqlite:///{tmp_path}/contract.db")
    await store.open()
    broker = make_broker(request.param, store, request)
    queue = f"contract_{unique}"
    await broker.start([queue, f"{queue}.other"])
    yield Harness(store, broker, queue)
    await broker.close()
    await store.close()
    if request.param == "rabbitmq":
        delete_queues(request.getfixturevalue("amqp_url"), [queue, f"{queue}.other"])


def recorder(h: Harness, action: Callable[[Envelope], None] | None = None):
    async def handle(envelope: Envelope) -> None:
        if action is not None:
            action(envelope)
        h.seen.append(envelope)
        h.arrived.set()
    return handle


async def test_work_written_to_the_outbox_reaches_the_consumer_once(harness: Harness) -> None:
    await harness.broker.consume(harness.queue, recorder(harness), prefetch=8)
    for i in range(5):
        await harness.put(f"m{i}".encode())
    await harness.wait_seen(5)
    assert sorted(e.body for e in harness.seen) == [b"m0", b"m1", b"m2", b"m3", b"m4"]
    assert all(e.queue == harness.queue for e in harness.seen)


async def test_a_handler_that_raises_gets_the_work_again(harness: Harness) -> None:
    failures = {"left": 1}

    def fail_once(envelope: Envelope) -> None:
        if failures["left"]:
            failures["left"] -= 1
            raise RuntimeError("transient")

    await harness.broker.consume(harness.queue, recorder(harness, fail_once), prefetch=4)
    await harness.put(b"again")
    await harness.wait_seen(1, timeout=20)
    assert harness.seen[0].body == b"again" and failures["left"] == 0


async def test_delayed_work_is_not_handed_out_before_its_time(harness: Harness) -> None:
    await harness.broker.consume(harness.queue, recorder(harness), prefetch=4)
    queued_at = time.monotonic()
    await harness.put(b"later", delay_secs=0.8)
    await harness.put(b"now")
    await harness.wait_seen(2)
    handled_after = time.monotonic() - queued_at
    assert [e.body for e in harness.seen] == [b"now", b"later"]  # a delay never holds up other work
    assert handled_after >= 0.8


async def test_prefetch_bounds_the_work_in_progress(harness: Harness) -> None:
    release = asyncio.Event()
    running = {"now": 0, "most": 0}

    async def slow(envelope: Envelope) -> None:
        running["now"] += 1
        running["most"] = max(running["most"], running["now"])
        harness.arrived.set()
        await release.wait()
        running["now"] -= 1
        harness.seen.append(envelope)

    await harness.broker.consume(harness.queue, slow, prefetch=2)
    for i in range(6):
        await harness.put(str(i).encode())

    async def two_running() -> None:
        while running["now"] < 2:
            harness.arrived.clear()
            await harness.arrived.wait()
    await asyncio.wait_for(two_running(), 15)
    assert running["most"] == 2
    release.set()
    await harness.wait_seen(6)
    assert running["most"] == 2


async def test_queues_are_kept_apart(harness: Harness) -> None:
    await harness.broker.consume(harness.queue, recorder(harness), prefetch=4)
    await harness.put(b"elsewhere", queue=f"{harness.queue}.other")
    await harness.put(b"here")
    await harness.wait_seen(1)
    assert [e.body for e in harness.seen] == [b"here"]


@pytest.mark.parametrize("kind", BACKENDS)
async def test_work_outlives_a_restart_with_no_consumer(kind: str, tmp_path: Path, unique: str,
                                                        request: pytest.FixtureRequest) -> None:
    queue = f"restart_{unique}"
    store = Store(f"sqlite:///{tmp_path}/restart.db")
    await store.open()
    broker = make_broker(kind, store, request)
    await broker.start([queue])
    await store.write(lambda c: outbox.enqueue(c, queue, b"kept"))
    await broker.close()
    await store.close()

    store = Store(f"sqlite:///{tmp_path}/restart.db")
    await store.open()
    await store.write(outbox.reset_claims)
    broker = make_broker(kind, store, request)
    await broker.start([queue])
    h = Harness(store, broker, queue)
    await broker.consume(queue, recorder(h), prefetch=4)
    await h.wait_seen(1, timeout=20)
    assert h.seen[0].body == b"kept"
    await broker.close()
    await store.close()
    if kind == "rabbitmq":
        delete_queues(request.getfixturevalue("amqp_url"), [queue])


@pytest.mark.rabbitmq
def test_queue_depth_is_read_from_rabbitmq(amqp_url: str, unique: str) -> None:
    import pika

    from hl7bridge.engine.brokers.rabbitmq_admin import delete_queues, queue_depths

    queue = f"depth_{unique}"
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    channel = connection.channel()
    channel.queue_declare(queue, durable=True, arguments={"x-queue-type": "classic"})
    for _ in range(3):
        channel.basic_publish("", queue, b"x")
    connection.close()
    try:
        assert queue_depths(amqp_url, [queue, f"missing_{unique}"]) == {queue: 3}
    finally:
        delete_queues(amqp_url, [queue])
