"""HL7v2 -> FHIR throughput on one core, beside python-hl7's parse of the same message (baseline).

    .venv/bin/python bench/bench_hl7v2_to_fhir.py [--seconds 2]

Targets (docs/design): >= 800 ADT^A01/s and >= 300 ORU^R01 with 20 OBX/s per core, including
serialising the Bundle with orjson.  Prints a small table; not a test.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path

import hl7
import orjson

from hl7bridge.transforms.hl7v2.message import Message
from hl7bridge.transforms.hl7v2_to_fhir import hl7v2_to_fhir

FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "hl7v2"
CASES = {"ADT^A01": ("adt_a01.hl7", 800), "ORU^R01 (20 OBX)": ("oru_r01_20obx.hl7", 300)}


def rate(func: Callable[[], object], seconds: float) -> float:
    """Calls per second of ``func`` over about ``seconds`` (after a short warm-up)."""
    for _ in range(20):
        func()
    count, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        for _ in range(50):
            func()
        count += 50
    return count / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="time per measurement")
    args = parser.parse_args()
    print(f"{'message':18} {'python-hl7 parse/s':>19} {'Message.parse/s':>16} {'to FHIR+json/s':>15} "
          f"{'vs baseline':>11} {'target/s':>9} {'ok':>3}")
    for name, (fixture, target) in CASES.items():
        text = (FIXTURES / fixture).read_text(encoding="utf-8")
        baseline = rate(lambda: hl7.parse(text), args.seconds)
        lazy = rate(lambda: Message.parse(text), args.seconds)
        ours = rate(lambda: orjson.dumps(hl7v2_to_fhir(text)), args.seconds)
        print(f"{name:18} {baseline:19,.0f} {lazy:16,.0f} {ours:15,.0f} {ours / baseline:10.1f}x "
              f"{target:9,} {'yes' if ours >= target else 'NO':>3}")


if __name__ == "__main__":
    main()
