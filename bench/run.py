"""The bench driver: ``python -m hl7bridge.bench.run [--quick] [--only b1,s3]``.

Runs the scenarios (each in its own module), prints one table -- every figure beside its target
and the baseline measured in the same run -- and writes bench/results/latest.json plus a dated
copy, with the machine (nproc, CPU model, fsync latency measured now) and the commit.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import shutil
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from hl7bridge.bench.common import fsync_latency_ms, machine

RESULTS = Path(__file__).resolve().parent / "results"
SCENARIOS = ("b1", "s1", "s2", "s3", "s4", "s5", "s6")
FULL_ONLY = ("s6",)  # a 10-minute soak has no quick form; --quick skips it unless --only names it

# (key, target text, check, baseline key or None): checks take (value, results) and say pass/fail.
ROWS: list[tuple[str, str, Any, str | None]] = [
    ("b1_msgs_per_s_1conn", "baseline", None, None),
    ("b1_msgs_per_s_16conn", "baseline", None, None),
    ("s1_msgs_per_s_1conn", "", None, "b1_msgs_per_s_1conn"),
    ("s1_msgs_per_s_16conn", ">= 5000", lambda v, r: v >= 5000, "b1_msgs_per_s_16conn"),
    ("s1_ratio_vs_b1_16conn", ">= 0.25", lambda v, r: v >= 0.25, None),
    ("s1_ack_p50_ms_500", "< 1 ms", lambda v, r: v < 1, "b1_ack_p50_ms_500"),
    ("s1_ack_p99_ms_500", "< 5 ms", lambda v, r: v < 5, "b1_ack_p99_ms_500"),
    ("s1_ack_p99_ms_100", "", None, None),
    ("s1_ack_p99_ms_2000", "", None, None),
    ("s1_with_pipeline_msgs_per_s_16conn", "", None, "s1_msgs_per_s_16conn"),
    ("s1pg_msgs_per_s_16conn", "", None, "b1_msgs_per_s_16conn"),
    ("s1pg_ack_p99_ms_500", "", None, None),
    ("s2_msgs_per_s_16conn", "", None, "s1_msgs_per_s_16conn"),
    ("s2_relay_lag_p50_ms", "", None, None),
    ("s2_relay_lag_max_ms", "", None, None),
    ("s3_adt_per_s", ">= 800", lambda v, r: v >= 800, "s3_adt_baseline_hl7_parse_per_s"),
    ("s3_oru_per_s", ">= 300", lambda v, r: v >= 300, "s3_oru_baseline_hl7_parse_per_s"),
    ("s4_msgs_per_s", ">= 500", lambda v, r: v >= 500, "s4_offered_per_s"),
    ("s4_store_floor_p99_ms_300", "baseline", None, None),
    ("s4_ack_p99_ms_300", "< 10 ms", lambda v, r: v < 10, "s4_store_floor_p99_ms_300"),
    ("s4_e2e_p50_ms_300", "", None, None),
    ("s4_e2e_p99_ms_300", "< 100 ms", lambda v, r: v < 100, None),
    ("s4_rss_mb", "< 250 MB", lambda v, r: v < 250, None),
    ("s5_intake_ratio", ">= 0.9", lambda v, r: v >= 0.9, None),
    ("s5_intake_outage_per_s", "", None, "s5_intake_normal_per_s"),
    ("s5_drain_secs", "", None, None),
    ("s6_rss_mb_end", "", None, "s6_rss_mb_start"),
    ("s6_rss_growth_pct", "< 10 %", lambda v, r: v is not None and v < 10, None),
]


def run_scenarios(names: list[str], quick: bool) -> tuple[dict[str, Any], dict[str, str]]:
    results: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for name in names:
        started = time.monotonic()
        print(f"bench: {name} ...", flush=True)
        try:
            results |= importlib.import_module(f"hl7bridge.bench.{name}").run(quick)
        except Exception as exc:  # one failing scenario must not lose the others' figures
            errors[name] = f"{type(exc).__name__}: {exc}"
            traceback.print_exc()
        results[f"{name}_secs"] = round(time.monotonic() - started, 1)
    if "s1_msgs_per_s_16conn" in results and results.get("b1_msgs_per_s_16conn"):
        results["s1_ratio_vs_b1_16conn"] = round(results["s1_msgs_per_s_16conn"] / results["b1_msgs_per_s_16conn"], 3)
    return results, errors


def table(results: dict[str, Any]) -> str:
    lines = [f"{'figure':36} {'value':>10} {'target':>10} {'baseline':>10} {'ratio':>7}  ok"]
    for key, target, check, base_key in ROWS:
        value = results.get(key)
        if value is None:
            continue
        base = results.get(base_key) if base_key else None
        ratio = f"{value / base:.2f}" if isinstance(base, (int, float)) and base else ""
        ok = "" if check is None else ("yes" if check(value, results) else "NO")
        lines.append(f"{key:36} {value:>10} {target:>10} {'' if base is None else base:>10} {ratio:>7}  {ok}")
    return "\n".join(lines)


def write(report: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    latest = RESULTS / "latest.json"
    latest.write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")
    dated = RESULTS / f"{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}{'-quick' if report['quick'] else ''}.json"
    shutil.copyfile(latest, dated)
    return dated


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hl7bridge.bench.run")
    parser.add_argument("--quick", action="store_true", help="short runs: the same table in under 2 minutes")
    parser.add_argument("--only", default=None, help="comma-separated scenarios (default: all; --quick: all but s6)")
    args = parser.parse_args(argv)
    default = [n for n in SCENARIOS if not (args.quick and n in FULL_ONLY)]
    names = [n.strip() for n in args.only.split(",") if n.strip()] if args.only else default
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown:
        parser.error(f"unknown scenario(s) {', '.join(unknown)}; known: {', '.join(SCENARIOS)}")
    started = time.monotonic()
    info = machine()
    results, errors = run_scenarios(names, args.quick)
    info["fsync_ms_at_end"] = fsync_latency_ms()
    info["loadavg_at_end"] = [round(x, 2) for x in os.getloadavg()]
    report = {"quick": args.quick, "started_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
              "machine": info, "results": results, "errors": errors, "secs": round(time.monotonic() - started, 1)}
    print(f"\nmachine: {info['nproc']} x {info['cpu_model']}, fsync p50 {info['fsync_ms']['p50']} ms "
          f"(end {info['fsync_ms_at_end']['p50']} ms), load {info['loadavg_at_start']}, commit {info['commit']}")
    print(table(results))
    for name, error in errors.items():
        print(f"scenario {name} failed: {error}")
    print(f"written: {write(report)} and latest.json ({report['secs']} s)")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
