"""MLLP over TLS and mutual TLS, with real sockets and certificates made for the test."""

from __future__ import annotations

import ssl
from pathlib import Path
from types import SimpleNamespace

import pytest

from hl7bridge.connectors.mllp import MllpClient, MllpServer
from hl7bridge.connectors.tls import client_context, server_context
from hl7bridge.engine.errors import DeliveryError


async def echo_ack(message: bytes, peer: str) -> bytes:
    return b"MSA|AA|" + message[:3]


async def start(pki: Path, *, mutual: bool) -> MllpServer:
    tls = SimpleNamespace(cert=str(pki / "server.pem"), key=str(pki / "server.key"),
                          client_ca=str(pki / "ca.pem") if mutual else None)
    server = MllpServer("127.0.0.1", 0, echo_ack, ssl_context=server_context(tls))
    await server.start()
    return server


async def test_a_tls_listener_answers_a_client_that_verifies_it(pki: Path) -> None:
    server = await start(pki, mutual=False)
    client = MllpClient("127.0.0.1", server.port, ssl_context=client_context(ca=str(pki / "ca.pem")), timeout_secs=5)
    assert await client.send(b"MSH|x") == b"MSA|AA|MSH"
    await client.close()
    await server.stop()


async def test_mutual_tls_accepts_a_client_certificate_and_refuses_a_client_without_one(pki: Path) -> None:
    server = await start(pki, mutual=True)
    good = MllpClient("127.0.0.1", server.port, timeout_secs=5, ssl_context=client_context(
        ca=str(pki / "ca.pem"), cert=str(pki / "client.pem"), key=str(pki / "client.key")))
    assert await good.send(b"MSH|y") == b"MSA|AA|MSH"
    await good.close()
    anonymous = MllpClient("127.0.0.1", server.port, ssl_context=client_context(ca=str(pki / "ca.pem")),
                           timeout_secs=5)
    with pytest.raises((DeliveryError, ssl.SSLError)):
        await anonymous.send(b"MSH|z")
    await anonymous.close()
    await server.stop()
