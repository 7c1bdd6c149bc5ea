"""B1: a bare asyncio MLLP server that only ACKs, driven by the same load client: the ceiling."""

from __future__ import annotations

from typing import Any

from hl7bridge.bench.common import ADT, percentiles, template
from hl7bridge.bench.loadgen import LoadSpec, run_load
from hl7bridge.bench.procs import BareServer


def run(quick: bool) -> dict[str, Any]:
    duration = 3.0 if quick else 10.0
    out: dict[str, Any] = {}
    with BareServer() as server:
        for conns in (1, 16):
            load = run_load(LoadSpec(server.port, [template(ADT)], conns, duration, tag="B"))
            out[f"b1_msgs_per_s_{conns}conn"] = load["msgs_per_s"]
            out[f"b1_client_cpu_pct_{conns}conn"] = load["client_cpu_pct"]
            out[f"b1_ack_p50_ms_{conns}conn"] = percentiles(load["latencies_ms"])["p50"]
    return out
