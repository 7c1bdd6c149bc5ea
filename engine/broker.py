"""The Broker contract: how work queued in the store's outbox reaches the workers.

The store is the system of record.  Every stage writes the work it hands on as an outbox row in
the same transaction as its state change (engine/outbox.py).  A broker then gets that work to
the consumers of the queue:

- RabbitMQ (engine/brokers/rabbitmq.py): a relay publishes outbox rows with publisher confirms
  and deletes them once confirmed; consumers use manual acks, so a crash redelivers.
- Embedded (engine/brokers/embedded.py): consumers claim outbox rows in place, with a lease.

Both give at-least-once delivery to a handler, pass tests/engine/test_broker_contract.py, and
hold no work only in memory.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(slots=True)
class Envelope:
    """One piece of work handed to a handler."""

    queue: str
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    redelivered: bool = False


Handler = Callable[[Envelope], Awaitable[None]]


class Broker(Protocol):
    """A transport between stages.  Handlers that return normally ack; handlers that raise requeue."""

    name: str

    async def start(self, queues: list[str]) -> None:
        """Connect and declare ``queues`` (each with its .dlq).  Raises BrokerUnavailable when it cannot
        connect at all; later connection losses are retried with backoff in the background."""

    async def consume(self, queue: str, handler: Handler, *, prefetch: int) -> None:
        """Start calling ``handler`` for ``queue``, at most ``prefetch`` at once.  A handler that
        raises leaves the work to be delivered again (after a short pause)."""

    async def depth(self, queue: str) -> int | None:
        """How many messages wait in ``queue`` (None when unknown)."""

    async def stop_consuming(self) -> None:
        """Take no new work; wait for handlers already running to finish."""

    async def close(self) -> None:
        """Stop the relay and consumers and disconnect."""
