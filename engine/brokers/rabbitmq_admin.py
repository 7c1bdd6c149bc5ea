"""Blocking RabbitMQ calls for the CLI, the bench and tests: queue depths and queue removal.

The engine itself never blocks its loop on these; they open a short-lived connection each.
"""

from __future__ import annotations

import pika

from hl7bridge.engine.brokers.names import dead_letter_queue


def _connect(url: str, timeout_secs: float) -> pika.BlockingConnection:
    params = pika.URLParameters(url)
    params.socket_timeout = params.stack_timeout = params.blocked_connection_timeout = timeout_secs
    return pika.BlockingConnection(params)


def queue_depths(url: str, queues: list[str], *, timeout_secs: float = 10) -> dict[str, int]:
    """Ready messages per queue, read with passive declares; queues that do not exist are left out."""
    depths: dict[str, int] = {}
    connection = _connect(url, timeout_secs)
    try:
        for queue in queues:
            channel = connection.channel()
            try:
                depths[queue] = channel.queue_declare(queue, passive=True).method.message_count
                channel.close()
            except pika.exceptions.ChannelClosedByBroker:
                continue
    finally:
        connection.close()
    return depths


def delete_queues(url: str, queues: list[str], *, timeout_secs: float = 10) -> None:
    """Delete ``queues`` and their .dlq companions (missing ones are fine).  Raises pika's
    AMQPError when RabbitMQ cannot be reached."""
    connection = _connect(url, timeout_secs)
    try:
        channel = connection.channel()
        for queue in queues:
            channel.queue_delete(queue)
            channel.queue_delete(dead_letter_queue(queue))
    finally:
        connection.close()
