"""The pipeline in one process: filters, steps, destinations, failure isolation -- with real
sockets (MLLP in, HTTP and MLLP out) and a real SQLite store, on the embedded broker."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from sqlalchemy import text

from hl7bridge.channels.load import load_config_text
from hl7bridge.connectors.mllp import MllpClient, MllpServer
from hl7bridge.engine.app import Engine
from hl7b_testkit import HttpReceiver, control_id_of, free_port, hl7, msa

Start = Callable[[str], Awaitable[tuple[Engine, MllpClient]]]


@pytest.fixture()
async def start(tmp_path: Path) -> AsyncIterator[Start]:
    engines: list[tuple[Engine, MllpClient]] = []

    async def run(channel_yaml: str) -> tuple[Engine, MllpClient]:
        port = free_port()
        config = load_config_text(f"""
engine: {{store: "sqlite:///{tmp_path}/s.db", broker: embedded}}
channels:
  feed:
    source: {{type: mllp, listen: "127.0.0.1:{port}"}}
{channel_yaml}""")
        engine = Engine(config, config_dir=tmp_path)
        await engine.start()
        client = MllpClient("127.0.0.1", port, timeout_secs=10)
        engines.append((engine, client))
        return engine, client

    yield run
    for engine, client in engines:
        await client.close()
        await engine.stop()


async def wait_rows(engine: Engine, sql: str, count: int, timeout: float = 15) -> list:
    async def poll() -> list:
        while True:
            rows = await engine.store.read(lambda c: c.execute(text(sql)).all())
            if len(rows) >= count:
                return rows
            await asyncio.sleep(0.02)
    return await asyncio.wait_for(poll(), timeout)


async def test_filters_by_type_and_field_then_steps_map_the_message(start: Start, tmp_path: Path) -> None:
    (tmp_path / "wards.csv").write_text("W1,NORTHWING\n")
    engine, client = await start(f"""
    filter:
      message_types: [ADT^A01, ADT^A08]
      conditions: [{{path: "PID-3[1].4", equals: HOSP}}]
    steps:
      - set: {{path: MSH-6, value: CENTRAL}}
      - copy: {{from: "PID-3[1].1", to: PID-2}}
      - map: {{path: PV1-3.1, csv: wards.csv, default: UNKNOWN}}
      - python: "hl7b_testkit:mark_mapped"
    destinations:
      out: {{type: file, directory: "{tmp_path}/out"}}
""")
    assert msa(await client.send(hl7("K1", extra="PV1|1|I|W1^101")))[0] == "AA"
    assert msa(await client.send(hl7("K2", message_type="ADT^A03")))[0] == "AA"      # other event
    assert msa(await client.send(hl7("K3").replace(b"^HOSP^", b"^OTHER^")))[0] == "AA"  # other facility
    rows = await wait_rows(engine, "select control_id, status from messages "
                                   "where status in ('DELIVERED', 'FILTERED')", 3)
    assert dict(rows) == {"K1": "DELIVERED", "K2": "FILTERED", "K3": "FILTERED"}
    written = next((tmp_path / "out").iterdir()).read_bytes().split(b"\r")
    assert written[0].split(b"|")[4:6] == [b"MAPPED", b"CENTRAL"]
    pid = next(s for s in written if s.startswith(b"PID")).split(b"|")
    assert pid[2] == b"P100"
    assert next(s for s in written if s.startswith(b"PV1")).split(b"|")[3] == b"NORTHWING^101"


async def test_a_failing_destination_does_not_hold_up_another(start: Start) -> None:
    down, up = HttpReceiver(default_status=503), HttpReceiver()
    try:
        engine, client = await start(f"""
    destinations:
      down: {{type: http, endpoint: "{down.url}", retry: {{max_attempts: 50, initial_backoff_ms: 200}}}}
      up: {{type: http, endpoint: "{up.url}"}}
