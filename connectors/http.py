"""HTTP destination: POST the payload with Idempotency-Key and X-Correlation-ID headers.

2xx is success; 408, 429, 5xx, timeouts and refused connections are retried (Retry-After is
honoured); any other status is permanent and goes to the dead-letter queue.
"""

from __future__ import annotations

import asyncio
import email.utils
import time
from typing import Any

import aiohttp

from hl7bridge.connectors.base import DeliveryContext, SendResult
from hl7bridge.connectors.tls import client_context
from hl7bridge.engine.errors import DeliveryError, RejectedError
from hl7bridge.engine.retry import http_outcome

MAX_RESPONSE_BYTES = 65_536


class HttpDestination:
    def __init__(self, spec: Any) -> None:
        self.endpoint: str = spec.endpoint
        self.timeout = aiohttp.ClientTimeout(total=spec.timeout_secs)
        self.headers: dict[str, str] = dict(spec.headers)
        self.content_type: str | None = spec.content_type
        tls = spec.tls
        self.ssl = client_context(ca=tls.client_ca, cert=tls.cert, key=tls.key, verify=tls.verify) if tls else None
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self.timeout,
                                                  connector=aiohttp.TCPConnector(limit=64, ssl=self.ssl))
        return self._session

    async def send(self, payload: bytes, context: DeliveryContext) -> SendResult:
        headers = self.headers | {
            "Content-Type": self.content_type or context.content_type,
            "Idempotency-Key": context.idempotency_key,
            "X-Correlation-ID": context.correlation_id,
        }
        try:
            async with self._client().post(self.endpoint, data=payload, headers=headers) as response:
                body = await response.content.read(MAX_RESPONSE_BYTES)
                status, retry_after = response.status, response.headers.get("Retry-After")
        except asyncio.TimeoutError as exc:
            raise DeliveryError("no response within timeout_secs", code="timeout") from exc
        except aiohttp.ClientConnectorError as exc:
            raise DeliveryError("cannot connect to the endpoint", code="connect") from exc
        except aiohttp.ClientError as exc:
            raise DeliveryError(f"HTTP exchange failed ({type(exc).__name__})", code="connection") from exc
        outcome = http_outcome(status)
        if outcome == "retry":
            raise DeliveryError(f"HTTP {status}", code=str(status), retry_after_secs=parse_retry_after(retry_after))
        if outcome == "dead_letter":
            raise RejectedError(f"HTTP {status}", code=str(status))
        return SendResult(str(status), body)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()


def parse_retry_after(value: str | None) -> float | None:
    """Retry-After as seconds, from either delta-seconds or an HTTP date."""
    if not value:
        return None
    if value.strip().isdigit():
        return float(value.strip())
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())
