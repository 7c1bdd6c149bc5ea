"""Channel programs (filter + steps) run in worker processes, off the engine's interpreter.

The transforms are pure CPU (``hl7v2_to_fhir`` is ~0.6-0.9 ms a message) and, in the engine's
one process, they held the GIL that intake, the relay, the store hand-offs and HTTP delivery also
need: at ~45 % of the GIL time they capped the end-to-end rate on a 2-core machine (see
docs/performance.md).  A ``TransformPool`` sends each message's bytes to a worker process, which
runs the same ``ChannelProgram`` and sends back the bytes to deliver -- or that the filter dropped
the message, or the ``MessageError`` that makes it ERRORED.  Nothing else changes: the store and
the broker stay in the engine process, so durability and ordering are exactly as before (the
channel worker awaits the result before it writes the deliveries).

``engine.transform_workers``: ``auto`` (one fewer than the CPUs this process may use, at most 4;
none on a 1-CPU machine) or a number; 0 runs programs in the engine process, as before.
Workers are started with ``spawn`` (the engine has threads; forking them is unsafe), warmed up
before intake opens, and replaced if one dies: the message it was working on is redelivered.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing as mp
import os
import signal
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hl7bridge.channels.program import ChannelProgram
from hl7bridge.engine.errors import MessageError

log = logging.getLogger("hl7bridge.transforms")
MAX_AUTO_WORKERS = 4


@dataclass(slots=True, frozen=True)
class Outcome:
    """What a channel program made of one message: ``ok`` (body, content type), ``filtered``, or
    ``error`` (the MessageError's reason and HL7 position; never a value)."""

    kind: str
    body: bytes = b""
    content_type: str = ""
    error: str = ""
    location: str | None = None


class ProgramFailed(RuntimeError):
    """A program raised something other than a MessageError (a bug in mapping code): the work is
    handed back to the broker, which redelivers it and in the end dead-letters it."""


def auto_workers() -> int:
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cpus = os.cpu_count() or 1
    return max(0, min(MAX_AUTO_WORKERS, cpus - 1))


def run_program(program: ChannelProgram, body: bytes, content_type: str, meta: dict[str, str],
                run_steps: bool) -> Outcome:
    """Run one program on one message, in whichever process this is."""
    try:
        payload = program.run(body, content_type, meta, run_steps=run_steps)
    except MessageError as exc:
        return Outcome("error", error=str(exc), location=exc.location)
    if payload is None:
        return Outcome("filtered")
    return Outcome("ok", payload.to_bytes(), payload.content_type)


# in each worker process ----------------------------------------------------------------------
_programs: dict[str, ChannelProgram] = {}


def _init_worker(config: Any, config_dir: str, log_level: str) -> None:
    # The engine process decides when to stop: a Ctrl-C or a SIGTERM to the process group must
    # not kill a worker in the middle of a message; the pool is shut down after the drain.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for name, spec in config.channels.items():
        if spec.enabled:
            _programs[name] = ChannelProgram(spec, Path(config_dir))


def _run_in_worker(channel: str, body: bytes, content_type: str, meta: dict[str, str],
                   run_steps: bool) -> Outcome:
    try:
        return run_program(_programs[channel], body, content_type, meta, run_steps)
    except Exception as exc:  # mapping code's own bug: report the type only (its text may hold values)
        return Outcome("failed", error=type(exc).__name__)


def _ready() -> int:
    return os.getpid()


# in the engine process -----------------------------------------------------------------------
class TransformPool:
    def __init__(self, config: Any, config_dir: Path, workers: int) -> None:
        self.config, self.config_dir, self.workers = config, config_dir, workers
        self._pool: ProcessPoolExecutor | None = None

    def _new_pool(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(max_workers=self.workers, mp_context=mp.get_context("spawn"),
                                   initializer=_init_worker,
                                   initargs=(self.config, str(self.config_dir), self.config.engine.log_level))

    async def start(self) -> None:
        """Start the workers and wait until each has loaded the programs (before intake opens)."""
        self._pool = self._new_pool()
        loop = asyncio.get_running_loop()
        # ProcessPoolExecutor starts processes on demand; as many concurrent calls as workers
        # start them all, and each returns once its initializer (imports, programs) is done.
        await asyncio.gather(*(loop.run_in_executor(self._pool, _ready) for _ in range(self.workers)))
        log.info("transform workers ready: %d process(es)", self.workers)

    async def run(self, channel: str, body: bytes, content_type: str, meta: dict[str, str],
                  run_steps: bool) -> Outcome:
        pool = self._pool
        if pool is None:
            raise ProgramFailed("the transform workers are not running")
        try:
            outcome: Outcome = await asyncio.get_running_loop().run_in_executor(
                pool, _run_in_worker, channel, body, content_type, meta, run_steps)
        except BrokenProcessPool:
            self._replace(pool)
            raise ProgramFailed("a transform worker died; the message will be redelivered") from None
        if outcome.kind == "failed":
            raise ProgramFailed(f"channel program failed ({outcome.error})")
        return outcome

    def _replace(self, broken: ProcessPoolExecutor) -> None:
        if self._pool is broken:
            log.error("a transform worker process died; starting new ones")
            broken.shutdown(wait=False, cancel_futures=True)
            self._pool = self._new_pool()

    async def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            await asyncio.get_running_loop().run_in_executor(None, pool.shutdown)
