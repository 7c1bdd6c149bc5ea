"""AMQP destination: publish each delivery to a service's exchange, with publisher confirms.

The message carries the payload's content type, the idempotency key as ``message_id``, the
correlation id as ``correlation_id``, and both as headers.  A confirm is success; a connection
failure or an unroutable message (no queue bound yet) is retried; a nack is retried too.
pika's BlockingConnection runs in a worker thread, one publish at a time per destination.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pika

from hl7bridge.connectors.base import DeliveryContext, SendResult
from hl7bridge.engine.errors import DeliveryError


class AmqpDestination:
    def __init__(self, spec: Any) -> None:
        self.url: str = spec.endpoint
        self.exchange: str = spec.exchange
        self.routing_key: str = spec.routing_key
        self._lock = threading.Lock()
        self._connection: pika.BlockingConnection | None = None
        self._channel: Any = None

    async def send(self, payload: bytes, context: DeliveryContext) -> SendResult:
        return await asyncio.to_thread(self._publish, payload, context)

    def _publish(self, payload: bytes, context: DeliveryContext) -> SendResult:
        properties = pika.BasicProperties(
            content_type=context.content_type, delivery_mode=2, message_id=context.idempotency_key,
            correlation_id=context.correlation_id,
            headers={"Idempotency-Key": context.idempotency_key, "X-Correlation-ID": context.correlation_id,
                     "X-Message-Type": context.message_type})
        with self._lock:
            try:
                channel = self._open()
                channel.basic_publish(self.exchange, self.routing_key, payload, properties, mandatory=True)
            except pika.exceptions.UnroutableError as exc:
                raise DeliveryError("no queue is bound for this routing key", code="unroutable") from exc
            except pika.exceptions.NackError as exc:
                raise DeliveryError("the broker refused the message", code="nack") from exc
            except pika.exceptions.AMQPError as exc:
                self._reset()
                raise DeliveryError(f"AMQP publish failed ({type(exc).__name__})", code="connection") from exc
        return SendResult("confirmed")

    def _open(self) -> Any:
        if self._connection is None or self._connection.is_closed:
            params = pika.URLParameters(self.url)
            params.socket_timeout = params.stack_timeout = params.blocked_connection_timeout = 10
            self._connection = pika.BlockingConnection(params)
            self._channel = self._connection.channel()
            self._channel.confirm_delivery()
        return self._channel

    def _reset(self) -> None:
        connection, self._connection, self._channel = self._connection, None, None
        if connection is not None and connection.is_open:
            try:
                connection.close()
            except pika.exceptions.AMQPError:
                pass

    async def close(self) -> None:
        await asyncio.to_thread(self._reset)
