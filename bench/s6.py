"""S6: memory soak -- the S4 setup (MLLP in, store, broker, hl7v2_to_fhir, HTTP delivery) at 200
msg/s offered for 10 minutes (``--quick --only s6``: 90 s; plain ``--quick`` skips it), with the resident memory of the engine and its
transform workers sampled every 5 s.

``s6_rss_growth_pct`` compares the mean of the last minute (quick: last 20 s) with the mean of the
first minute after a warm-up (quick: 20 s after 15 s): the design wants less than 10 % growth.
"""

from __future__ import annotations

import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from hl7bridge.bench.common import free_port
from hl7bridge.bench.configs import e2e_config
from hl7bridge.bench.loadgen import LoadSpec, run_load
from hl7bridge.bench.procs import Engine, Receiver
from hl7bridge.bench.s4 import MESSAGES
from hl7bridge.bench.stores import RABBIT_URL, delete_queues, rabbit_reachable, unique_channel

RATE = 200
SAMPLE_SECS = 5.0


def run(quick: bool) -> dict[str, Any]:
    secs, warmup, window = (90.0, 15.0, 20.0) if quick else (600.0, 60.0, 60.0)
    use_rabbit = rabbit_reachable()
    channel = unique_channel("bench_s6")
    samples: list[tuple[float, float]] = []
    with tempfile.TemporaryDirectory(prefix="hl7b-s6-") as tmp, Receiver() as receiver:
        port = free_port()
        config = e2e_config(store=f"sqlite:///{Path(tmp) / 'store.db'}", broker=RABBIT_URL if use_rabbit else "embedded",
                            port=port, url=receiver.url, channel=channel)
        try:
            with Engine(Path(tmp), config) as engine:
                done = threading.Event()

                def sample() -> None:
                    start = time.monotonic()
                    while not done.wait(SAMPLE_SECS):
                        samples.append((time.monotonic() - start, engine.rss_mb()))

                sampler = threading.Thread(target=sample, daemon=True)
                sampler.start()
                delivered0 = receiver.delivered.value
                load = run_load(LoadSpec(port, MESSAGES, 16, secs, rate=RATE, tag="S6"))
                done.set()
                sampler.join(SAMPLE_SECS + 5)
                delivered = receiver.delivered.value - delivered0
        finally:
            if use_rabbit:
                delete_queues(channel, ["fhir"])
    first = [rss for at, rss in samples if warmup <= at < warmup + window]
    last = [rss for at, rss in samples if at >= secs - window]
    start_mb, end_mb = sum(first) / max(1, len(first)), sum(last) / max(1, len(last))
    return {"s6_broker": "rabbitmq" if use_rabbit else "embedded (RabbitMQ unreachable)",
            "s6_secs_soaked": secs, "s6_offered_per_s": RATE, "s6_acked": load["acked"], "s6_delivered": delivered,
            "s6_rss_mb_start": round(start_mb, 1), "s6_rss_mb_end": round(end_mb, 1),
            "s6_rss_mb_max": max((rss for _, rss in samples), default=0.0),
            "s6_rss_growth_pct": round(100.0 * (end_mb - start_mb) / start_mb, 1) if start_mb else None}
