"""Channel destination: hand a delivery to another channel of this engine.

The payload is received by the target channel as if a source had sent it: stored as a new
message (linked by correlation id) and routed through that channel's filter, steps and
destinations.  Handing over twice is harmless: HL7v2 is recognised as a duplicate at intake
(same sender, control id and bytes); other payloads carry the delivery's idempotency key.
"""

from __future__ import annotations

from typing import Any

from hl7bridge.connectors.base import DeliveryContext, SendResult
from hl7bridge.engine.errors import DeliveryError, StoreError
from hl7bridge.engine.intake import Document, DocumentIntake, HL7Intake
from hl7bridge.engine.store import Store


class ChannelDestination:
    def __init__(self, spec: Any, store: Store) -> None:
        self.target: str = spec.channel
        self.hl7 = HL7Intake(store, self.target, source="channel")
        self.documents = DocumentIntake(store, self.target, source="channel")

    async def send(self, payload: bytes, context: DeliveryContext) -> SendResult:
        try:
            if "hl7-v2" in context.content_type:
                accepted = await self.hl7.accept(payload, f"channel:{context.channel}",
                                                 correlation_id=context.correlation_id)
                if not accepted.stored:
                    raise DeliveryError("the store could not take the hand-off", code="store")
                return SendResult("rejected" if accepted.error else "handed-over")
            doc = Document(payload, context.content_type, correlation_id=context.correlation_id)
            answer = await self.documents.receive(doc, key=context.idempotency_key, answer=lambda _id: (202, b""))
            return SendResult("handed-over", answer.message_id.encode())
        except StoreError as exc:
            raise DeliveryError("the store could not take the hand-off", code="store") from exc

    async def close(self) -> None:
        return None
