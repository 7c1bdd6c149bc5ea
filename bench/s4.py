"""S4: end to end -- MLLP in, store, RabbitMQ, hl7v2_to_fhir, HTTP POST to a local receiver,
recorded DELIVERED.  An ADT^A01 / ORU^R01 (20 OBX) mix, one to one.

1. At 300 msg/s offered (paced): ACK p99, and MLLP-in to DELIVERED p50/p99, measured from each
   message's intended send time to the time its delivery was recorded in the store.
2. Sustained: 600 msg/s offered for the run; the figure is deliveries recorded per second over
   the window (if it equals the offered rate, capacity is at least that).
Falls back to the embedded broker (and says so) when RabbitMQ is unreachable.
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
DRAIN_LIMIT_SECS = 120.0


def e2e_latencies(reader: StoreReader, sent_at: dict[str, float]) -> list[float]:
    rows = reader.query("select m.control_id, d.updated_at from deliveries d join messages m on m.id = d.message_id "
                        "where d.status = 'DELIVERED'")
    return [(done - sent_at[cid]) * 1000.0 for cid, done in rows if cid in sent_at]


def run(quick: bool) -> dict[str, Any]:
    from hl7bridge.bench import store_floor

    floor = store_floor.run(quick)  # the same-run baseline under the ACK p99
    use_rabbit = rabbit_reachable()
    channel = unique_channel("bench_s4")
    out: dict[str, Any] = {"s4_broker": "rabbitmq" if use_rabbit else "embedded (RabbitMQ unreachable)"} | floor
    latency_secs, sustained_secs = (5.0, 6.0) if quick else (20.0, 60.0)
    with tempfile.TemporaryDirectory(prefix="hl7b-s4-") as tmp, Receiver() as receiver:
        port, db = free_port(), Path(tmp) / "store.db"
        config = e2e_config(store=f"sqlite:///{db}", broker=RABBIT_URL if use_rabbit else "embedded", port=port,
                            url=receiver.url, channel=channel)
        try:
            with Engine(Path(tmp), config) as engine:
                reader = StoreReader(db)
                load = run_load(LoadSpec(port, MESSAGES, 16, latency_secs, rate=300, tag="S4r", record=True))
                total = load["acked"]
                reader.wait_all("DELIVERED", len(reader.query("select id from messages")), DRAIN_LIMIT_SECS)
                ack, e2e = percentiles(load["latencies_ms"]), percentiles(e2e_latencies(reader, load["sent_at"]))
                out |= {"s4_ack_p50_ms_300": ack["p50"], "s4_ack_p99_ms_300": ack["p99"], "s4_ack_max_ms_300": ack["max"],
                        "s4_e2e_p50_ms_300": e2e["p50"], "s4_e2e_p99_ms_300": e2e["p99"], "s4_e2e_max_ms_300": e2e["max"],
                        "s4_e2e_measured_300": e2e["n"], "s4_acked_300": total}
                out |= sustained(engine, receiver, port, sustained_secs)
        finally:
            if use_rabbit:
                delete_queues(channel, ["fhir"])
    return out


def sustained(engine: Engine, receiver: Receiver, port: int, secs: float) -> dict[str, Any]:
    import threading

    marks: dict[str, float] = {}
    warmup = 3.0

    def mark() -> None:  # delivered count at the window's start and end, on the load's own clock
        time.sleep(1.5 + warmup)
        marks["start"], marks["cpu0"], marks["rss0"] = receiver.delivered.value, engine.cpu_secs(), engine.rss_mb()
        time.sleep(secs)
        marks["end"], marks["cpu1"], marks["rss1"] = receiver.delivered.value, engine.cpu_secs(), engine.rss_mb()

    marker = threading.Thread(target=mark, daemon=True)
    marker.start()
    load = run_load(LoadSpec(port, MESSAGES, 16, secs, warmup=warmup, rate=600, tag="S4s"))
    marker.join(secs + 30)
    delivered = (marks["end"] - marks["start"]) / secs
    return {"s4_msgs_per_s": round(delivered, 1), "s4_offered_per_s": 600, "s4_intake_per_s": load["msgs_per_s"],
            "s4_ack_p99_ms_600": percentiles(load["latencies_ms"])["p99"],
            "s4_engine_cpu_pct": round(100 * (marks["cpu1"] - marks["cpu0"]) / secs, 1),
            "s4_rss_mb": max(marks["rss0"], marks["rss1"])}
