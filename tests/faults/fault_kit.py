"""Helpers shared by the fault tests: engine start-up, ledger reads through the CLI, senders."""

from __future__ import annotations

import json
import threading
from collections import defaultdict
from pathlib import Path

from hl7b_testkit import (EngineProcess, HttpReceiver, MllpTestClient, Received, engine_config, free_port, hl7, msa,
                          wait_until)


def start_engine(tmp_path: Path, receiver: HttpReceiver, *, store: str, broker: str, channel: str,
                 port: int | None = None) -> tuple[EngineProcess, int]:
    port = port or free_port()
    text = engine_config(store=store, broker=broker, port=port, http_url=receiver.url, channel=channel,
                         archive=str(tmp_path / "archive"))
    return EngineProcess(tmp_path, text).start(), port


def list_json(engine: EngineProcess, *args: str) -> list[dict]:
    result = engine.cli("messages", "list", "--json", "--limit", "100000", *args)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def control_ids(rows: list[dict]) -> set[str]:
    return {row["control_id"] for row in rows}


def delivered_ids(engine: EngineProcess) -> set[str]:
    return control_ids(list_json(engine, "--status", "DELIVERED"))


def body_control_id(request: Received) -> str:
    """MSH-10 of a delivered HL7v2 body (the test channel has no transform steps)."""
    return request.body.split(b"\r", 1)[0].split(b"|")[9].decode()


def keys_by_control_id(receiver: HttpReceiver) -> dict[str, list[str]]:
    """Every Idempotency-Key the receiver saw, per delivered message, in arrival order."""
    with receiver.lock:
        requests = list(receiver.requests)
    keys: dict[str, list[str]] = defaultdict(list)
    for request in requests:
        keys[body_control_id(request)].append(request.headers["idempotency-key"])
    return keys


class StreamSender(threading.Thread):
    """Sends ``control_ids`` over one MLLP connection, one at a time, recording each AA'd id.

    The engine may vanish mid-stream (a kill or a stop): the thread then simply ends.
    """

    def __init__(self, port: int, ids: list[str]) -> None:
        super().__init__(daemon=True)
        self.port, self.ids = port, ids
        self.acked: list[str] = []
        self.other: list[tuple[str, str]] = []  # any answer that was not AA for the id sent

    def run(self) -> None:
        try:
            client = MllpTestClient(self.port, timeout=30)
        except OSError:
            return
        try:
            for control_id in self.ids:
                code, echoed = msa(client.send(hl7(control_id)))
                if code == "AA" and echoed == control_id:
                    self.acked.append(control_id)
                else:
                    self.other.append((code, echoed))
        except (OSError, ConnectionError):
            pass  # the engine went away mid-stream
        finally:
            client.close()


def start_senders(port: int, prefix: str, total: int, connections: int) -> list[StreamSender]:
    senders = [StreamSender(port, [f"{prefix}{i}" for i in range(c, total, connections)])
               for c in range(connections)]
    for sender in senders:
        sender.start()
    return senders


def restart_and_expect_delivered(engine: EngineProcess, receiver: HttpReceiver, acked: set[str], *,
                                 receive_secs: float = 90) -> dict[str, list[str]]:
    """Start the engine again on the same store; every AA'd message must reach the receiver and be
    DELIVERED.  Returns the Idempotency-Keys seen per control id."""
    engine.start()  # same config, same store, same port
    try:
        wait_until(lambda: acked <= set(keys_by_control_id(receiver)), receive_secs,
                   "every AA'd message at the HTTP receiver")
        wait_until(lambda: acked <= delivered_ids(engine), 30, "every AA'd message DELIVERED in the store")
        return keys_by_control_id(receiver)
    finally:
        assert engine.stop() == 0, engine.log.read_text()[-3000:]


def acked_count(senders: list[StreamSender]) -> int:
    return sum(len(s.acked) for s in senders)


def delete_queues(amqp_url: str, channel: str) -> None:
    """Remove one test's queues from the shared RabbitMQ (best effort: the test has its answer)."""
    from hl7b_testkit import channel_queues
    from hl7b_testkit import delete_queues as delete

    delete(amqp_url, channel_queues(channel, ["service", "archive"]))
