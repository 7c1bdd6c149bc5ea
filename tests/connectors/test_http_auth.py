"""JWT checks with asymmetric keys from a JWKS file (RS256, ES256), and the HTTP listener's TLS and
store-failure answers."""

from __future__ import annotations

import json
import ssl
import subprocess
import time
from pathlib import Path

import aiohttp
import jwt
import orjson
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from hl7bridge.channels.load import load_config_text
from hl7bridge.connectors.http_auth import AuthFailure, JwtAuth
from hl7bridge.engine.app import Engine
from hl7bridge.engine.errors import StoreError
from hl7b_testkit import free_port

PATIENT = orjson.dumps({"resourceType": "Patient", "gender": "female"})


def jwks_with(tmp_path: Path, keys: dict[str, object]) -> Path:
    entries = []
    for kid, key in keys.items():
        algorithm = jwt.algorithms.RSAAlgorithm if isinstance(key, rsa.RSAPrivateKey) else jwt.algorithms.ECAlgorithm
        entry = json.loads(algorithm.to_jwk(key.public_key()))  # type: ignore[attr-defined]
        entries.append(entry | {"kid": kid})
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps({"keys": entries}))
    return path


def signed(key: object, kid: str, algorithm: str, scope: str = "system/*.write") -> str:
    claims = {"iss": "idp", "aud": "hl7bridge", "scope": scope, "exp": int(time.time()) + 60}
    return jwt.encode(claims, key, algorithm=algorithm, headers={"kid": kid})  # type: ignore[arg-type]


def test_rs256_and_es256_tokens_verify_against_the_jwks_and_a_foreign_key_does_not(tmp_path: Path) -> None:
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ec_key = ec.generate_private_key(ec.SECP256R1())
    auth = JwtAuth({"type": "jwt", "jwks_file": str(jwks_with(tmp_path, {"r1": rsa_key, "e1": ec_key})),
                    "issuer": "idp", "audience": "hl7bridge"})
    assert auth.authenticate(f"Bearer {signed(rsa_key, 'r1', 'RS256')}")["aud"] == "hl7bridge"
    assert auth.authenticate(f"Bearer {signed(ec_key, 'e1', 'ES256')}")["iss"] == "idp"
    stranger = ec.generate_private_key(ec.SECP256R1())
    with pytest.raises(AuthFailure) as caught:
        auth.authenticate(f"Bearer {signed(stranger, 'e1', 'ES256')}")
    assert caught.value.status == 401 and "signature" in caught.value.reason
    with pytest.raises(AuthFailure) as forbidden:
        auth.authorize({"scope": "system/Observation.write"}, {"Patient"})
    assert forbidden.value.status == 403


def make_cert(tmp_path: Path) -> tuple[Path, Path]:
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "key.pem", "-out",
                    "cert.pem", "-days", "1", "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1"],
                   cwd=tmp_path, check=True, capture_output=True)
    return tmp_path / "cert.pem", tmp_path / "key.pem"


async def test_the_http_listener_serves_tls_and_answers_503_when_the_store_cannot_commit(tmp_path: Path) -> None:
    cert, key = make_cert(tmp_path)
    port = free_port()
    config = load_config_text(f"""
engine:
  store: "sqlite:///{tmp_path}/s.db"
  broker: embedded
  http: {{listen: "127.0.0.1:{port}", tls: {{cert: "{cert}", key: "{key}"}}}}
channels:
  fhir_in:
    source: {{type: http, path: /fhir, format: fhir}}
    destinations:
      out: {{type: file, directory: "{tmp_path}/out"}}
""")
    engine = Engine(config, config_dir=tmp_path)
    await engine.start()
    context = ssl.create_default_context(cafile=str(cert))
    try:
        async with aiohttp.ClientSession() as session:
            url = f"https://127.0.0.1:{port}/fhir"
            headers = {"Content-Type": "application/fhir+json"}
            async with session.post(url, data=PATIENT, headers=headers, ssl=context) as response:
                assert response.status == 201

            async def broken(fn: object, **_: object) -> None:
                raise StoreError("the store could not commit (OperationalError)")

            engine.store.write = broken  # type: ignore[method-assign]
            async with session.post(url, data=PATIENT, headers=headers, ssl=context) as response:
                assert response.status == 503 and response.headers["Retry-After"] == "5"
            with pytest.raises(aiohttp.ClientError):
                async with session.post(url.replace("https", "http"), data=PATIENT, headers=headers) as response:
                    await response.read()
    finally:
        engine.store.write = type(engine.store).write.__get__(engine.store)  # type: ignore[method-assign]
        await engine.stop()


async def test_mutual_tls_on_the_http_listener_refuses_a_client_without_a_certificate(tmp_path: Path,
                                                                                     pki: Path) -> None:
    port = free_port()
    engine = Engine(load_config_text(f"""
engine:
  store: "sqlite:///{tmp_path}/s.db"
  broker: embedded
  http: {{listen: "127.0.0.1:{port}", tls: {{cert: "{pki}/server.pem", key: "{pki}/server.key",
                                              client_ca: "{pki}/ca.pem"}}}}
channels:
  fhir_in:
    source: {{type: http, path: /fhir, format: fhir}}
    destinations:
      out: {{type: file, directory: "{tmp_path}/out"}}
"""), config_dir=tmp_path)
    await engine.start()
    url, headers = f"https://127.0.0.1:{port}/fhir", {"Content-Type": "application/fhir+json"}
    try:
        with_cert = ssl.create_default_context(cafile=str(pki / "ca.pem"))
        with_cert.load_cert_chain(str(pki / "client.pem"), str(pki / "client.key"))
        async with aiohttp.ClientSession() as session:
            async with session.post(url, data=PATIENT, headers=headers, ssl=with_cert) as response:
                assert response.status == 201
            without = ssl.create_default_context(cafile=str(pki / "ca.pem"))
            with pytest.raises(aiohttp.ClientError):
                async with session.post(url, data=PATIENT, headers=headers, ssl=without) as response:
                    await response.read()
    finally:
        await engine.stop()
