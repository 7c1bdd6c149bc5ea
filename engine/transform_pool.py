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
Workers are started with ``spawn`` (the engine has threads; forking them is unsafe), are ready
before intake opens, and are replaced if one dies: the messages it held are redelivered.  Each
worker talks to the engine over its own socketpair, read and written on the event loop itself
(concurrent.futures.ProcessPoolExecutor's feeder and manager threads cost the engine ~12 % of
its GIL time at 300 msg/s); a worker answers its requests in order, so each keeps a FIFO of
waiting futures.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing as mp
import os
import pickle
import signal
import socket
import struct
from collections import deque
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from hl7bridge.channels.program import ChannelProgram
from hl7bridge.engine.errors import MessageError

log = logging.getLogger("hl7bridge.transforms")
MAX_AUTO_WORKERS = 4
READY_TIMEOUT_SECS = 60.0
STOP_TIMEOUT_SECS = 30.0


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
def _worker_main(conn: Connection, config: Any, config_dir: str, log_level: str) -> None:
    """One worker: load the programs, say ready, then answer requests in order until EOF."""
    # The engine process decides when to stop: a Ctrl-C or a SIGTERM to the process group must
    # not kill a worker in the middle of a message; the engine closes the pipe after its drain.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    programs = {name: ChannelProgram(spec, Path(config_dir)) for name, spec in config.channels.items() if spec.enabled}
    conn.send_bytes(b"ready")
    while True:
        try:
            request = conn.recv_bytes()
        except (EOFError, OSError):  # the engine closed the pipe, or is gone
            return
        channel, body, content_type, meta, run_steps = pickle.loads(request)
        try:
            outcome = run_program(programs[channel], body, content_type, meta, run_steps)
        except Exception as exc:  # mapping code's own bug: report the type only (its text may hold values)
            outcome = Outcome("failed", error=type(exc).__name__)
        conn.send_bytes(pickle.dumps(outcome, protocol=pickle.HIGHEST_PROTOCOL))


# in the engine process -----------------------------------------------------------------------
_LENGTH = struct.Struct("!i")  # multiprocessing.Connection's framing: a 4-byte big-endian length


class _Worker:
    """One worker process and its end of the pipe, read and written on the event loop (no threads)."""

    def __init__(self, proc: Any, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.proc, self.reader, self.writer = proc, reader, writer
        self.pending: deque[asyncio.Future[Outcome]] = deque()  # answers come back in request order
        self.reading: asyncio.Task[None] | None = None

    async def read_frame(self) -> bytes:
        (size,) = _LENGTH.unpack(await self.reader.readexactly(4))
        return await self.reader.readexactly(size)

    async def read_answers(self, on_death: Any) -> None:
        try:
            while True:
                outcome = pickle.loads(await self.read_frame())
                future = self.pending.popleft()
                if not future.done():
                    future.set_result(outcome)
        except (asyncio.IncompleteReadError, ConnectionError, OSError):
            pass
        finally:
            while self.pending:
                future = self.pending.popleft()
                if not future.done():
                    future.set_exception(ProgramFailed("a transform worker died; the message will be redelivered"))
            on_death(self)


class TransformPool:
    def __init__(self, config: Any, config_dir: Path, workers: int) -> None:
        self.config, self.config_dir, self.workers = config, config_dir, workers
        self._ctx = mp.get_context("spawn")
        self._live: list[_Worker] = []
        self._closing = False
        self._restarts: set[asyncio.Task[None]] = set()

    async def _spawn(self) -> _Worker:
        ours, theirs = self._ctx.Pipe(duplex=True)  # a socketpair on Unix
        proc = self._ctx.Process(target=_worker_main, name="hl7bridge-transform", daemon=True,
                                 args=(theirs, self.config, str(self.config_dir), self.config.engine.log_level))
        proc.start()
        theirs.close()
        sock = socket.socket(fileno=os.dup(ours.fileno()))
        ours.close()
        reader, writer = await asyncio.open_connection(sock=sock, limit=2 ** 20)
        worker = _Worker(proc, reader, writer)
        try:
            hello = await asyncio.wait_for(worker.read_frame(), READY_TIMEOUT_SECS)
        except (asyncio.TimeoutError, asyncio.IncompleteReadError, ConnectionError) as exc:
            proc.kill()
            writer.close()
            raise RuntimeError(f"a transform worker did not start ({type(exc).__name__})") from None
        if hello != b"ready":
            raise RuntimeError("a transform worker answered out of turn")
        worker.reading = asyncio.get_running_loop().create_task(worker.read_answers(self._died))
        self._live.append(worker)
        return worker

    async def start(self) -> None:
        """Start the workers and wait until each has loaded the programs (before intake opens)."""
        await asyncio.gather(*(self._spawn() for _ in range(self.workers)))
        log.info("transform workers ready: %d process(es)", self.workers)

    def _died(self, worker: _Worker) -> None:
        if worker in self._live:
            self._live.remove(worker)
        worker.writer.close()
        worker.proc.join(0)
        if self._closing:
            return
        log.error("a transform worker process died (exit code %s); starting another", worker.proc.exitcode)
        task = asyncio.get_running_loop().create_task(self._respawn())
        self._restarts.add(task)
        task.add_done_callback(self._restarts.discard)

    async def _respawn(self) -> None:
        try:
            await self._spawn()
        except RuntimeError as exc:
            log.error("transform worker restart failed (%s); programs run in the engine process meanwhile", exc)

    def pids(self) -> list[int]:
        return [w.proc.pid for w in self._live]

    async def run(self, channel: str, body: bytes, content_type: str, meta: dict[str, str],
                  run_steps: bool) -> Outcome:
        if not self._live:
            raise ProgramFailed("no transform worker is running; the message will be redelivered")
        worker = min(self._live, key=lambda w: len(w.pending))
        future: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        request = pickle.dumps((channel, body, content_type, meta, run_steps), protocol=pickle.HIGHEST_PROTOCOL)
        worker.pending.append(future)
        try:
            worker.writer.write(_LENGTH.pack(len(request)) + request)
            await worker.writer.drain()
        except (ConnectionError, OSError):
            pass  # the worker died: its reader fails every pending call, this one included (ProgramFailed)
        outcome = await future
        if outcome.kind == "failed":
            raise ProgramFailed(f"channel program failed ({outcome.error})")
        return outcome

    async def close(self) -> None:
        """Close the pipes (each worker finishes its current message and exits) and wait for them."""
        self._closing = True
        for task in list(self._restarts):
            task.cancel()
        workers, self._live = list(self._live), []
        for worker in workers:
            worker.writer.close()
        loop = asyncio.get_running_loop()
        for worker in workers:
            await loop.run_in_executor(None, worker.proc.join, STOP_TIMEOUT_SECS)
            if worker.proc.is_alive():
                worker.proc.kill()
            if worker.reading is not None:
                await asyncio.gather(worker.reading, return_exceptions=True)
