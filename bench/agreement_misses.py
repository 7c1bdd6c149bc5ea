"""Most frequent expected facts our Bundles miss against Microsoft FHIR-Converter's expected output.

    .venv/bin/python -m hl7bridge.bench.agreement_misses [TYPE_PREFIX] [--values] [--top N]

Pairs resources exactly as ``transforms/fhir/compare.py`` does (optimal pairing, exact repeats
sharing a match, header-only resources left out) and counts each missed (resource type, path,
kind[, value]) fact; ``UNPAIRED`` marks facts of expected resources none of ours was paired with.
Misses the IG explains (transforms/fhir/ig_differences.py) are left out unless ``--all``.
Work down the list by weight.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

from hl7bridge.engine.errors import HL7BridgeError
from hl7bridge.transforms.fhir import compare as cmp
from hl7bridge.transforms.fhir.ig_differences import excuser
from hl7bridge.transforms.hl7v2_to_fhir import hl7v2_to_fhir

MS = Path(__file__).resolve().parents[2] / "shared" / "corpora" / "microsoft-fhir-converter"


def misses(expected: dict, actual: dict | None, values: bool, message_type: str = "",
           all_misses: bool = False) -> Counter:
    """Missed facts of one expected Bundle, keyed (type, path, kind[, value][, UNPAIRED]); facts the IG
    explains (transforms/fhir/ig_differences.py) are left out unless ``all_misses``."""
    out: Counter = Counter()
    excuse = None if all_misses else excuser(message_type)
    pairs, _extra = cmp.pair_up(expected, actual)
    for pair in pairs:
        missed = pair.missed()
        if excuse is not None and missed:
            missed = missed - excuse(pair, missed)
        for fact, n in missed.items():
            key = (pair.rtype,) + (fact if values else fact[:2])
            out[key + (("UNPAIRED",) if pair.actual is None else ())] += n
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("prefix", nargs="?", default="", help="message type prefix, e.g. ADT or ORU_R01")
    parser.add_argument("--values", action="store_true", help="count per value, not per path")
    parser.add_argument("--top", type=int, default=60)
    parser.add_argument("--all", action="store_true", help="also the misses the IG explains")
    args = parser.parse_args()
    total: Counter = Counter()
    for path in sorted((MS / "expected" / "Hl7v2").rglob("*-expected.json")):
        source = MS / "samples" / "Hl7v2" / (path.name[: -len("-expected.json")] + ".hl7")
        if not path.parent.name.startswith(args.prefix) or not source.exists():
            continue
        try:
            actual = hl7v2_to_fhir(source.read_bytes())
        except HL7BridgeError:
            actual = None
        total.update(misses(json.loads(path.read_text(encoding="utf-8")), actual, args.values, path.parent.name,
                            args.all))
    print(f"missed facts: {sum(total.values())}")
    for key, n in total.most_common(args.top):
        print(f"{n:6}  {key}")


if __name__ == "__main__":
    main()
