"""Agreement with Microsoft FHIR-Converter's expected Bundles, normalised as the corpora README says.

Prints, per message type, the share of the expected valued elements (identifiers, names, codes,
values and units, dates, status, references) that our Bundle reproduces.  Where the IG
spreadsheets and Microsoft's templates differ we follow the IG; docs/hl7v2-to-fhir.md lists
those differences and why the share stays below the 90 % aim.
"""

from __future__ import annotations

import json
import os
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from hl7bridge.engine.errors import ParseError, TransformError
from hl7bridge.transforms.fhir.compare import Agreement, compare_bundles
from hl7bridge.transforms.fhir.ig_differences import excuser
from hl7bridge.transforms.hl7v2_to_fhir import hl7v2_to_fhir

MS = Path(__file__).resolve().parents[3] / "shared" / "corpora" / "microsoft-fhir-converter"
pytestmark = pytest.mark.corpus


def _pairs() -> list[tuple[Path, Path]]:
    expected = MS / "expected" / "Hl7v2"
    if not expected.is_dir():
        if os.environ.get("CI") == "true":
            pytest.fail(f"corpus missing: {expected}")
        pytest.skip(f"Microsoft FHIR-Converter corpus not found at {MS}")
    pairs = []
    for path in sorted(expected.rglob("*-expected.json")):
        source = MS / "samples" / "Hl7v2" / (path.name[: -len("-expected.json")] + ".hl7")
        if source.exists():
            pairs.append((source, path))
    return pairs


# The IG share per message type (Microsoft's facts, less those the IG decides otherwise), about one
# point below the value measured when last raised, so a regression fails here; docs/hl7v2-to-fhir.md
# gives the measured values and why four of the issue's types stay below 90 %.
FLOORS: dict[str, float] = {
    "ADT_A01": 0.91, "ADT_A02": 0.98, "ADT_A03": 0.95, "ADT_A04": 0.94, "ADT_A05": 0.95, "ADT_A06": 0.93,
    "ADT_A07": 0.93, "ADT_A08": 0.95, "ADT_A09": 0.96, "ADT_A10": 0.96, "ADT_A11": 0.98, "ADT_A13": 0.95,
    "ADT_A14": 0.95, "ADT_A15": 0.97, "ADT_A16": 0.95, "ADT_A25": 0.98, "ADT_A26": 0.97, "ADT_A27": 0.98,
    "ADT_A28": 0.95, "ADT_A29": 0.97, "ADT_A31": 0.95, "ADT_A40": 0.65, "ADT_A41": 0.79, "ADT_A45": 0.99,
    "ADT_A47": 0.65, "ADT_A60": 0.94, "BAR_P01": 0.91, "BAR_P02": 0.89, "BAR_P12": 0.94, "DFT_P03": 0.93,
    "DFT_P11": 0.83, "MDM_T01": 0.84, "MDM_T02": 0.91, "MDM_T05": 0.85, "MDM_T06": 0.92, "MDM_T09": 0.85,
    "MDM_T10": 0.92, "OMG_O19": 0.78, "OML_O21": 0.89, "ORM_O01": 0.92, "ORU_R01": 0.91, "OUL_R22": 0.87,
    "OUL_R23": 0.90, "OUL_R24": 0.88, "RDE_O11": 0.94, "RDE_O25": 0.92, "RDS_O13": 0.94, "REF_I12": 0.88,
    "REF_I14": 0.87, "SIU_S12": 0.90, "SIU_S13": 0.89, "SIU_S14": 0.89, "SIU_S15": 0.89, "SIU_S16": 0.89,
    "SIU_S17": 0.89, "SIU_S26": 0.89, "VXU_V04": 0.94
}
OVERALL_FLOOR = 0.92
# The message types issue #4 lists (the 90 % aim applies to these; the others are measured too).
ISSUE_TYPES = frozenset({"ADT_A01", "ADT_A02", "ADT_A03", "ADT_A04", "ADT_A05", "ADT_A06", "ADT_A07", "ADT_A08",
                         "ADT_A11", "ADT_A13", "ADT_A28", "ADT_A31", "ADT_A40", "ORU_R01", "ORM_O01", "OML_O21",
                         "SIU_S12", "SIU_S13", "SIU_S14", "SIU_S15", "MDM_T02", "VXU_V04", "RDE_O11", "DFT_P03"})
ISSUE_AIM = 0.90
# Issue types allowed under the aim, each with the reason (docs/hl7v2-to-fhir.md says more).
BELOW_AIM = {
    "ADT_A40": "Microsoft joins two merges in one Linkage, asserting four records are one person; "
               "FHIR's Linkage is one real-world entity, so we build one per merge (no IG map)",
}


