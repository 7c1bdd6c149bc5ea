"""The amqp destination against the real RabbitMQ, and the channel destination chaining two channels."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pika
import pytest
from sqlalchemy import text

from hl7bridge.channels.load import load_config_text
from hl7bridge.connectors.mllp import MllpClient
from hl7bridge.engine.app import Engine
from hl7b_testkit import free_port, hl7, msa


async def wait_for(predicate, timeout: float = 20) -> None:  # type: ignore[no-untyped-def]
    async def poll() -> None:
        while not await predicate():
            await asyncio.sleep(0.05)
    await asyncio.wait_for(poll(), timeout)


@pytest.mark.rabbitmq
async def test_an_amqp_destination_publishes_with_the_delivery_ids(tmp_path: Path, amqp_url: str, unique: str) -> None:
    exchange, queue = f"svc_{unique}", f"svc_{unique}_inbox"
    admin = pika.BlockingConnection(pika.URLParameters(amqp_url))
    channel = admin.channel()
    channel.exchange_declare(exchange, exchange_type="direct", durable=False, auto_delete=False)
    channel.queue_declare(queue, arguments={"x-queue-type": "classic"})
    channel.queue_bind(queue, exchange, routing_key="adt")
    port = free_port()
    engine = Engine(load_config_text(f"""
engine: {{store: "sqlite:///{tmp_path}/s.db", broker: embedded}}
channels:
  feed:
    source: {{type: mllp, listen: "127.0.0.1:{port}"}}
    destinations:
      service: {{type: amqp, endpoint: "{amqp_url}", exchange: {exchange}, routing_key: adt}}
"""), config_dir=tmp_path)
    await engine.start()
    client = MllpClient("127.0.0.1", port, timeout_secs=10)
    try:
        assert msa(await client.send(hl7("Q1")))[0] == "AA"

        async def delivered() -> bool:
            return await engine.store.read(lambda c: c.execute(text(
                "select count(*) from deliveries where status = 'DELIVERED'")).scalar_one()) == 1
        await wait_for(delivered)
        method, properties, body = channel.basic_get(queue, auto_ack=True)
        assert method is not None and body.startswith(b"MSH|") and b"|Q1|" in body
        assert properties.headers["Idempotency-Key"] == properties.message_id and properties.correlation_id
    finally:
        await client.close()
        await engine.stop()
        channel.queue_delete(queue)
        channel.exchange_delete(exchange)
        admin.close()


async def test_a_channel_destination_hands_the_message_to_another_channel(tmp_path: Path) -> None:
    port = free_port()
    engine = Engine(load_config_text(f"""
engine: {{store: "sqlite:///{tmp_path}/s.db", broker: embedded}}
channels:
  front:
    source: {{type: mllp, listen: "127.0.0.1:{port}"}}
    steps: [{{set: {{path: MSH-5, value: BACKEND}}}}]
    destinations:
      onward: {{type: channel, channel: back}}
  back:
    source: {{type: mllp, listen: "127.0.0.1:{free_port()}"}}
    filter: {{conditions: [{{path: MSH-5, equals: BACKEND}}]}}
    destinations:
      out: {{type: file, directory: "{tmp_path}/out"}}
"""), config_dir=tmp_path)
    await engine.start()
    client = MllpClient("127.0.0.1", port, timeout_secs=10)
    try:
        assert msa(await client.send(hl7("H1")))[0] == "AA"

        async def arrived() -> bool:
            return (tmp_path / "out").exists() and any((tmp_path / "out").iterdir())
        await wait_for(arrived)
        rows = await engine.store.read(lambda c: c.execute(text(
            "select channel, source, status from messages order by received_at")).all())
        assert [tuple(r) for r in rows] == [("front", "mllp", "DELIVERED"), ("back", "channel", "DELIVERED")]
        assert b"|BACKEND|" in next((tmp_path / "out").iterdir()).read_bytes()
        correlations = await engine.store.read(lambda c: c.execute(text(
            "select distinct correlation_id from messages")).all())
        assert len(correlations) == 1  # the correlation id follows the message into the next channel
    finally:
        await client.close()
        await engine.stop()
