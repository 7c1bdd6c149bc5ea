"""FHIR in over HTTP, HL7v2 out over MLLP: a ServiceRequest posted to the engine becomes an ORM^O01
at a fake LIS (a real MLLP listener) that answers AA, then AE, then AR."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
import orjson
from sqlalchemy import text

from hl7bridge.channels.load import load_config_text
from hl7bridge.connectors.mllp import MllpServer
from hl7bridge.engine.app import Engine
from hl7b_testkit import free_port


def order_bundle(number: int) -> bytes:
    patient = {"resourceType": "Patient", "identifier": [{"system": "urn:mrn", "value": f"M{number}"}],
               "name": [{"family": "TESTPATIENT", "given": ["ALPHA"]}], "gender": "female", "birthDate": "1980-01-01"}
    order = {"resourceType": "ServiceRequest", "status": "active", "intent": "order",
             "identifier": [{"type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203",
                                                  "code": "PLAC"}]}, "value": f"ORD{number}"}],
             "code": {"coding": [{"system": "http://loinc.org", "code": "2345-7", "display": "Glucose"}]},
             "subject": {"reference": f"urn:uuid:00000000-0000-0000-0000-00000000000{number}"}}
    return orjson.dumps({"resourceType": "Bundle", "type": "transaction", "entry": [
        {"fullUrl": f"urn:uuid:00000000-0000-0000-0000-00000000000{number}", "resource": patient,
         "request": {"method": "PUT", "url": f"Patient?identifier=urn:mrn|M{number}"}},
        {"resource": order, "request": {"method": "POST", "url": "ServiceRequest"}}]})


class Lis:
    def __init__(self, answers: list[str]) -> None:
        self.answers, self.received = answers, []
        self.server = MllpServer("127.0.0.1", 0, self.answer)

    async def answer(self, message: bytes, peer: str) -> bytes:
        self.received.append(message)
        control_id = message.split(b"\r")[0].split(b"|")[9]
        code = self.answers.pop(0).encode() if self.answers else b"AA"
        return b"MSH|^~\\&|LIS|LAB|HL7BRIDGE|HOSP|20240101||ACK^O01^ACK|A|P|2.5.1\rMSA|" + code + b"|" + control_id + b"\r"


async def settled(engine: Engine, count: int) -> list[tuple[str, str]]:
    async def poll() -> list[tuple[str, str]]:
        while True:
            rows = await engine.store.read(lambda c: c.execute(text(
                "select control_id, status from messages where status in ('DELIVERED', 'DEAD_LETTERED') "
                "order by received_at")).all())
            if len(rows) >= count:
                return [tuple(r) for r in rows]
            await asyncio.sleep(0.05)
    return await asyncio.wait_for(poll(), 20)


async def test_a_posted_order_reaches_the_lis_as_orm_and_its_acks_decide_the_outcome(tmp_path: Path) -> None:
    lis = Lis(["AA", "AE", "AA", "AR"])
    await lis.server.start()
    port = free_port()
    config = load_config_text(f"""
engine: {{store: "sqlite:///{tmp_path}/s.db", broker: embedded, http: {{listen: "127.0.0.1:{port}"}}}}
channels:
  orders_to_lis:
    source: {{type: http, path: /fhir/orders, format: fhir}}
    steps:
      - fhir_to_hl7v2: {{message_type: "ORM^O01", version: "2.5.1", receiving_application: LIS}}
    destinations:
      lis:
        type: mllp
        endpoint: "127.0.0.1:{lis.server.port}"
        timeout_secs: 5
        retry: {{max_attempts: 3, initial_backoff_ms: 20}}
""")
    engine = Engine(config, config_dir=tmp_path)
    await engine.start()
    try:
        async with aiohttp.ClientSession() as session:
            for number in (1, 2, 3):
                async with session.post(f"http://127.0.0.1:{port}/fhir/orders", data=order_bundle(number),
                                        headers={"Content-Type": "application/fhir+json"}) as response:
                    assert response.status == 201
                await settled(engine, number)
        outcomes = await engine.store.read(lambda c: c.execute(text(
            "select m.status, group_concat(a.outcome || ':' || a.code, ' ') from messages m "
            "join attempts a on a.message_id = m.id group by m.id order by m.received_at")).all())
        assert [tuple(r) for r in outcomes] == [("DELIVERED", "success:AA"),
                                                ("DELIVERED", "retry:AE success:AA"),
                                                ("DEAD_LETTERED", "dead_letter:AR")]
        first = lis.received[0].decode().split("\r")
        assert first[0].split("|")[8] == "ORM^O01^ORM_O01" and first[0].split("|")[4] == "LIS"
        orc = next(s for s in first if s.startswith("ORC|")).split("|")
        obr = next(s for s in first if s.startswith("OBR|")).split("|")
        assert orc[2].startswith("ORD1") and obr[4].startswith("2345-7^Glucose^LN")
        assert lis.received[1] == lis.received[2]  # the retry resends the same message, same MSH-10
    finally:
        await engine.stop()
        await lis.server.stop()
