"""Processes under test: the bare MLLP ACK server (B1), the engine (``hl7bridge run``), and a local
HTTP receiver that can answer 503 for a while (S4, S5).  Each runs in its own process, on loopback.
"""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from hl7bridge.bench.common import LOOPBACK, free_port

READY_SECS = 60.0


def _use_uvloop() -> None:
    """The same event-loop choice as ``hl7bridge run`` (uvloop when installed)."""
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass


# B1: a bare asyncio MLLP server that only ACKs --------------------------------------------------
class _BareAck(asyncio.Protocol):
    """Frames in, a minimal AA echoing MSH-10 out: the floor under any real intake."""

    def connection_made(self, transport: Any) -> None:
        self.transport, self.buf = transport, bytearray()

    def data_received(self, data: bytes) -> None:
        self.buf += data
        while True:
            end = self.buf.find(b"\x1c")
            if end < 0:
                return
            start = self.buf.find(b"\x0b")
            message = bytes(self.buf[start + 1:end])
            del self.buf[:end + 2]
            control_id = message[:message.find(b"\r")].split(b"|")[9]
            self.transport.write(b"\x0bMSH|^~\\&|||||||ACK|1|P|2.5.1\rMSA|AA|" + control_id + b"\r\x1c\r")


def _bare_main(port: int) -> None:
    _use_uvloop()

    async def serve() -> None:
        server = await asyncio.get_running_loop().create_server(_BareAck, LOOPBACK, port, backlog=512)
        async with server:
            await server.serve_forever()

    asyncio.run(serve())


class BareServer:
    def __init__(self) -> None:
        self.port = free_port()
        self.proc = mp.get_context("spawn").Process(target=_bare_main, args=(self.port,), daemon=True)

    def __enter__(self) -> "BareServer":
        from hl7bridge.bench.common import tcp_reachable

        self.proc.start()
        deadline = time.monotonic() + READY_SECS
        while not tcp_reachable(LOOPBACK, self.port, 0.2):
            if time.monotonic() > deadline or not self.proc.is_alive():
                raise RuntimeError("bare MLLP server did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *_exc: object) -> None:
        self.proc.terminate()
        self.proc.join(10)


# the engine as a real `hl7bridge run` subprocess ------------------------------------------------
class Engine:
    def __init__(self, workdir: Path, config_text: str) -> None:
        self.workdir = workdir
        self.config = workdir / "channels.yaml"
        self.config.write_text(config_text)
        self.log = workdir / "engine.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> "Engine":
        self._handle = open(self.log, "ab")
        env = os.environ | {"PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen([sys.executable, "-m", "hl7bridge.cli", "run", "--config", str(self.config),
                                      "--log-level", "warning"], cwd=self.workdir, stdout=self._handle,
                                     stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + READY_SECS
        while b"engine ready" not in self.log.read_bytes():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self._stop()
                raise RuntimeError("engine did not start: " + self.log.read_text(errors="replace")[-2000:])
            time.sleep(0.05)
        return self

    def pids(self) -> list[int]:
        """The engine process and its children (the transform workers)."""
        assert self.proc is not None
        try:
            children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text().split()
        except OSError:
            children = []
        return [self.proc.pid] + [int(c) for c in children]

    def rss_mb(self) -> float:
        """Resident memory of the engine and its transform workers together."""
        total = 0
        for pid in self.pids():
            try:
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
            except OSError:
                continue
        return round(total / 1024, 1)

    def cpu_secs(self) -> float:
        """User + system CPU so far of the engine (all its threads) and its transform workers."""
        total = 0
        for pid in self.pids():
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += int(fields[11]) + int(fields[12])
        return total / os.sysconf("SC_CLK_TCK")

    def _stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self._handle.close()

    def __exit__(self, *_exc: object) -> None:
        self._stop()


# a local HTTP receiver (aiohttp, keep-alive) -------------------------------------------------
def _receiver_main(port: int, outage_until: Any, delivered: Any) -> None:
    from aiohttp import web

    _use_uvloop()

    async def post(request: web.Request) -> web.Response:
        await request.read()
        if time.time() < outage_until.value:
            return web.Response(status=503, text="{}", content_type="application/json")
        with delivered.get_lock():
            delivered.value += 1
        return web.Response(status=200, text="{}", content_type="application/json")

    app = web.Application(client_max_size=16 * 1024 * 1024)
    app.router.add_post("/fhir", post)
    web.run_app(app, host=LOOPBACK, port=port, access_log=None, print=None)


class Receiver:
    """POST /fhir answers 200, or 503 while ``outage(secs)`` is in force."""

    def __init__(self) -> None:
        ctx = mp.get_context("spawn")
        self.port = free_port()
        self.outage_until = ctx.Value("d", 0.0)
        self.delivered = ctx.Value("q", 0)
        self.proc = ctx.Process(target=_receiver_main, args=(self.port, self.outage_until, self.delivered),
                                daemon=True)

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}/fhir"

    def outage(self, secs: float) -> None:
        self.outage_until.value = time.time() + secs

    def __enter__(self) -> "Receiver":
        from hl7bridge.bench.common import tcp_reachable

        self.proc.start()
        deadline = time.monotonic() + READY_SECS
        while not tcp_reachable(LOOPBACK, self.port, 0.2):
            if time.monotonic() > deadline or not self.proc.is_alive():
                raise RuntimeError("HTTP receiver did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *_exc: object) -> None:
        self.proc.terminate()
        self.proc.join(10)

