"""Shared bench helpers: synthetic messages, percentiles, machine facts (CPU, fsync latency, commit).

Messages are the repository's synthetic fixtures (tests/fixtures/hl7v2) with MSH-10 replaced by a
unique control id, so intake never sees a duplicate.  Nothing here touches the network.
"""

from __future__ import annotations

import os
import platform
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "fixtures" / "hl7v2"
LOOPBACK = "127.0.0.1"


def fixture(name: str) -> bytes:
    """A fixture as bytes with CR segment separators."""
    text = (FIXTURES / name).read_bytes().replace(b"\r\n", b"\r").replace(b"\n", b"\r")
    return text.rstrip(b"\r") + b"\r"


def template(raw: bytes) -> tuple[bytes, bytes]:
    """Split a message around its MSH-10 value: ``head + control_id + tail`` rebuilds it."""
    msh_end = raw.index(b"\r")
    fields = raw[:msh_end].split(b"|")
    head = b"|".join(fields[:9]) + b"|"
    tail = b"|" + b"|".join(fields[10:]) + raw[msh_end:]
    return head, tail


ADT = fixture("adt_a01.hl7")
ORU = fixture("oru_r01_20obx.hl7")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return sock.getsockname()[1]


def percentiles(values_ms: list[float]) -> dict[str, float]:
    """p50/p99/max (ms, 3 decimals) of a latency list; empty input gives zeros."""
    if not values_ms:
        return {"p50": 0.0, "p99": 0.0, "max": 0.0, "n": 0}
    ordered = sorted(values_ms)
    last = len(ordered) - 1

    def at(q: float) -> float:
        return round(ordered[min(last, int(q * len(ordered)))], 3)

    return {"p50": at(0.50), "p99": at(0.99), "max": round(ordered[-1], 3), "n": len(ordered)}


def fsync_latency_ms(samples: int = 200) -> dict[str, float]:
    """Write 4 KiB and fsync, ``samples`` times, in the temp dir (the bench's stores live there too)."""
    times: list[float] = []
    with tempfile.NamedTemporaryFile(dir=tempfile.gettempdir()) as handle:
        block = b"\0" * 4096
        for _ in range(samples):
            os.write(handle.fileno(), block)
            start = time.perf_counter()
            os.fsync(handle.fileno())
            times.append((time.perf_counter() - start) * 1000.0)
    return percentiles(times)


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def git_commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True,
                             timeout=10)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPO,
                               capture_output=True, text=True, timeout=10)
        return out.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def machine() -> dict[str, Any]:
    load = os.getloadavg()
    return {"nproc": os.cpu_count(), "cpu_model": cpu_model(), "python": platform.python_version(),
            "kernel": platform.release(), "fsync_ms": fsync_latency_ms(), "loadavg_at_start": [round(x, 2) for x in load],
            "commit": git_commit()}


def tcp_reachable(host: str, port: int, timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False
