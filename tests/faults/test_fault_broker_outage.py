"""RabbitMQ's connection cut during a stream (a TCP proxy between the engine and the shared
RabbitMQ, never a stopped service), with reconnects refused or left hanging: intake keeps
answering AA from the store, and once the link is back everything is delivered."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlparse

import pytest
from hl7b_testkit import HttpReceiver, MllpTestClient, hl7, msa, wait_until

from faults.fault_kit import body_control_id, delete_queues, delivered_ids, keys_by_control_id, start_engine
from faults.tcp_proxy import REFUSE, STALL, TcpProxy


@pytest.mark.rabbitmq
@pytest.mark.parametrize("then", [REFUSE, STALL])  # refused: RabbitMQ down; stalled: a network partition
def test_intake_keeps_acking_while_rabbitmq_is_cut_and_all_is_delivered_after(
        tmp_path: Path, receiver: HttpReceiver, amqp_url: str, unique: str, then: str,
        proxy_factory: Callable[[str, int], TcpProxy]) -> None:
    target = urlparse(amqp_url)
    proxy = proxy_factory(target.hostname or "127.0.0.1", target.port or 5672)
    broker = amqp_url.replace(target.netloc, f"{target.username}:{target.password}@127.0.0.1:{proxy.port}")
    channel = f"cut_{unique}"
    engine, port = start_engine(tmp_path, receiver, store=f"sqlite:///{tmp_path}/store.db", broker=broker,
                                channel=channel)
    try:
        client = MllpTestClient(port)
        before = [f"B{i}" for i in range(10)]
        assert [msa(client.send(hl7(c))) for c in before] == [("AA", c) for c in before]
        receiver.wait_for(len(before))
        assert proxy.forwarded >= 1  # the engine's broker link really runs through the proxy

        proxy.cut(then=then)  # every link dropped; reconnects refused, or accepted and never answered
        during = [f"D{i}" for i in range(40)]
        assert [msa(client.send(hl7(c))) for c in during] == [("AA", c) for c in during]
        wait_until(lambda: proxy.refused + proxy.stalled >= 1, 20, "the engine to try RabbitMQ again")
        got = {body_control_id(r) for r in list(receiver.requests)}
        assert not got & set(during), "delivered while the broker link was cut: the cut did not hold"

        proxy.restore()
        after = [f"A{i}" for i in range(10)]
        assert [msa(client.send(hl7(c))) for c in after] == [("AA", c) for c in after]
        everything = set(before + during + after)
        wait_until(lambda: everything <= {body_control_id(r) for r in list(receiver.requests)}, 60,
                   "every message at the HTTP receiver")
        wait_until(lambda: everything <= delivered_ids(engine), 30, "every message DELIVERED in the store")
        redelivered = {c: keys for c, keys in keys_by_control_id(receiver).items() if len(set(keys)) > 1}
        assert not redelivered, "a message was delivered again under another Idempotency-Key"
        client.close()
    finally:
        assert engine.stop() == 0, engine.log.read_text()[-3000:]
        delete_queues(amqp_url, channel)
