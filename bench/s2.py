"""S2: intake plus the outbox relay to RabbitMQ: sustained intake rate and relay lag.

The relay publishes outbox rows with confirms and deletes them once confirmed; its lag is the
age of the oldest row still waiting, sampled every 0.5 s during the run, and the time the relay
needs to empty the outbox after the load stops.
"""

from __future__ import annotations

import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from hl7bridge.bench.common import ADT, ORU, free_port, percentiles, template
from hl7bridge.bench.configs import intake_config
from hl7bridge.bench.loadgen import LoadSpec, run_load
from hl7bridge.bench.procs import Engine
from hl7bridge.bench.stores import RABBIT_URL, StoreReader, delete_queues, rabbit_reachable, unique_channel

DRAIN_LIMIT_SECS = 60.0


def sample_lag(reader: StoreReader, stop: threading.Event, out: list[float], depth: list[int]) -> None:
    while not stop.wait(0.5):
        count, age_ms = reader.outbox_lag()
        out.append(age_ms)
        depth.append(count)


def run(quick: bool) -> dict[str, Any]:
    if not rabbit_reachable():
        return {"s2_skipped": "RabbitMQ not reachable on 127.0.0.1:5672"}
    duration = 5.0 if quick else 20.0
    channel = unique_channel("bench_s2")
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="hl7b-s2-") as tmp:
        port, db = free_port(), Path(tmp) / "store.db"
        config = intake_config(store=f"sqlite:///{db}", port=port, archive=f"{tmp}/archive", broker=RABBIT_URL,
                               channel=channel)
        try:
            with Engine(Path(tmp), config):
                reader, stop, lags, depth = StoreReader(db), threading.Event(), [], []
                sampler = threading.Thread(target=sample_lag, args=(reader, stop, lags, depth), daemon=True)
                sampler.start()
                load = run_load(LoadSpec(port, [template(ADT), template(ORU)], 16, duration, tag="S2"))
                stop.set()
                sampler.join(10)
                started = time.monotonic()
                while reader.outbox_lag()[0] and time.monotonic() - started < DRAIN_LIMIT_SECS:
                    time.sleep(0.1)
                drained = reader.outbox_lag()[0] == 0
                lag = percentiles(lags)
                out |= {"s2_msgs_per_s_16conn": load["msgs_per_s"], "s2_relay_lag_p50_ms": lag["p50"],
                        "s2_relay_lag_max_ms": lag["max"], "s2_outbox_depth_max": max(depth, default=0),
                        "s2_relay_drain_secs": round(time.monotonic() - started, 2) if drained else None}
        finally:
            delete_queues(channel, ["archive"])
    return out
