"""The MLLP load client, run in its own process(es) so it never shares the engine's interpreter.

Each connection is closed-loop: it sends one message and waits for its ACK before the next, as
LIS/RIS senders do.  Two schedules:

- closed (``rate=None``): every idle connection sends at once; the figure is ACKs per second.
- paced (``rate=R``): message i is due at ``start + i/R``; an idle connection sends it when due, and
  its latency runs from that intended time, not from when it was actually sent, so a stalled engine
  cannot hide its stall by slowing the sender (no coordinated omission).

The loop is a plain ``select`` over blocking sockets: microsecond timeouts (asyncio's timers round
to milliseconds, which would blur sub-millisecond ACK latencies) and little CPU per message.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import select
import socket
import time
from dataclasses import dataclass, field
from typing import Any

VT, FS, CR = b"\x0b", b"\x1c", b"\r"
DRAIN_SECS = 5.0


@dataclass
class LoadSpec:
    port: int
    messages: list[tuple[bytes, bytes]]  # (head, tail) templates, used in turn
    conns: int
    duration: float
    warmup: float = 1.0
    rate: float | None = None  # None: closed loop flat out
    host: str = "127.0.0.1"
    tag: str = "L"
    record: bool = False  # return each measured message's control id and intended wall-clock time


@dataclass
class _Conn:
    sock: socket.socket
    busy: bool = False
    intended: float = 0.0
    buf: bytearray = field(default_factory=bytearray)


def _connect(spec: LoadSpec) -> list[_Conn]:
    conns = []
    for _ in range(spec.conns):
        sock = socket.create_connection((spec.host, spec.port), timeout=10)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conns.append(_Conn(sock))
    return conns


def run_one(spec: LoadSpec, start_at: float) -> dict[str, Any]:
    """Drive the load from this process; ``start_at`` is a wall-clock time shared by all processes."""
    conns = _connect(spec)
    by_fd = {c.sock.fileno(): c for c in conns}
    while time.time() < start_at:
        time.sleep(min(0.01, max(0.0, start_at - time.time())))
    cpu0 = os.times()
    t0, wall0 = time.perf_counter(), time.time()
    sent_at: dict[str, float] = {}
    measure_from, stop_at = t0 + spec.warmup, t0 + spec.warmup + spec.duration
    interval = 1.0 / spec.rate if spec.rate else 0.0
    counter, naks, acked, lat = 0, 0, 0, []
    prefix = f"{spec.tag}{os.getpid()}-".encode()
    idle = list(conns)
    deadline = stop_at + DRAIN_SECS
    while True:
        now = time.perf_counter()
        sending = now < stop_at
        if not sending and len(idle) == len(conns) or now > deadline:
            break
        while sending and idle:
            intended = t0 + counter * interval if interval else now
            if intended > now:
                break
            conn = idle.pop()
            head, tail = spec.messages[counter % len(spec.messages)]
            control_id = prefix + str(counter).encode()
            conn.sock.sendall(VT + head + control_id + tail + FS + CR)
            if spec.record and measure_from <= intended < stop_at:
                sent_at[control_id.decode()] = wall0 + (intended - t0)
            conn.busy, conn.intended = True, intended
            counter += 1
        if sending and idle and interval:
            timeout = max(0.0, t0 + counter * interval - time.perf_counter())
        else:
            timeout = max(0.0, (stop_at if sending else deadline) - time.perf_counter())
        ready, _, _ = select.select([c.sock for c in conns if c.busy], [], [], timeout)
        for sock in ready:
            conn = by_fd[sock.fileno()]
            data = sock.recv(65536)
            if not data:
                raise ConnectionError("the server closed a load connection")
            conn.buf += data
            end = conn.buf.find(FS)
            if end < 0:
                continue
            done = time.perf_counter()
            frame = bytes(conn.buf[:end])
            del conn.buf[:end + 2]
            conn.busy = False
            idle.append(conn)
            if b"MSA|AA" not in frame and b"MSA|CA" not in frame:
                naks += 1
            if measure_from <= conn.intended < stop_at:
                acked += 1
                lat.append((done - conn.intended) * 1000.0)
    cpu1 = os.times()
    for conn in conns:
        conn.sock.close()
    return {"acked": acked, "naks": naks, "sent": counter, "window": spec.duration, "latencies_ms": lat, "sent_at": sent_at,
            "client_cpu_secs": (cpu1.user - cpu0.user) + (cpu1.system - cpu0.system)}


def _child(spec: LoadSpec, start_at: float, out: Any) -> None:
    try:
        out.put(run_one(spec, start_at))
    except Exception as exc:  # reported to the parent, which fails the scenario
        out.put({"error": f"{type(exc).__name__}: {exc}"})


def run_load(spec: LoadSpec, procs: int = 1) -> dict[str, Any]:
    """Run ``spec`` split over ``procs`` client processes; merge their counts and latencies."""
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    start_at = time.time() + 1.5  # time for the spawned interpreters to import and connect
    parts = []
    for index in range(procs):
        conns = spec.conns // procs + (1 if index < spec.conns % procs else 0)
        rate = spec.rate / procs if spec.rate else None
        part = LoadSpec(spec.port, spec.messages, conns, spec.duration, spec.warmup, rate, spec.host,
                        f"{spec.tag}{index}-", spec.record)
        proc = ctx.Process(target=_child, args=(part, start_at, out), daemon=True)
        proc.start()
        parts.append(proc)
    timeout = 1.5 + spec.warmup + spec.duration + DRAIN_SECS + 30
    results = [out.get(timeout=timeout) for _ in parts]
    for proc in parts:
        proc.join(10)
    errors = [r["error"] for r in results if "error" in r]
    if errors:
        raise RuntimeError("load client failed: " + "; ".join(errors))
    latencies = [x for r in results for x in r["latencies_ms"]]
    acked = sum(r["acked"] for r in results)
    sent_at = {k: v for r in results for k, v in r["sent_at"].items()}
    return {"msgs_per_s": round(acked / spec.duration, 1), "sent_at": sent_at, "acked": acked, "naks": sum(r["naks"] for r in results),
            "sent": sum(r["sent"] for r in results),
            "latencies_ms": latencies, "client_cpu_pct": round(100 * sum(r["client_cpu_secs"] for r in results)
                                                               / (spec.warmup + spec.duration), 1)}
