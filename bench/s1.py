"""S1: durable intake with ACK -- SQLite (and PostgreSQL when reachable).

Flat-out msg/s at 1 and 16 closed-loop connections, then ACK latency at paced offered rates.
Intake is isolated from the pipeline by pointing the broker at a closed loopback port: the
engine then stores and ACKs while its relay and workers wait (its broker-outage mode), so the
figure is intake's own.  ``s1_with_pipeline_*`` runs the embedded broker and a channel whose
filter passes nothing, so each message also costs the lightest pipeline work (S4 runs it all).
"""

from __future__ import annotations

import tempfile
import uuid
from contextlib import contextmanager
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from hl7bridge.bench.common import ADT, ORU, free_port, percentiles, tcp_reachable, template
from hl7bridge.bench.configs import UNREACHABLE_BROKER, intake_config
from hl7bridge.bench.loadgen import LoadSpec, run_load
from hl7bridge.bench.procs import Engine

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/{db}"
RATES = (100, 500, 2000)
MESSAGES = [template(ADT), template(ORU)]


@contextmanager
def pg_database() -> Iterator[str | None]:
    """A fresh database for this run, dropped afterwards; None when PostgreSQL is unreachable."""
    if not tcp_reachable("127.0.0.1", 5432):
        yield None
        return
    import psycopg

    name = f"hl7b_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield PG_URL.format(db=name)
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def measure(store: str, prefix: str, quick: bool, workdir: Path, *, broker: str = UNREACHABLE_BROKER,
            conn_counts: tuple[int, ...] = (1, 16), rates: tuple[int, ...] = RATES) -> dict[str, Any]:
    duration = 2.0 if quick else 10.0
    port = free_port()
    out: dict[str, Any] = {}
    config = intake_config(store=store, port=port, archive=str(workdir / "archive"), broker=broker)
    with Engine(workdir, config) as engine:
        for conns in conn_counts:
            cpu0 = engine.cpu_secs()
            load = run_load(LoadSpec(port, MESSAGES, conns, duration, tag=f"{prefix}c{conns}"))
            out[f"{prefix}_msgs_per_s_{conns}conn"] = load["msgs_per_s"]
            out[f"{prefix}_naks_{conns}conn"] = load["naks"]
            out[f"{prefix}_engine_cpu_us_per_msg_{conns}conn"] = round(
                1e6 * (engine.cpu_secs() - cpu0) / max(1, load["sent"]), 1)
        for rate in rates:
            load = run_load(LoadSpec(port, MESSAGES, 16, duration, rate=rate, tag=f"{prefix}r{rate}"))
            stats = percentiles(load["latencies_ms"])
            out[f"{prefix}_ack_p50_ms_{rate}"] = stats["p50"]
            out[f"{prefix}_ack_p99_ms_{rate}"] = stats["p99"]
            out[f"{prefix}_ack_max_ms_{rate}"] = stats["max"]
            out[f"{prefix}_achieved_per_s_{rate}"] = load["msgs_per_s"]
        out[f"{prefix}_rss_mb"] = engine.rss_mb()
    return out


def run(quick: bool) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="hl7b-s1-") as tmp:
        out = measure(f"sqlite:///{tmp}/store.db", "s1", quick, Path(tmp), rates=RATES[1:2] if quick else RATES)
    with tempfile.TemporaryDirectory(prefix="hl7b-s1p-") as tmp:
        if not quick:  # not a target figure: full runs only, to keep --quick under 2 minutes
            out |= measure(f"sqlite:///{tmp}/store.db", "s1_with_pipeline", quick, Path(tmp), broker="embedded",
                           conn_counts=(16,), rates=())
    with pg_database() as url, tempfile.TemporaryDirectory(prefix="hl7b-s1pg-") as tmp:
        if url is None:
            out["s1pg_skipped"] = "PostgreSQL not reachable on 127.0.0.1:5432"
        else:
            out |= measure(url, "s1pg", quick, Path(tmp), conn_counts=(16,) if quick else (1, 16), rates=(500,))
    return out