""")
        for i in range(10):
            assert msa(await client.send(hl7(f"F{i}")))[0] == "AA"
        await asyncio.to_thread(up.wait_for, 10)
        rows = await wait_rows(engine, "select status from deliveries where destination = 'up' and status = 'DELIVERED'", 10)
        assert len(rows) == 10
        pending = await engine.store.read(lambda c: c.execute(text(
            "select count(*) from deliveries where destination = 'down' and status = 'QUEUED'")).scalar_one())
        assert pending == 10
    finally:
        down.close()
        up.close()


class FakeLis:
    """A LIS on a real MLLP socket answering each message with the next scripted ACK code."""

    def __init__(self, codes: list[str]) -> None:
        self.codes = codes
        self.received: list[bytes] = []
        self.server = MllpServer("127.0.0.1", 0, self.answer)

    async def answer(self, message: bytes, peer: str) -> bytes:
        self.received.append(message)
        code = self.codes.pop(0) if self.codes else "AA"
        control_id = message.split(b"\r")[0].split(b"|")[9]
        echoed = b"WRONG" if code == "MISMATCH" else control_id
        code = "AA" if code == "MISMATCH" else code
        return b"MSH|^~\\&|LIS|LAB|HL7BRIDGE|HOSP|20240101||ACK|A1|P|2.5.1\rMSA|" + code.encode() + b"|" + echoed + b"\r"


@pytest.mark.parametrize("codes, status, attempts", [
    (["AA"], "DELIVERED", ["success"]),
    (["AE", "AA"], "DELIVERED", ["retry", "success"]),
    (["MISMATCH", "CA"], "DELIVERED", ["retry", "success"]),
    (["AR"], "DEAD_LETTERED", ["dead_letter"]),
    (["CR"], "DEAD_LETTERED", ["dead_letter"]),
])
async def test_an_mllp_destination_is_decided_by_the_peers_ack(start: Start, codes: list[str], status: str,
                                                              attempts: list[str]) -> None:
    lis = FakeLis(list(codes))
    await lis.server.start()
    try:
        engine, client = await start(f"""
    destinations:
      lis: {{type: mllp, endpoint: "127.0.0.1:{lis.server.port}", timeout_secs: 5,
            retry: {{max_attempts: 3, initial_backoff_ms: 20}}}}
""")
        assert msa(await client.send(hl7("L1")))[0] == "AA"
        rows = await wait_rows(engine, f"select status from deliveries where status = '{status}'", 1)
        assert rows
        history = await engine.store.read(lambda c: c.execute(text(
            "select outcome from attempts order by number")).scalars().all())
        assert history == attempts
        assert all(m.split(b"\r")[0].split(b"|")[9] == b"L1" for m in lis.received)
    finally:
        await lis.server.stop()


async def test_hl7v2_to_fhir_feeds_an_http_destination_with_a_fhir_bundle(start: Start) -> None:
    receiver = HttpReceiver()
    try:
        engine, client = await start(f"""
    steps: [hl7v2_to_fhir]
    destinations:
      patient_service: {{type: http, endpoint: "{receiver.url}"}}
""")
        fixture = Path(__file__).resolve().parents[1] / "fixtures" / "hl7v2" / "adt_a01.hl7"
        assert msa(await client.send(fixture.read_bytes()))[0] == "AA"
        request = (await asyncio.to_thread(receiver.wait_for, 1))[0]
        bundle = json.loads(request.body)
        assert request.headers["content-type"] == "application/fhir+json"
        assert bundle["resourceType"] == "Bundle" and bundle["type"] == "transaction"
        assert any(e["resource"]["resourceType"] == "Patient" for e in bundle["entry"])
    finally:
        receiver.close()


async def test_the_engine_prunes_content_past_retention_by_itself(start: Start, tmp_path: Path) -> None:
    engine, client = await start(f"""
    retention: {{content_days: 1}}
    destinations:
      out: {{type: file, directory: "{tmp_path}/out"}}
