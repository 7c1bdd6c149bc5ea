"""The HTTP source end to end in one process: FHIR and C-CDA posted over real HTTP, checked,
stored, acknowledged with a Location, delivered; limits, bearer tokens and Idempotency-Key."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import jwt
import orjson
import pytest
from sqlalchemy import text

from hl7bridge.channels.load import load_config_text
from hl7bridge.connectors.http_source import json_depth
from hl7bridge.engine.app import Engine
from hl7b_testkit import HttpReceiver, free_port

SECRET = "test-secret-not-for-production-0123456789"
PATIENT = {"resourceType": "Patient", "identifier": [{"system": "urn:mrn", "value": "M1"}],
           "name": [{"family": "TESTPATIENT", "given": ["ALPHA"]}], "birthDate": "1980-01-01", "gender": "female"}
CCD = Path(__file__).resolve().parents[1] / "fixtures" / "ccda"


def token(scope: str = "system/*.write", *, audience: str = "hl7bridge", expires_in: int = 300) -> str:
    claims = {"iss": "https://issuer.test", "aud": audience, "scope": scope, "exp": int(time.time()) + expires_in}
    return jwt.encode(claims, SECRET, algorithm="HS256")


class Posting:
    def __init__(self, engine: Engine, base: str, session: aiohttp.ClientSession, receiver: HttpReceiver) -> None:
        self.engine, self.base, self.session, self.receiver = engine, base, session, receiver

    async def post(self, path: str, body: bytes, *, content_type: str = "application/fhir+json",
                   bearer: str | None = None, headers: dict[str, str] | None = None) -> tuple[int, dict, dict]:
        h = {"Content-Type": content_type} | ({"Authorization": f"Bearer {bearer}"} if bearer else {}) | (headers or {})
        async with self.session.post(self.base + path, data=body, headers=h) as response:
            raw = await response.read()
            return response.status, (orjson.loads(raw) if raw else {}), dict(response.headers)

    async def count(self) -> int:
        return await self.engine.store.read(lambda c: c.execute(text("select count(*) from messages")).scalar_one())


@pytest.fixture()
async def api(tmp_path: Path) -> AsyncIterator[Posting]:
    port, receiver = free_port(), HttpReceiver()
    config = load_config_text(f"""
engine: {{store: "sqlite:///{tmp_path}/s.db", broker: embedded, http: {{listen: "127.0.0.1:{port}"}}}}
channels:
  fhir_in:
    source:
      type: http
      path: /fhir/intake
      format: fhir
      max_body_bytes: 20000
      auth: {{type: jwt, hs256_secret: "{SECRET}", issuer: "https://issuer.test", audience: hl7bridge}}
    destinations:
      service: {{type: http, endpoint: "{receiver.url}"}}
  open_fhir:
    source: {{type: http, path: /fhir/open, format: fhir, max_body_bytes: 20000}}
    destinations:
      out: {{type: file, directory: "{tmp_path}/open"}}
  ccda_in:
    source: {{type: http, path: /ccda, format: ccda}}
    destinations:
      docs: {{type: file, directory: "{tmp_path}/docs"}}
