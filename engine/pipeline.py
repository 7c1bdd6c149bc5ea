"""The two kinds of work after intake.

Channel work (queue ``<channel>``): load the stored message, filter, run the steps, then create
one delivery per destination and queue each -- all in one commit, so a crash before it means the
work is simply redone, and a crash after it finds the deliveries already made.

Destination work (queue ``<channel>.<destination>``): send one delivery, record the attempt,
then DELIVERED, a delayed retry through the outbox, or DEAD_LETTERED.  A retry delay never holds
a consumer slot, so one failing destination never blocks another.  ``ordering: strict`` retries
in place with prefetch 1 (only that destination waits); ``per_patient`` keeps one patient's
deliveries in order within a process while other patients proceed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import orjson

from hl7bridge.connectors.base import DeliveryContext, Destination
from hl7bridge.engine import ledger
from hl7bridge.engine.broker import Envelope
from hl7bridge.engine.circuit import Circuit
from hl7bridge.engine.errors import DeliveryError, RejectedError, StoreError
from hl7bridge.engine.retry import retry_delay_secs
from hl7bridge.engine.store import Store
from hl7bridge.engine.transform_pool import Outcome, TransformPool, run_program
from hl7bridge.channels.program import ChannelProgram

log = logging.getLogger("hl7bridge.pipeline")


class OrderingLocks:
    """Keyed locks taken before a handler's first await, so handlers for one key run in the order the
    broker handed them out (asyncio.Lock wakes waiters first come, first served)."""

    def __init__(self) -> None:
        self._locks: dict[str, asyncio.Lock] = defaultdict(asyncio.Lock)

    def lock(self, key: str) -> asyncio.Lock:
        return self._locks[key]


class ChannelWorker:
    def __init__(self, store: Store, name: str, spec: Any, config_dir: Path,
                 pool: TransformPool | None = None) -> None:
        self.store, self.name, self.spec, self.pool = store, name, spec, pool
        self.program = ChannelProgram(spec, config_dir)  # also checks the steps load, in this process
        self.destinations = [d for d, dspec in spec.destinations.items() if dspec.enabled]
        orderings = {spec.destinations[d].ordering for d in self.destinations}
        # deliveries must be queued in intake order for any destination that keeps order
        self.ordering = "strict" if "strict" in orderings else "per_patient" if "per_patient" in orderings else "none"
        self.locks = OrderingLocks()

    async def handle(self, envelope: Envelope) -> None:
        request = orjson.loads(envelope.body)
        if self.ordering == "none":
            await self._handle(request)
            return
        key = "*" if self.ordering == "strict" else str(request.get("key", ""))
        async with self.locks.lock(key):
            await self._handle(request)

    async def _handle(self, request: dict[str, Any]) -> None:
        message_id = request["message_id"]
        replay = request.get("replay")
        source = replay.get("from", "raw") if replay else "raw"
        row, raw = await self.store.read(lambda c: ledger.load_work(c, message_id, source), single=True)
        if row is None:
            log.error("channel=%s message=%s not in the store; dropped from the queue", self.name, message_id)
            return
        if replay is None and row.status != ledger.RECEIVED:
            return  # already processed: this is a redelivery after a crash
        if raw is None:
            log.error("channel=%s message=%s has no %s content (pruned); not replayed", self.name, message_id, source)
            return
        await self._process(row, raw, replay)

    async def _process(self, row: Any, raw: Any, replay: dict[str, Any] | None) -> None:
        meta = {"message_id": row.id, "channel": self.name, "correlation_id": row.correlation_id}
        run_steps = not (replay and replay.get("from") == "transformed")
        if self.pool is not None:
            outcome = await self.pool.run(self.name, raw.body, raw.content_type, meta, run_steps)
        else:
            outcome = run_program(self.program, raw.body, raw.content_type, meta, run_steps)
        await self._record(row, outcome, replay)

    async def _record(self, row: Any, outcome: Outcome, replay: dict[str, Any] | None) -> None:
        if outcome.kind == "error":
            log.warning("channel=%s message=%s errored: %s", self.name, row.id, outcome.error)
            await self.store.write(lambda c: ledger.set_status(c, row.id, ledger.ERRORED, error=outcome.error,
                                                               location=outcome.location))
            return
        if outcome.kind == "filtered":
            await self.store.write(lambda c: ledger.set_status(c, row.id, ledger.FILTERED))
            return
        targets = [d for d in (replay or {}).get("destinations") or self.destinations if d in self.destinations]
        replay_of = (replay or {}).get("replay_of")
        data, content_type = outcome.body, outcome.content_type
        await self.store.write(lambda c: ledger.queue_deliveries(c, row.id, self.name, targets, data, content_type,
                                                                 replay_of=replay_of, first_time=replay is None,
                                                                 order_key=row.patient_id))


class DestinationWorker:
    def __init__(self, store: Store, channel: str, name: str, spec: Any, destination: Destination) -> None:
        self.store, self.channel, self.name, self.spec, self.destination = store, channel, name, spec, destination
        self.locks = OrderingLocks()
        self.circuit = Circuit(f"{channel}.{name}", initial_secs=spec.retry.initial_backoff_ms / 1000.0,
                               max_secs=min(float(spec.retry.max_backoff_secs), 10.0))  # probe a down destination at least every 10 s

    @property
    def prefetch(self) -> int:
        return 1 if self.spec.ordering == "strict" else 32

    async def handle(self, envelope: Envelope) -> None:
        request = orjson.loads(envelope.body)
        if self.spec.ordering == "per_patient":
            async with self.locks.lock(str(request.get("key", ""))):  # before any await: arrival order
                await self._handle(request)
        else:
            await self._handle(request)

    async def _handle(self, request: dict[str, Any]) -> None:
        delivery_id = request["delivery_id"]
        loaded = await self.store.read(lambda c: ledger.load_delivery(c, delivery_id), single=True)
        if loaded is None:
            log.error("delivery=%s not in the store; dropped from the queue", delivery_id)
            return
        delivery, message, payload = loaded
        if delivery.status in ledger.FINAL_DELIVERY:
            return  # redelivered after it was already settled
        await self._deliver(delivery, message, payload, in_place=self.spec.ordering != "none")

    async def _deliver(self, delivery: Any, message: Any, payload: Any, *, in_place: bool) -> None:
        while True:
            result = await self._attempt(delivery, message, payload)
            await self.store.write(lambda c: ledger.record_attempt(c, delivery, result, requeue=not in_place,
                                                                   order_key=message.patient_id))
            if result.outcome != "retry" or not in_place:
                return
            await self.circuit.pause(result.retry_in_secs)  # in-place retry: only this destination waits
            loaded = await self.store.read(lambda c: ledger.load_delivery(c, delivery.id), single=True)
            if loaded is None:
                return
            delivery = loaded[0]

    async def _attempt(self, delivery: Any, message: Any, payload: Any) -> ledger.AttemptResult:
        number = delivery.attempts + 1
        context = DeliveryContext(
            message_id=message.id, delivery_id=delivery.id, idempotency_key=delivery.idempotency_key,
            correlation_id=message.correlation_id, channel=self.channel, destination=self.name,
            content_type=payload.content_type, message_type=f"{message.message_type}^{message.trigger_event}",
            attempt=number)
        await self.circuit.admit()  # waits while the destination is known to be down
        started = time.perf_counter()
        try:
            sent = await self.destination.send(payload.body, context)
        except RejectedError as exc:
            self.circuit.succeeded()  # it answered: the destination is up, this message is refused
            return self._result("dead_letter", exc.code, str(exc), started)
        except DeliveryError as exc:
            self.circuit.failed()
            if number >= self.spec.retry.max_attempts:
                return self._result("dead_letter", exc.code, f"{exc} (attempts used up)", started)
            delay = retry_delay_secs(number, self.spec.retry, exc.retry_after_secs)
            return self._result("retry", exc.code, str(exc), started, retry_in_secs=delay)
        except (StoreError, asyncio.CancelledError):
            self.circuit.release()
            raise
        except Exception as exc:  # a connector bug must not lose the delivery: retry it
            self.circuit.failed()
            log.exception("channel=%s destination=%s connector failed", self.channel, self.name)
            delay = retry_delay_secs(number, self.spec.retry)
            outcome = "dead_letter" if number >= self.spec.retry.max_attempts else "retry"
            return self._result(outcome, "error", f"connector error ({type(exc).__name__})", started,
                                retry_in_secs=delay)
        self.circuit.succeeded()
        return self._result("success", sent.code, None, started, response=sent.response)

    @staticmethod
    def _result(outcome: str, code: str | None, error: str | None, started: float, *,
                retry_in_secs: float = 0.0, response: bytes | None = None) -> ledger.AttemptResult:
        return ledger.AttemptResult(outcome, code, error, (time.perf_counter() - started) * 1000.0,
                                    response=response, retry_in_secs=retry_in_secs)