""")
    assert msa(await client.send(hl7("OLD1")))[0] == "AA"
    await wait_rows(engine, "select id from messages where status = 'DELIVERED'", 1)
    await engine.store.write(lambda c: c.execute(text("update messages set received_at = received_at - 3 * 86400")))
    engine.prune_interval_secs = 0.05
    if engine._pruner is not None:
        engine._pruner.cancel()  # the first run happened at start, when nothing was due
    engine._pruner = asyncio.get_running_loop().create_task(engine._prune_periodically())
    rows = await wait_rows(engine, "select id from messages where content_pruned_at is not null", 1)
    assert len(rows) == 1
    assert await engine.store.read(lambda c: c.execute(text("select count(*) from contents")).scalar_one()) == 0
    trail = await engine.store.read(lambda c: c.execute(text("select actor, action from audit")).all())
    assert ("hl7bridge-engine", "prune") in [tuple(r) for r in trail]


def test_mapping_code_sees_the_original_message_after_steps_changed_the_payload(tmp_path: Path) -> None:
    from types import SimpleNamespace

    from hl7bridge.channels.program import ChannelProgram
    from hl7bridge.channels.spec import StepSpec

    spec = SimpleNamespace(filter=None, steps=[StepSpec(name="set", options={"path": "MSH-5", "value": "NEW"})])
    payload = ChannelProgram(spec, tmp_path).run(hl7("O1"), "x-application/hl7-v2+er7")
    assert payload is not None and payload.data.get("MSH-5") == "NEW"
    assert payload.original.get("MSH-5") == "RECVAPP"


def fail_once(control_id: str) -> Callable[[bytes], int]:
    seen: set[str] = set()

    def decide(body: bytes) -> int:
        cid = control_id_of(body)
        if cid == control_id and cid not in seen:
            seen.add(cid)
            return 503
        return 200

    return decide


async def test_strict_ordering_holds_the_destination_until_the_failed_message_goes_through(start: Start) -> None:
    receiver = HttpReceiver(decide=fail_once("S1"))
    try:
        engine, client = await start(f"""
    destinations:
      ordered: {{type: http, endpoint: "{receiver.url}", ordering: strict,
                retry: {{max_attempts: 5, initial_backoff_ms: 100}}}}
""")
        for i in range(1, 6):
            assert msa(await client.send(hl7(f"S{i}")))[0] == "AA"
        requests = await asyncio.to_thread(receiver.wait_for, 6)
        assert [control_id_of(r.body) for r in requests] == ["S1", "S1", "S2", "S3", "S4", "S5"]
    finally:
        receiver.close()


async def test_per_patient_ordering_keeps_one_patients_order_while_others_proceed(start: Start) -> None:
    receiver = HttpReceiver(decide=fail_once("A1"))
    try:
        engine, client = await start(f"""
    destinations:
      by_patient: {{type: http, endpoint: "{receiver.url}", ordering: per_patient,
                   retry: {{max_attempts: 5, initial_backoff_ms: 300}}}}
""")
        for cid, patient in (("A1", "PA"), ("A2", "PA"), ("B1", "PB"), ("B2", "PB")):
            assert msa(await client.send(hl7(cid, patient=patient)))[0] == "AA"
        order = [control_id_of(r.body) for r in await asyncio.to_thread(receiver.wait_for, 5)]
        a_only = [c for c in order if c.startswith("A")]
        assert a_only == ["A1", "A1", "A2"]  # A2 waited for A1's retry
        assert order.index("B2") < order.index("A2")  # patient B did not wait for patient A
    finally:
        receiver.close()


async def test_a_destination_that_is_down_gets_probes_not_a_storm_and_everything_goes_after(start: Start) -> None:
    receiver = HttpReceiver(default_status=503)
    try:
        engine, client = await start(f"""
    destinations:
      flaky: {{type: http, endpoint: "{receiver.url}", retry: {{max_attempts: 100, initial_backoff_ms: 100}}}}
""")
        for i in range(20):
            assert msa(await client.send(hl7(f"D{i}")))[0] == "AA"
        circuit = engine.destination_workers[("feed", "flaky")].circuit

        async def cooled_down_three_times() -> None:
            while circuit.cooldown < 0.8:  # 0.1 -> 0.2 -> 0.4 -> 0.8: three failed probes
                await asyncio.sleep(0.02)
        await asyncio.wait_for(cooled_down_three_times(), 15)
        failures = len(receiver.requests)
        assert failures <= 20 + 5  # the first wave, then one probe per cooldown; not 20 retries each
        receiver.default_status = 200
        await wait_rows(engine, "select id from deliveries where status = 'DELIVERED'", 20)
        attempts = await engine.store.read(lambda c: c.execute(text("select count(*) from attempts")).scalar_one())
        assert attempts <= 20 + 5 + 20 and circuit.state == "closed"
    finally:
        receiver.close()
