"""A circuit breaker per destination: stop hammering a destination that is down.

After ``threshold`` transient failures in a row the circuit opens: handlers wait (holding their
prefetch slots, so the broker hands out nothing more and no CPU or attempts are spent) until a
cooldown passes; then one probe goes through.  Success closes the circuit and everyone waiting
proceeds; failure opens it again with a doubled cooldown, up to ``max_secs``.  A permanent
rejection (4xx, AR) proves the destination is up, so it counts as success here.  While the
circuit is open no attempts are used, so a long outage never dead-letters messages that would
have gone through.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

log = logging.getLogger("hl7bridge.circuit")
CLOSED, OPEN, HALF_OPEN = "closed", "open", "half-open"


class Circuit:
    def __init__(self, name: str, *, threshold: int = 5, initial_secs: float = 0.5, max_secs: float = 30.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.name, self.threshold = name, threshold
        self.initial_secs, self.max_secs = initial_secs, max_secs
        self.clock = clock
        self.state = CLOSED
        self.failures = 0
        self.cooldown = initial_secs
        self.open_until = 0.0
        self.probing = False
        self._changed = asyncio.Event()
        self._stopping = asyncio.Event()

    async def admit(self) -> None:
        """Return when a send may go ahead: at once when closed; one probe at a time after a cooldown."""
        while True:
            if self._stopping.is_set():
                raise asyncio.CancelledError()  # shutting down: the unsent work stays queued
            if self.state == CLOSED:
                return
            now = self.clock()
            if self.state == OPEN and now >= self.open_until:
                self.state, self.probing = HALF_OPEN, False
            if self.state == HALF_OPEN and not self.probing:
                self.probing = True
                return
            self._changed.clear()
            timeout = max(0.0, self.open_until - now) if self.state == OPEN else None
            try:
                await asyncio.wait_for(self._changed.wait(), timeout)
            except asyncio.TimeoutError:
                pass

    async def pause(self, secs: float) -> None:
        """Wait ``secs`` before retrying in place (strict ordering); cut short by shutdown."""
        try:
            await asyncio.wait_for(self._stopping.wait(), secs)
        except asyncio.TimeoutError:
            return
        raise asyncio.CancelledError()

    def shutdown(self) -> None:
        """Engine stopping: waiting sends give up (their work is redelivered after the restart)."""
        self._stopping.set()
        self._changed.set()

    def release(self) -> None:
        """An admitted send ended without an answer (cancelled): let the next probe go."""
        if self.probing:
            self.probing = False
            self._changed.set()

    def succeeded(self) -> None:
        if self.state != CLOSED:
            log.info("destination=%s reachable again; circuit closed", self.name)
        self.state, self.failures, self.cooldown, self.probing = CLOSED, 0, self.initial_secs, False
        self._changed.set()

    def failed(self) -> None:
        self.failures += 1
        if self.state == HALF_OPEN or self.failures >= self.threshold:
            if self.state == CLOSED:
                log.warning("destination=%s failing (%d in a row); circuit open for %.1fs", self.name,
                            self.failures, self.cooldown)
            self.state, self.probing = OPEN, False
            self.open_until = self.clock() + self.cooldown
            self.cooldown = min(self.cooldown * 2, self.max_secs)
            self._changed.set()
