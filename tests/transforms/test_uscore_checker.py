"""The US Core 6.1 checker: it accepts US Core's own examples and catches what it should."""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path

import pytest

from hl7bridge.transforms.fhir.uscore import USCoreChecker, checker_for
from hl7bridge.transforms.hl7v2_to_fhir import hl7v2_to_fhir

CORPORA = Path(__file__).resolve().parents[3] / "shared" / "corpora"
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "hl7v2"
pytestmark = pytest.mark.corpus


@pytest.fixture(scope="module")
def checker() -> USCoreChecker:
    found = checker_for(CORPORA)
    if found is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"US Core corpus missing at {CORPORA / 'us-core-6.1.0'}")
        pytest.skip(f"US Core corpus not found at {CORPORA / 'us-core-6.1.0'} (clone ../shared to run)")
    return found


@pytest.fixture(scope="module")
def patient(checker: USCoreChecker) -> dict:
    bundle = hl7v2_to_fhir((FIXTURES / "adt_a01.hl7").read_bytes())
    return next(e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient")


def test_us_core_examples_pass(checker: USCoreChecker) -> None:
    examples = sorted((CORPORA / "us-core-6.1.0" / "input" / "examples").glob("*.json"))
    assert len(examples) > 150
    failing = {p.name: checker.check(json.loads(p.read_text(encoding="utf-8"))) for p in examples}
    assert {k: v for k, v in failing.items() if v} == {}


def test_our_patient_passes(checker: USCoreChecker, patient: dict) -> None:
    assert checker.check(patient) == []


def test_missing_required_element_is_reported(checker: USCoreChecker, patient: dict) -> None:
    broken = copy.deepcopy(patient)
    del broken["gender"]
    broken["identifier"][0].pop("system")
    issues = checker.check(broken)
    assert "us-core-patient: Patient.gender has 0 values, min is 1" in issues
    assert "us-core-patient: Patient.identifier.system has 0 values, min is 1" in issues


def test_required_binding_is_checked(checker: USCoreChecker, patient: dict) -> None:
    broken = copy.deepcopy(patient)
    broken["gender"] = "F"
    assert any("administrative-gender" in i for i in checker.check(broken))


def test_race_extension_needs_its_text_and_omb_codes(checker: USCoreChecker, patient: dict) -> None:
    broken = copy.deepcopy(patient)
    race = next(e for e in broken["extension"] if e["url"].endswith("us-core-race"))
    race["extension"] = [{"url": "ombCategory", "valueCoding": {"system": "urn:x", "code": "W"}}]
    issues = checker.check(broken)
    assert "us-core-race: Extension.extension:text has 0 values, min is 1" in issues
    assert any("omb-race-category" in i for i in issues)


def test_lab_observation_needs_laboratory_category(checker: USCoreChecker) -> None:
    bundle = hl7v2_to_fhir((FIXTURES / "oru_r01_20obx.hl7").read_bytes())
    assert checker.check_bundle(bundle) == []
    obs = copy.deepcopy(next(e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Observation"))
    obs["category"] = [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                                    "code": "exam"}]}]
    assert "us-core-observation-lab: Observation.category:us-core has 0 values, min is 1" in checker.check(obs)


def test_issue_texts_hold_no_values(checker: USCoreChecker, patient: dict) -> None:
    broken = copy.deepcopy(patient)
    broken["gender"] = "SECRET"
    assert all("SECRET" not in i for i in checker.check(broken))
