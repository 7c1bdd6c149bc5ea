"""SIGTERM while messages are in flight on several connections: the engine stops intake, answers
what it received, exits 0, and every message it answered AA is in the store (and is delivered
once the engine runs again)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hl7b_testkit import HttpReceiver, wait_until

from faults.fault_kit import (acked_count, control_ids, delete_queues, list_json, restart_and_expect_delivered,
                              start_engine, start_senders)

TOTAL, CONNECTIONS, STOP_AFTER = 1000, 4, 200


def stop_mid_stream(tmp_path: Path, receiver: HttpReceiver, *, broker: str, channel: str) -> None:
    engine, port = start_engine(tmp_path, receiver, store=f"sqlite:///{tmp_path}/store.db", broker=broker,
                                channel=channel)
    senders = start_senders(port, "T", TOTAL, CONNECTIONS)
    wait_until(lambda: acked_count(senders) >= STOP_AFTER, 60, f"{STOP_AFTER} ACKs before SIGTERM")
    assert engine.stop() == 0, engine.log.read_text()[-3000:]  # SIGTERM, then wait for the exit
    for sender in senders:
        sender.join(30)
    acked = {c for s in senders for c in s.acked}
    assert STOP_AFTER <= len(acked) < TOTAL, "SIGTERM did not land mid-stream"
    assert all(not s.other for s in senders), "a message got a NAK during the graceful stop"
    missing = acked - control_ids(list_json(engine))
    assert not missing, f"{len(missing)} AA'd message(s) not in the store after SIGTERM"

    # what was in flight at the stop is finished by the next run
    restart_and_expect_delivered(engine, receiver, acked, receive_secs=60)


def test_sigterm_mid_stream_exits_0_with_every_acked_message_stored(tmp_path: Path, receiver: HttpReceiver,
                                                                    unique: str) -> None:
    stop_mid_stream(tmp_path, receiver, broker="embedded", channel=f"term_{unique}")


@pytest.mark.rabbitmq
def test_sigterm_mid_stream_with_rabbitmq_exits_0_with_every_acked_message_stored(
        tmp_path: Path, receiver: HttpReceiver, amqp_url: str, unique: str) -> None:
    channel = f"term_{unique}"
    try:
        stop_mid_stream(tmp_path, receiver, broker=amqp_url, channel=channel)
    finally:
        delete_queues(amqp_url, channel)
