"""The Destination contract.  A new destination is one file in connectors/ plus one line in
connectors/registry.py; tests/connectors/test_destination_conformance.py runs over all of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(slots=True, frozen=True)
class DeliveryContext:
    """Ids that travel with a delivery.  The idempotency key is the same for every attempt of one
    delivery; the correlation id follows the message everywhere."""

    message_id: str
    delivery_id: str
    idempotency_key: str
    correlation_id: str
    channel: str
    destination: str
    content_type: str
    message_type: str = ""
    attempt: int = 1


@dataclass(slots=True)
class SendResult:
    """What the peer answered: a code (HTTP status, ACK code, 'written') and its response bytes."""

    code: str
    response: bytes | None = None


class Destination(Protocol):
    async def send(self, payload: bytes, context: DeliveryContext) -> SendResult:
        """Deliver ``payload`` once.  Return on success.  Raise DeliveryError for a failure worth
        retrying (connect, timeout, 408/429/5xx, AE/CE), RejectedError for a permanent one (other
        4xx, AR/CR).  Texts carry codes and positions, never content."""

    async def close(self) -> None:
        """Release connections."""
