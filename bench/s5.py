"""S5: the destination answers 503 for 30 s.  Intake during the outage against intake just before
it (one closed-loop sender each time), then how long the backlog takes to drain once the
destination is back.  Retries: first after 0.5 s, doubling to at most 5 s.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

from hl7bridge.bench.common import ADT, ORU, free_port, percentiles, template
from hl7bridge.bench.configs import e2e_config
from hl7bridge.bench.loadgen import LoadSpec, run_load
from hl7bridge.bench.procs import Engine, Receiver
from hl7bridge.bench.stores import RABBIT_URL, StoreReader, delete_queues, rabbit_reachable, unique_channel

MESSAGES = [template(ADT), template(ORU)]
CONNS = 2
DRAIN_LIMIT_SECS = 180.0


def run(quick: bool) -> dict[str, Any]:
    use_rabbit = rabbit_reachable()
    channel = unique_channel("bench_s5")
    normal_secs, outage_secs = (3.0, 6.0) if quick else (10.0, 30.0)
    out: dict[str, Any] = {"s5_broker": "rabbitmq" if use_rabbit else "embedded (RabbitMQ unreachable)",
                           "s5_outage_secs": outage_secs}
    with tempfile.TemporaryDirectory(prefix="hl7b-s5-") as tmp, Receiver() as receiver:
        port, db = free_port(), Path(tmp) / "store.db"
        config = e2e_config(store=f"sqlite:///{db}", broker=RABBIT_URL if use_rabbit else "embedded", port=port,
                            url=receiver.url, channel=channel)
        try:
            with Engine(Path(tmp), config):
                normal = run_load(LoadSpec(port, MESSAGES, CONNS, normal_secs, tag="S5n"))
                receiver.outage(outage_secs + 1.5 + 1.0)  # covers the load's start-up and warm-up too
                during = run_load(LoadSpec(port, MESSAGES, CONNS, outage_secs, tag="S5o"))
                reader = StoreReader(db)
                total = len(reader.query("select id from messages"))
                while time.time() < receiver.outage_until.value:
                    time.sleep(0.05)
                drain = reader.wait_all("DELIVERED", total, DRAIN_LIMIT_SECS)
                attempts = reader.query("select count(*) from attempts where outcome = 'retry'")[0][0]
                out |= {"s5_intake_normal_per_s": normal["msgs_per_s"], "s5_intake_outage_per_s": during["msgs_per_s"],
                        "s5_intake_ratio": round(during["msgs_per_s"] / normal["msgs_per_s"], 3) if normal["msgs_per_s"] else None,
                        "s5_ack_p99_ms_normal": percentiles(normal["latencies_ms"])["p99"],
                        "s5_ack_p99_ms_outage": percentiles(during["latencies_ms"])["p99"],
                        "s5_backlog_msgs": total, "s5_retried_attempts": attempts,
                        "s5_drain_secs": round(drain, 1) if drain is not None else None}
        finally:
            if use_rabbit:
                delete_queues(channel, ["fhir"])
    return out
