"""Most frequent expected facts our Bundles miss against Microsoft FHIR-Converter's expected output.

    .venv/bin/python -m hl7bridge.bench.agreement_misses [TYPE_PREFIX] [--values] [--top N]

Pairs resources exactly as ``transforms/fhir/compare.py`` does (optimal pairing, exact repeats
sharing a match, header-only resources left out) and counts each missed (resource type, path,
kind[, value]) fact; ``UNPAIRED`` marks facts of expected resources none of ours was paired with.
Work down the list by weight; see docs/hl7v2-to-fhir.md for the misses that are IG decisions.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

from hl7bridge.engine.errors import HL7BridgeError
from hl7bridge.transforms.fhir import compare as cmp
from hl7bridge.transforms.hl7v2_to_fhir import hl7v2_to_fhir

MS = Path(__file__).resolve().parents[2] / "shared" / "corpora" / "microsoft-fhir-converter"


def _facts_by_type(bundle: dict | None, expected: bool) -> dict[str, list[Counter]]:
    index = cmp._index(bundle) if bundle else {}
    dropped = cmp._only_referenced_by_skipped(bundle, index) if bundle and expected else set()
    out: dict[str, list[Counter]] = {}
    for entry in (bundle or {}).get("entry", []):
        res = entry.get("resource", {})
        if res.get("resourceType") in cmp.SKIP_TYPES or id(res) in dropped:
            continue
        out.setdefault(res["resourceType"], []).append(cmp.facts_of(res, index))
    return out


def _found(fact: tuple, ours: Counter) -> int:
    if fact[1] == "code" and not fact[2]:  # placeholder system: any system matches
        return sum(n for f, n in ours.items() if f[1] == "code" and cmp._loose(f) == cmp._loose(fact))
    return ours.get(fact, 0)


def misses(expected: dict, actual: dict | None, values: bool) -> Counter:
    """Missed facts of one expected Bundle, keyed (type, path, kind[, value][, UNPAIRED])."""
    out: Counter = Counter()
    ours = _facts_by_type(actual, False)
    for rtype, wanted in _facts_by_type(expected, True).items():
        candidates = ours.get(rtype, [])
        paired = cmp._assign([[cmp._score(e, a) * 1000 + cmp._same_entity(e, a) for a in candidates] for e in wanted])
        for i, facts in enumerate(wanted):
            twin = next((k for k in paired if wanted[k] == facts), None) if i not in paired else i
            match = candidates[paired[twin]] if twin is not None else Counter()
            for fact, n in facts.items():
                missing = n - min(n, _found(fact, match))
                if missing:
                    key = (rtype,) + (fact if values else fact[:2])
                    out[key + (("UNPAIRED",) if twin is None else ())] += missing
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("prefix", nargs="?", default="", help="message type prefix, e.g. ADT or ORU_R01")
    parser.add_argument("--values", action="store_true", help="count per value, not per path")
    parser.add_argument("--top", type=int, default=60)
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
        total.update(misses(json.loads(path.read_text(encoding="utf-8")), actual, args.values))
    print(f"missed facts: {sum(total.values())}")
    for key, n in total.most_common(args.top):
        print(f"{n:6}  {key}")


if __name__ == "__main__":
    main()
