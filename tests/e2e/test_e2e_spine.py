"""The spine end to end: `hl7bridge run` as a subprocess, HL7v2 over real MLLP sockets, a real
HTTP receiver, and the store read back through the CLI -- with the embedded broker, with
RabbitMQ, and with PostgreSQL as the store."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from hl7b_testkit import EngineProcess, channel_queues, delete_queues, engine_config, HttpReceiver, MllpTestClient, free_port, hl7, msa, wait_until


@pytest.fixture()
def receiver() -> Iterator[HttpReceiver]:
    r = HttpReceiver()
    yield r
    r.close()


def start_engine(tmp_path: Path, receiver: HttpReceiver, *, store: str, broker: str, channel: str,
                 max_attempts: int = 5) -> tuple[EngineProcess, int]:
    port = free_port()
    text = engine_config(store=store, broker=broker, port=port, http_url=receiver.url, channel=channel,
                         archive=str(tmp_path / "archive"), max_attempts=max_attempts)
    return EngineProcess(tmp_path, text).start(), port


def list_json(engine: EngineProcess, *args: str) -> list[dict]:
    result = engine.cli("messages", "list", "--json", *args)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def delivered(engine: EngineProcess, count: int) -> bool:
    return len(list_json(engine, "--status", "DELIVERED")) >= count


def run_stream(tmp_path: Path, receiver: HttpReceiver, *, store: str, broker: str, channel: str) -> None:
    engine, port = start_engine(tmp_path, receiver, store=store, broker=broker, channel=channel)
    try:
        stream_through(engine, port, receiver, tmp_path)
    finally:
        assert engine.stop() == 0
        if broker.startswith("amqp"):
            delete_queues(broker, channel_queues(channel, ["service", "archive"]))


def stream_through(engine: EngineProcess, port: int, receiver: HttpReceiver, tmp_path: Path) -> None:
    client = MllpTestClient(port)
    acks = [msa(client.send(hl7(f"C{i}", message_type="ORU^R01" if i % 2 else "ADT^A01"))) for i in range(20)]
    assert acks == [("AA", f"C{i}") for i in range(20)]
    filtered = msa(client.send(hl7("SIU1", message_type="SIU^S12")))
    assert filtered == ("AA", "SIU1")  # accepted, stored, then filtered by the channel
    requests = receiver.wait_for(20)
    wait_until(lambda: delivered(engine, 20), 30, "20 messages DELIVERED")
    rows = list_json(engine, "--limit", "100")
    assert {r["status"] for r in rows if r["control_id"] == "SIU1"} == {"FILTERED"}
    assert len(list(Path(tmp_path / "archive").iterdir())) == 20
    keys = {r.headers["idempotency-key"] for r in requests}
    assert len(keys) == 20 and all(r.headers["x-correlation-id"] for r in requests)
    sample = next(r for r in rows if r["control_id"] == "C3")
    assert sample["message_type"] == "ORU" and sample["patient_id"] == "P100"
    shown = json.loads(engine.cli("messages", "show", sample["id"], "--json").stdout)
    assert {d["destination"]: d["status"] for d in shown["deliveries"]} == {
        "service": "DELIVERED", "archive": "DELIVERED"}
    assert shown["deliveries"][0]["history"][0]["outcome"] == "success"
    client.close()


def test_a_stream_is_acked_routed_and_delivered_with_the_embedded_broker(tmp_path: Path,
                                                                          receiver: HttpReceiver) -> None:
    run_stream(tmp_path, receiver, store=f"sqlite:///{tmp_path}/store.db", broker="embedded", channel="adt")


@pytest.mark.rabbitmq
def test_a_stream_is_acked_routed_and_delivered_through_rabbitmq(tmp_path: Path, receiver: HttpReceiver,
                                                                 amqp_url: str, unique: str) -> None:
    run_stream(tmp_path, receiver, store=f"sqlite:///{tmp_path}/store.db", broker=amqp_url, channel=f"adt_{unique}")


@pytest.mark.postgres
@pytest.mark.rabbitmq
def test_a_stream_is_delivered_with_postgresql_as_the_store(tmp_path: Path, receiver: HttpReceiver, pg_url: str,
                                                           amqp_url: str, unique: str) -> None:
    run_stream(tmp_path, receiver, store=pg_url, broker=amqp_url, channel=f"adt_{unique}")


def test_503_503_200_is_delivered_once_with_one_idempotency_key(tmp_path: Path, receiver: HttpReceiver) -> None:
    receiver.script[:] = [503, 503, 200]
    engine, port = start_engine(tmp_path, receiver, store=f"sqlite:///{tmp_path}/s.db", broker="embedded",
                                channel="adt")
    try:
        client = MllpTestClient(port)
        assert msa(client.send(hl7("R1")))[0] == "AA"
        requests = receiver.wait_for(3)
        wait_until(lambda: delivered(engine, 1), 20, "DELIVERED")
        assert len({r.headers["idempotency-key"] for r in requests}) == 1
        message_id = list_json(engine)[0]["id"]
        shown = json.loads(engine.cli("messages", "show", message_id, "--json").stdout)
        service = next(d for d in shown["deliveries"] if d["destination"] == "service")
        assert [(a["outcome"], a["code"]) for a in service["history"]] == [
            ("retry", "503"), ("retry", "503"), ("success", "200")]
        assert len(receiver.requests) == 3
    finally:
        engine.stop()


def test_a_400_is_dead_lettered_and_dlq_replay_delivers_it_after_the_fix(tmp_path: Path,
                                                                         receiver: HttpReceiver) -> None:
    receiver.default_status = 400
    engine, port = start_engine(tmp_path, receiver, store=f"sqlite:///{tmp_path}/s.db", broker="embedded",
                                channel="adt")
    try:
        client = MllpTestClient(port)
        assert msa(client.send(hl7("D1")))[0] == "AA"
        wait_until(lambda: list_json(engine, "--status", "DEAD_LETTERED"), 20, "DEAD_LETTERED")
        dead = json.loads(engine.cli("dlq", "list", "--json").stdout)
        assert len(dead) == 1 and dead[0]["destination"] == "service" and dead[0]["last_code"] == "400"
        assert dead[0]["attempts"] == 1  # a 400 is permanent: no retries
        receiver.default_status = 200  # the service is fixed
        dry = engine.cli("dlq", "replay", "--dry-run")
        assert dry.returncode == 0 and "1 message(s) would be replayed" in dry.stdout
        assert len(json.loads(engine.cli("dlq", "list", "--json").stdout)) == 1 and len(receiver.requests) == 1
        result = engine.cli("dlq", "replay", "--yes", "--actor", "oncall")
        assert result.returncode == 0 and "1 message(s) queued for replay" in result.stdout
        wait_until(lambda: delivered(engine, 1), 20, "DELIVERED after replay")
        assert json.loads(engine.cli("dlq", "list", "--json").stdout) == []
        shown = json.loads(engine.cli("messages", "show", list_json(engine)[0]["id"], "--json").stdout)
        replayed = [d for d in shown["deliveries"] if d["replay_of"] == dead[0]["id"]]
        assert len(replayed) == 1 and replayed[0]["status"] == "DELIVERED"
        assert replayed[0]["idempotency_key"] != dead[0]["idempotency_key"]
        trail = json.loads(engine.cli("audit", "list", "--json").stdout)
        assert [(r["actor"], r["action"]) for r in trail] == [("oncall", "dlq_replay")]
        assert engine.cli("audit", "verify").returncode == 0
    finally:
        engine.stop()


def test_a_duplicate_control_id_with_the_same_content_is_routed_once(tmp_path: Path,
                                                                     receiver: HttpReceiver) -> None:
    engine, port = start_engine(tmp_path, receiver, store=f"sqlite:///{tmp_path}/s.db", broker="embedded",
                                channel="adt")
    try:
        client = MllpTestClient(port)
        first = client.send(hl7("DUP1"))
        second = client.send(hl7("DUP1"))
        assert msa(first) == ("AA", "DUP1") and second == first  # the stored ACK, byte for byte
        different = client.send(hl7("DUP1", patient="P200"))  # same id, other content: a new message
        assert msa(different) == ("AA", "DUP1") and different != first
        receiver.wait_for(2)
        wait_until(lambda: delivered(engine, 2), 20, "2 DELIVERED")
        assert len(list_json(engine)) == 2
        assert len(receiver.requests) == 2
    finally:
        engine.stop()
