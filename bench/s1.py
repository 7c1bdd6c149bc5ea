"""S1: durable intake with ACK -- SQLite (and PostgreSQL when reachable).

Flat-out msg/s at 1 and 16 closed-loop connections, then ACK latency at paced offered rates.
The channel's filter passes nothing, so the pipeline behind intake does its lightest work
(S4 measures the full pipeline).
"""

from __future__ import annotations

import tempfile
import uuid
from contextlib import contextmanager
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from hl7bridge.bench.common import ADT, ORU, free_port, percentiles, tcp_reachable, template
from hl7bridge.bench.configs import intake_config
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


def measure(store: str, prefix: str, quick: bool, workdir: Path) -> dict[str, Any]:
    duration = 3.0 if quick else 10.0
    port = free_port()
    out: dict[str, Any] = {}
    with Engine(workdir, intake_config(store=store, port=port, archive=str(workdir / "archive"))) as engine:
        for conns in (1, 16):
            cpu0 = engine.cpu_secs()
            load = run_load(LoadSpec(port, MESSAGES, conns, duration, tag=f"{prefix}c{conns}"))
            out[f"{prefix}_msgs_per_s_{conns}conn"] = load["msgs_per_s"]
            out[f"{prefix}_naks_{conns}conn"] = load["naks"]
            out[f"{prefix}_engine_cpu_pct_{conns}conn"] = round(100 * (engine.cpu_secs() - cpu0) / (duration + 1), 1)
        for rate in (RATES[1:2] if quick else RATES):
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
        out = measure(f"sqlite:///{tmp}/store.db", "s1", quick, Path(tmp))
    with pg_database() as url, tempfile.TemporaryDirectory(prefix="hl7b-s1pg-") as tmp:
        if url is None:
            out["s1pg_skipped"] = "PostgreSQL not reachable on 127.0.0.1:5432"
        else:
            out |= measure(url, "s1pg", quick, Path(tmp))
    return out
