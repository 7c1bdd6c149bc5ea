"""C-CDA through channels: a posted CCD becomes a FHIR Bundle at a service, and an HL7v2 ADT feed
becomes a CCD through hl7v2_to_fhir then fhir_to_ccda."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import aiohttp
from lxml import etree

from hl7bridge.channels.load import load_config_text
from hl7bridge.connectors.mllp import MllpClient
from hl7bridge.engine.app import Engine
from hl7b_testkit import HttpReceiver, free_port, msa

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


async def test_a_posted_ccd_is_delivered_as_a_fhir_document_bundle(tmp_path: Path) -> None:
    receiver, port = HttpReceiver(), free_port()
    config = load_config_text(f"""
engine: {{store: "sqlite:///{tmp_path}/s.db", broker: embedded, http: {{listen: "127.0.0.1:{port}"}}}}
channels:
  ccda_in:
    source: {{type: http, path: /ccda, format: ccda}}
    steps: [ccda_to_fhir]
    destinations:
      documents: {{type: http, endpoint: "{receiver.url}"}}
""")
    engine = Engine(config, config_dir=tmp_path)
    await engine.start()
    try:
        async with aiohttp.ClientSession() as session:
            async with session.post(f"http://127.0.0.1:{port}/ccda", data=(FIXTURES / "ccda" / "hl7_ccd_r21.xml")
                                    .read_bytes(), headers={"Content-Type": "application/xml"}) as response:
                assert response.status == 202
        bundle = json.loads((await asyncio.to_thread(receiver.wait_for, 1))[0].body)
        kinds = [e["resource"]["resourceType"] for e in bundle["entry"]]
        assert bundle["type"] == "document" and kinds[0] == "Composition"
        assert {"Patient", "AllergyIntolerance", "Condition", "DocumentReference"} <= set(kinds)
    finally:
        await engine.stop()
        receiver.close()


async def test_an_hl7v2_adt_feed_becomes_a_ccd_through_two_steps(tmp_path: Path) -> None:
    port = free_port()
    config = load_config_text(f"""
engine: {{store: "sqlite:///{tmp_path}/s.db", broker: embedded}}
channels:
  adt_to_ccd:
    source: {{type: mllp, listen: "127.0.0.1:{port}"}}
    steps: [hl7v2_to_fhir, fhir_to_ccda]
    destinations:
      documents: {{type: file, directory: "{tmp_path}/ccd"}}
""")
    engine = Engine(config, config_dir=tmp_path)
    await engine.start()
    client = MllpClient("127.0.0.1", port, timeout_secs=10)
    try:
        assert msa_code(await client.send((FIXTURES / "hl7v2" / "adt_a01.hl7").read_bytes())) == "AA"

        async def written() -> Path:
            while not list((tmp_path / "ccd").glob("*.xml")):
                await asyncio.sleep(0.05)
            return next((tmp_path / "ccd").glob("*.xml"))

        document = etree.fromstring((await asyncio.wait_for(written(), 20)).read_bytes())
        ns = {"cda": "urn:hl7-org:v3"}
        assert document.tag == "{urn:hl7-org:v3}ClinicalDocument"
        assert document.find("cda:recordTarget/cda:patientRole/cda:patient/cda:name/cda:family", ns).text == "Doe"
    finally:
        await client.close()
        await engine.stop()


def msa_code(ack: bytes) -> str:
    return msa(ack)[0]
