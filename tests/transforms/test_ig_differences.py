"""The IG-difference rules excuse a missed fact only under their own conditions."""

from __future__ import annotations

from collections import Counter

from hl7bridge.transforms.fhir.compare import Pair, compare_bundles
from hl7bridge.transforms.fhir.ig_differences import LPT, excuser

LVL = ("physicalType", "code", LPT, "lvl")
WA = ("physicalType", "code", LPT, "wa")


def _loc(code: str | None, name: str = "WEST") -> dict:
    res: dict = {"resourceType": "Location", "name": name}
    if code:
        res["physicalType"] = {"coding": [{"system": LPT, "code": code}]}
    return {"resource": res}


def test_a_substitution_is_excused_only_when_we_carry_the_igs_value() -> None:
    excuse = excuser("ADT_A01")
    missed = Counter({LVL: 1})
    assert excuse(Pair("Location", Counter({LVL: 1}), Counter({WA: 1})), missed) == missed
    assert excuse(Pair("Location", Counter({LVL: 1}), Counter({("name", "str", "X"): 1})), missed) == Counter()
    assert excuse(Pair("Location", Counter({LVL: 1}), None), missed) == Counter()  # a location we lack


def test_one_of_our_facts_excuses_one_miss() -> None:
    excuse = excuser("ADT_A01")
    missed = Counter({LVL: 2})
    assert excuse(Pair("Location", Counter({LVL: 2}), Counter({WA: 1})), missed) == Counter({LVL: 1})


def test_same_requires_the_value_to_move_unchanged() -> None:
    excuse = excuser("ORM_O01")
    fact = ("identifier.value", "str", "ACC1")
    missed = Counter({fact: 1})
    moved = Counter({("accessionIdentifier.value", "str", "ACC1"): 1})
    changed = Counter({("accessionIdentifier.value", "str", "OTHER"): 1})
    assert excuse(Pair("Specimen", missed, moved), missed) == missed
    assert excuse(Pair("Specimen", missed, changed), missed) == Counter()


def test_whole_resource_rules_hold_only_for_their_message_types_and_unpaired_resources() -> None:
    facts = Counter({("status", "str", "final"): 1})
    assert excuser("ORM_O01")(Pair("DiagnosticReport", facts, None), facts) == facts
    assert excuser("ORU_R01")(Pair("DiagnosticReport", facts, None), facts) == Counter()
    paired = Pair("DiagnosticReport", facts, Counter())
    assert excuser("ORM_O01")(paired, facts) == Counter()


def test_the_ig_share_leaves_excused_facts_out_and_the_raw_share_keeps_them() -> None:
    expected = {"entry": [_loc("lvl")]}
    result = compare_bundles(expected, {"entry": [_loc("wa")]}, excuse=excuser("ADT_A01"))
    assert result.share == 0.5 and result.ig_share == 1.0
    assert sum(result.excused.values()) == 1
