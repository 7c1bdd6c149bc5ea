"""S3: ``hl7v2_to_fhir`` per core on ADT^A01 and ORU^R01 (20 OBX); baseline: python-hl7's parse.

Rates are per CPU-second of this process (``time.process_time``), so other work on a shared
machine does not lower them; the loop is bounded by count and by wall time.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from hl7bridge.bench.common import ADT, ORU


def per_cpu_second(fn: Callable[[], Any], min_cpu_secs: float, max_wall_secs: float) -> float:
    for _ in range(20):  # warm caches and imports
        fn()
    count, cpu0, wall0 = 0, time.process_time(), time.monotonic()
    while count < 1_000_000:
        for _ in range(50):
            fn()
        count += 50
        cpu = time.process_time() - cpu0
        if cpu >= min_cpu_secs or time.monotonic() - wall0 > max_wall_secs:
            return round(count / cpu, 1)
    return round(count / (time.process_time() - cpu0), 1)


def run(quick: bool) -> dict[str, Any]:
    import hl7

    from hl7bridge.transforms.hl7v2_to_fhir import hl7v2_to_fhir

    cpu, wall = (0.6, 4.0) if quick else (3.0, 15.0)
    out: dict[str, Any] = {}
    for key, raw in (("adt", ADT), ("oru", ORU)):
        text = raw.decode()
        bundle = hl7v2_to_fhir(text)
        out[f"s3_{key}_resources"] = len(bundle.get("entry", []))
        out[f"s3_{key}_per_s"] = per_cpu_second(lambda: hl7v2_to_fhir(text), cpu, wall)
        out[f"s3_{key}_baseline_hl7_parse_per_s"] = per_cpu_second(lambda: hl7.parse(text), cpu, wall)
    return out
