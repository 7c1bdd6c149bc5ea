"""B1: a bare asyncio MLLP server that only ACKs (uvloop, like ``hl7bridge run``), driven by the
same load client: the ceiling for intake's msg/s, and the floor under its ACK latency (the load
client, the loopback and the scheduler, with no work in the server)."""

from __future__ import annotations

from typing import Any

from hl7bridge.bench.common import ADT, ORU, percentiles, template
from hl7bridge.bench.loadgen import LoadSpec, run_load
from hl7bridge.bench.procs import BareServer

MESSAGES = [template(ADT), template(ORU)]


def run(quick: bool) -> dict[str, Any]:
    duration = 1.5 if quick else 10.0
    out: dict[str, Any] = {}
    with BareServer() as server:
        for conns in (1, 16):
            load = run_load(LoadSpec(server.port, MESSAGES, conns, duration, tag="B"))
            out[f"b1_msgs_per_s_{conns}conn"] = load["msgs_per_s"]
            out[f"b1_client_cpu_pct_{conns}conn"] = load["client_cpu_pct"]
            out[f"b1_ack_p50_ms_{conns}conn"] = percentiles(load["latencies_ms"])["p50"]
        load = run_load(LoadSpec(server.port, MESSAGES, 16, duration, rate=500, tag="Br"))
        stats = percentiles(load["latencies_ms"])
        out |= {"b1_ack_p50_ms_500": stats["p50"], "b1_ack_p99_ms_500": stats["p99"]}
    return out