def test_agreement_per_message_type_is_reported_and_does_not_regress() -> None:
    per_type: dict[str, Agreement] = defaultdict(Agreement)
    total = Agreement()
    rules: Counter = Counter()
    for source, expected in _pairs():
        try:
            actual = hl7v2_to_fhir(source.read_bytes())
        except (ParseError, TransformError):
            actual = None
        result = compare_bundles(json.loads(expected.read_text(encoding="utf-8")), actual,
                                 excuse=excuser(expected.parent.name, rules))
        per_type[expected.parent.name].add(result)
        total.add(result)
    print("\nagreement with Microsoft FHIR-Converter expected output (share of expected facts reproduced;"
          " 'IG': leaving out the facts where the IG says otherwise)")
    for name, result in sorted(per_type.items()):
        mark = "*" if name in ISSUE_TYPES else " "
        print(f" {mark}{name:10} IG {result.ig_share:6.1%}  all {result.share:6.1%}  "
              f"{sum(result.found.values()):5}/{sum(result.expected.values())} excused {sum(result.excused.values())}")
    print(f"  {'ALL':10} IG {total.ig_share:6.1%}  all {total.share:6.1%}   (* = a type issue #4 names)")
    for rtype in sorted(total.expected, key=lambda r: -total.expected[r]):
        print(f"    {rtype:22} {total.found[rtype] / total.expected[rtype]:6.1%}  of {total.expected[rtype]}")
    print("  excused, per IG rule:")
    for rule, n in rules.most_common():
        print(f"    {n:5}  {rule}")
    assert len(per_type) >= 50
    below = {name: round(result.ig_share, 3) for name, result in per_type.items()
             if result.ig_share < FLOORS.get(name, 0.0)}
    assert not below, f"agreement fell below its floor: {below}"
    short = {name: round(per_type[name].ig_share, 3) for name in ISSUE_TYPES - set(BELOW_AIM)
             if per_type[name].ig_share < ISSUE_AIM}
    assert not short, f"issue #4 types under {ISSUE_AIM:.0%} (IG share) without a recorded reason: {short}"
    assert set(FLOORS) <= set(per_type), "a message type with a floor has no expected Bundle any more"
    assert total.ig_share >= OVERALL_FLOOR


def test_comparison_counts_a_reproduced_bundle_as_full_agreement() -> None:
    source, expected = _pairs()[0]
    bundle = json.loads(expected.read_text(encoding="utf-8"))
    assert compare_bundles(bundle, bundle).share == 1.0
    assert compare_bundles(bundle, None).share == 0.0


def _loc(name: str, code: str = "bu") -> dict:
    return {"resource": {"resourceType": "Location", "name": name, "physicalType": {"coding": [
        {"system": "http://terminology.hl7.org/CodeSystem/location-physical-type", "code": code}]}}}


def test_an_exact_repeat_in_the_expected_bundle_shares_our_single_match() -> None:
    expected = {"entry": [_loc("WEST"), _loc("WEST")]}
    assert compare_bundles(expected, {"entry": [_loc("WEST")]}).share == 1.0


def test_a_near_repeat_does_not_share_a_match() -> None:
    expected = {"entry": [_loc("WEST"), _loc("WEST", "wi")]}
    result = compare_bundles(expected, {"entry": [_loc("WEST")]})
    assert result.share == 0.5


def test_header_only_resources_are_left_out_through_chains_and_orphans() -> None:
    org = {"fullUrl": "urn:uuid:1", "resource": {"resourceType": "Organization", "name": "Parent"}}
    sender = {"fullUrl": "urn:uuid:2", "resource": {"resourceType": "Organization", "name": "Sender",
                                                     "partOf": {"reference": "urn:uuid:1"}}}
    header = {"resource": {"resourceType": "MessageHeader", "sender": {"reference": "urn:uuid:2"}}}
    orphan = {"resource": {"resourceType": "Device", "deviceName": [{"name": "Engine"}]}}
    kept = _loc("WEST")
    result = compare_bundles({"entry": [org, sender, header, orphan, kept]}, {"entry": [_loc("WEST")]})
    assert result.share == 1.0 and set(result.expected) == {"Location"}


def test_a_coded_quantity_still_compares_its_value_and_unit() -> None:
    def obs(quantity: dict) -> dict:
        return {"entry": [{"resource": {"resourceType": "Observation", "valueQuantity": quantity}}]}
    coded = {"value": 40.1, "unit": "%", "system": "http://unitsofmeasure.org", "code": "%"}
    assert compare_bundles(obs({"value": 40.1, "unit": "%"}), obs(coded)).share == 1.0
    assert compare_bundles(obs({"value": 40.1, "unit": "%"}), obs(dict(coded, value=41))).share == 0.5


def test_pairing_maximises_the_facts_reproduced_overall() -> None:
    def loc(name: str | None, code: str | None) -> dict:
        res: dict = {"resourceType": "Location"}
        if name:
            res["name"] = name
        if code:
            res["physicalType"] = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/location-physical-type",
                                               "code": code}]}
        return {"resource": res}
    expected = {"entry": [loc("WEST", "bu"), loc("WEST", None)]}
    ours = {"entry": [loc("WEST", None), loc(None, "bu")]}
    # best-first pairing would spend our "WEST" on the first and find 1 of 3 facts; the optimum finds 2
    assert abs(compare_bundles(expected, ours).share - 2 / 3) < 1e-9
