"""Channel programs in worker processes: the same outcomes as in the engine process, and a worker
that dies costs a redelivery, not the engine."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import orjson
import pytest

from hl7bridge.channels.load import load_config_text
from hl7bridge.channels.program import ChannelProgram
from hl7bridge.engine.transform_pool import ProgramFailed, TransformPool, auto_workers, run_program
from hl7b_testkit import hl7

HL7 = "x-application/hl7-v2+er7"


def _config(tmp_path: Path, workers: int | str = 1) -> object:
    return load_config_text(f"""
engine: {{store: "sqlite:///{tmp_path}/s.db", transform_workers: {workers}}}
channels:
  fhir:
    source: {{type: mllp, listen: "127.0.0.1:1"}}
    filter: {{message_types: [ADT^A01]}}
    steps: [hl7v2_to_fhir]
    destinations: {{out: {{type: file, directory: "{tmp_path}/out"}}}}
  broken:
    source: {{type: mllp, listen: "127.0.0.1:2"}}
    steps: [{{python: "hl7b_testkit:raise_runtime_error"}}]
    destinations: {{out: {{type: file, directory: "{tmp_path}/out"}}}}
""")


@pytest.fixture()
async def pool(tmp_path: Path):  # type: ignore[no-untyped-def]
    started = TransformPool(_config(tmp_path), tmp_path, 1)
    await started.start()
    yield started
    await started.close()


async def test_a_worker_gives_the_same_bundle_as_the_engine_process(pool: TransformPool, tmp_path: Path) -> None:
    message = hl7("POOL1")
    meta = {"message_id": "m1", "channel": "fhir", "correlation_id": "c1"}
    remote = await pool.run("fhir", message, HL7, meta, True)
    local = run_program(ChannelProgram(_config(tmp_path).channels["fhir"], tmp_path), message, HL7, meta, True)
    assert remote.kind == "ok" and remote.content_type == "application/fhir+json"
    assert remote.body == local.body
    assert orjson.loads(remote.body)["resourceType"] == "Bundle"


async def test_filtered_and_errored_messages_come_back_as_such(pool: TransformPool) -> None:
    other_type = hl7("POOL2", message_type="ORU^R01")
    assert (await pool.run("fhir", other_type, HL7, {}, True)).kind == "filtered"
    unreadable = await pool.run("fhir", b"not an HL7 message", HL7, {}, True)
    assert unreadable.kind == "error" and unreadable.error and "not an HL7" not in unreadable.error


async def test_a_bug_in_mapping_code_is_reported_by_type_only(pool: TransformPool) -> None:
    with pytest.raises(ProgramFailed) as caught:
        await pool.run("broken", hl7("POOL3"), HL7, {}, True)
    assert "RuntimeError" in str(caught.value) and "SECRET" not in str(caught.value)


async def test_a_dead_worker_is_replaced_and_its_calls_are_handed_back(pool: TransformPool) -> None:
    [worker] = pool.pids()
    calls = [asyncio.ensure_future(pool.run("fhir", hl7(f"POOL4{i}"), HL7, {}, True)) for i in range(20)]
    os.kill(worker, signal.SIGKILL)
    outcomes = await asyncio.gather(*calls, return_exceptions=True)
    assert any(isinstance(o, ProgramFailed) for o in outcomes)  # what it held comes back as a failure
    assert all(isinstance(o, ProgramFailed) or o.kind == "ok" for o in outcomes)

    async def replaced() -> None:
        while not pool.pids() or pool.pids() == [worker]:
            await asyncio.sleep(0.01)  # yields to the restart; bounded by wait_for below
    await asyncio.wait_for(replaced(), 60)
    assert (await pool.run("fhir", hl7("POOL5"), HL7, {}, True)).kind == "ok"


def test_auto_leaves_one_cpu_to_the_engine() -> None:
    cpus = len(os.sched_getaffinity(0))
    assert auto_workers() == max(0, min(4, cpus - 1))


def test_the_config_accepts_auto_or_a_count_and_refuses_nonsense(tmp_path: Path) -> None:
    assert _config(tmp_path, "auto").engine.transform_workers == "auto"  # type: ignore[attr-defined]
    assert _config(tmp_path, 0).engine.transform_workers == 0  # type: ignore[attr-defined]
    with pytest.raises(Exception, match="transform_workers"):
        _config(tmp_path, "many")
