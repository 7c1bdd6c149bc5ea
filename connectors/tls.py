"""TLS contexts for listeners (optionally mutual) and for clients, from a channel's ``tls`` block."""

from __future__ import annotations

import ssl
from typing import Any


def server_context(tls: Any) -> ssl.SSLContext:
    """A server context: ``cert``/``key`` served; ``client_ca`` set means clients must present a cert it signed."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(tls.cert, tls.key)
    if tls.client_ca:
        context.verify_mode = ssl.CERT_REQUIRED
        context.load_verify_locations(tls.client_ca)
    return context


def client_context(
    *, ca: str | None = None, cert: str | None = None, key: str | None = None, verify: bool = True
) -> ssl.SSLContext:
    """A client context: ``ca`` verifies the server, ``cert``/``key`` is our identity for mutual TLS."""
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=ca)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if cert:
        context.load_cert_chain(cert, key)
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context