""")
    engine = Engine(config, config_dir=tmp_path)
    await engine.start()
    async with aiohttp.ClientSession() as session:
        yield Posting(engine, f"http://127.0.0.1:{port}", session, receiver)
    await engine.stop()
    receiver.close()


async def test_a_valid_resource_is_stored_answered_201_with_a_location_and_delivered(api: Posting) -> None:
    status, body, headers = await api.post("/fhir/intake", orjson.dumps(PATIENT), bearer=token())
    assert status == 201 and body["status"] == "RECEIVED" and headers["Location"] == f"/messages/{body['id']}"
    delivered = await asyncio.to_thread(api.receiver.wait_for, 1)
    assert orjson.loads(delivered[0].body)["identifier"][0]["value"] == "M1"
    async with api.session.get(api.base + headers["Location"], headers={"Authorization": f"Bearer {token()}"}) as r:
        state = await r.json()
    assert r.status == 200 and state["id"] == body["id"] and state["deliveries"][0]["destination"] == "service"
    assert "patient_id" not in state  # status only: ids, statuses, codes


@pytest.mark.parametrize("bearer, status, fragment", [
    (None, 401, "bearer token is required"),
    ("not-a-jwt", 401, "malformed"),
    (token(expires_in=-60), 401, "expired"),
    (token(audience="someone-else"), 401, "audience"),
    (token(scope="system/Patient.read"), 403, "do not allow writing Patient"),
    (token(scope="system/Observation.write"), 403, "do not allow writing Patient"),
])
async def test_tokens_are_checked_for_signature_expiry_audience_and_scope(api: Posting, bearer: str | None,
                                                                         status: int, fragment: str) -> None:
    got, body, headers = await api.post("/fhir/intake", orjson.dumps(PATIENT), bearer=bearer)
    assert got == status and fragment in body["issue"][0]["diagnostics"]
    assert ("WWW-Authenticate" in headers) == (status == 401)
    assert await api.count() == 0


async def test_a_resource_specific_scope_is_enough_for_that_resource(api: Posting) -> None:
    status, _, _ = await api.post("/fhir/intake", orjson.dumps(PATIENT), bearer=token("system/Patient.write"))
    assert status == 201


@pytest.mark.parametrize("body, content_type, status", [
    (orjson.dumps(PATIENT), "text/plain", 415),
    (b"{" * 200 + b"}" * 200, "application/fhir+json", 400),
    (b'{"resourceType": "Patient", "name": [' + b'{"family": "' + b"x" * 30000 + b'"}]}', "application/json", 413),
    (b"{not json", "application/fhir+json", 400),
    (b'{"no": "resourceType"}', "application/fhir+json", 400),
])
async def test_limits_and_shape_are_checked_before_anything_is_stored(api: Posting, body: bytes, content_type: str,
                                                                      status: int) -> None:
    got, answer, _ = await api.post("/fhir/open", body, content_type=content_type)
    assert got == status and answer["resourceType"] == "OperationOutcome"
    assert await api.count() == 0


async def test_an_invalid_resource_gets_422_naming_the_element_without_echoing_values(api: Posting) -> None:
    bad = PATIENT | {"birthDate": "SECRET-NOT-A-DATE"}
    status, body, _ = await api.post("/fhir/open", orjson.dumps(bad))
    assert status == 422 and body["issue"][0]["expression"] == ["Patient.birthDate"]
    assert b"SECRET" not in orjson.dumps(body)


async def test_idempotency_key_same_body_same_answer_other_body_422(api: Posting) -> None:
    first = await api.post("/fhir/open", orjson.dumps(PATIENT), headers={"Idempotency-Key": "k-1"})
    again = await api.post("/fhir/open", orjson.dumps(PATIENT), headers={"Idempotency-Key": "k-1"})
    assert first[0] == again[0] == 201 and first[1] == again[1]
    other = await api.post("/fhir/open", orjson.dumps(PATIENT | {"gender": "male"}), headers={"Idempotency-Key": "k-1"})
    assert other[0] == 422
    assert await api.count() == 1


async def test_a_request_still_in_flight_with_the_same_key_gets_409(api: Posting) -> None:
    source = api.engine.http_sources["open_fhir"]
    source.in_flight.add("k-busy")
    status, body, _ = await api.post("/fhir/open", orjson.dumps(PATIENT), headers={"Idempotency-Key": "k-busy"})
    assert status == 409 and body["issue"][0]["code"] == "conflict"


async def test_a_ccda_document_is_accepted_and_an_xxe_document_refused(api: Posting) -> None:
    document = next(CCD.glob("*.xml")).read_bytes()
    status, body, _ = await api.post("/ccda", document, content_type="application/xml")
    assert status == 202 and body["status"] == "RECEIVED"
    xxe = b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]><ClinicalDocument>&x;</ClinicalDocument>'
    status, body, _ = await api.post("/ccda", xxe, content_type="application/xml")
    assert status == 400 and "root:" not in orjson.dumps(body).decode()
    assert await api.count() == 1


def test_json_depth_counts_nesting_and_ignores_brackets_in_strings() -> None:
    assert json_depth(b'{"a": [1, {"b": "[[[{{{"}]}') == 3
    assert json_depth(b'{"a": "\\"[[["}') == 1
    assert json_depth(b"[" * 100 + b"]" * 100, limit=10) == 11


async def test_a_body_sent_slowly_in_small_pieces_is_read_whole(api: Posting) -> None:
    body = orjson.dumps(PATIENT | {"name": [{"family": "TESTPATIENT", "given": ["A" * 5000]}]})

    async def trickle():  # type: ignore[no-untyped-def]
        for start in range(0, len(body), 1000):
            yield body[start:start + 1000]
            await asyncio.sleep(0)  # hand each piece to the transport separately

    async with api.session.post(api.base + "/fhir/open", data=trickle(),
                                headers={"Content-Type": "application/fhir+json"}) as response:
        assert response.status == 201
    stored = await api.engine.store.read(lambda c: c.execute(text(
        "select length(body) from contents where kind = 'raw'")).scalar_one())
    assert stored == len(body)
