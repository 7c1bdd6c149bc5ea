"""SIGKILL on a real `hl7bridge run` in the middle of 1,000 messages sent over several
connections, then a restart on the same store: every message that got AA is delivered at least
once, and a message delivered twice carries the same Idempotency-Key both times."""

from __future__ import annotations

from pathlib import Path

import pytest
from hl7b_testkit import HttpReceiver, wait_until

from faults.fault_kit import (acked_count, delete_queues, keys_by_control_id, restart_and_expect_delivered, start_engine,
                              start_senders)

TOTAL, CONNECTIONS, KILL_AFTER = 1000, 4, 300


def kill_mid_stream_and_recover(tmp_path: Path, receiver: HttpReceiver, *, broker: str, channel: str) -> None:
    engine, port = start_engine(tmp_path, receiver, store=f"sqlite:///{tmp_path}/store.db", broker=broker,
                                channel=channel)
    senders = start_senders(port, "K", TOTAL, CONNECTIONS)
    wait_until(lambda: acked_count(senders) >= KILL_AFTER, 60, f"{KILL_AFTER} ACKs before the kill")
    engine.kill()
    at_kill = set(keys_by_control_id(receiver))
    for sender in senders:
        sender.join(30)
    acked = {c for s in senders for c in s.acked}
    assert all(not s.other for s in senders), "only AA was expected before the kill"
    assert KILL_AFTER <= len(acked) < TOTAL, "the kill did not land mid-stream"

    assert acked - at_kill, "every AA'd message was delivered before the kill: recovery was not tested"
    keys = restart_and_expect_delivered(engine, receiver, acked)
    mixed = [c for c in acked if len(set(keys[c])) != 1]
    assert not mixed, f"{len(mixed)} message(s) redelivered under another Idempotency-Key"


def test_sigkill_mid_stream_loses_nothing_acked_with_the_embedded_broker(tmp_path: Path, receiver: HttpReceiver,
                                                                        unique: str) -> None:
    kill_mid_stream_and_recover(tmp_path, receiver, broker="embedded", channel=f"kill_{unique}")


@pytest.mark.rabbitmq
def test_sigkill_mid_stream_loses_nothing_acked_with_rabbitmq(tmp_path: Path, receiver: HttpReceiver,
                                                             amqp_url: str, unique: str) -> None:
    channel = f"kill_{unique}"
    try:
        kill_mid_stream_and_recover(tmp_path, receiver, broker=amqp_url, channel=channel)
    finally:
        delete_queues(amqp_url, channel)
