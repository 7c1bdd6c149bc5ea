"""The US Core 6.1 checker: it accepts US Core's own examples and catches what it should, invariants
included; and HL7v2 outputs claim a US Core profile only where they meet its invariants."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hl7v2_builders import msg, of_type, seg

from hl7bridge.transforms.fhir.uscore import USCoreChecker, checker_for
from hl7bridge.transforms.fhir.uscore_invariants import EXPRESSION_FIXES
from hl7bridge.transforms.fhir.npi import is_npi
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


# invariants ---------------------------------------------------------------------------------------

def _us_core(resource_type: str, profile: str, **fields: object) -> dict:
    return {"resourceType": resource_type, "meta": {"profile": [US_CORE + profile]}, **fields}


US_CORE = "http://hl7.org/fhir/us/core/StructureDefinition/"
NPI = "http://hl7.org/fhir/sid/us-npi"
DOCTOR = {"family": "Testdoctor", "given": ["Dana"]}


def test_practitioner_role_without_contact_details_breaks_pd_1(checker: USCoreChecker) -> None:
    role = _us_core("PractitionerRole", "us-core-practitionerrole", practitioner={"reference": "Practitioner/1"})
    assert checker.check(role) == ["us-core-practitionerrole: pd-1 fails at PractitionerRole"]
    role["telecom"] = [{"system": "phone", "value": "555-0100"}]
    assert checker.check(role) == []


def test_practitioner_role_needs_someone_or_somewhere(checker: USCoreChecker) -> None:
    role = _us_core("PractitionerRole", "us-core-practitionerrole", telecom=[{"system": "phone", "value": "555-0100"}])
    assert checker.check(role) == ["us-core-practitionerrole: us-core-13 fails at PractitionerRole"]


def test_npi_format_and_check_digit_apply_to_the_npi_slice_only(checker: USCoreChecker) -> None:
    doctor = _us_core("Practitioner", "us-core-practitioner", name=[DOCTOR],
                      identifier=[{"system": NPI, "value": "1234567890"}])
    assert checker.check(doctor) == ["us-core-practitioner: us-core-17 fails at Practitioner.identifier:NPI"]
    doctor["identifier"] = [{"system": NPI, "value": "12345"}]
    assert checker.check(doctor) == ["us-core-practitioner: us-core-16 fails at Practitioner.identifier:NPI",
                                     "us-core-practitioner: us-core-17 fails at Practitioner.identifier:NPI"]
    doctor["identifier"] = [{"system": "urn:oid:1.2.3", "value": "12345"}, {"system": NPI, "value": "1234567893"}]
    assert checker.check(doctor) == []


def test_organization_clia_slice_is_checked(checker: USCoreChecker) -> None:
    lab = _us_core("Organization", "us-core-organization", active=True, name="Test Lab",
                   identifier=[{"system": "urn:oid:2.16.840.1.113883.4.7", "value": "12X3456789"}])
    assert checker.check(lab) == ["us-core-organization: us-core-18 fails at Organization.identifier:CLIA"]


def test_final_lab_report_needs_effective_and_issued(checker: USCoreChecker) -> None:
    report = _us_core("DiagnosticReport", "us-core-diagnosticreport-lab", status="final", subject={"reference": "Patient/1"},
                      category=[{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0074", "code": "LAB"}]}],
                      code={"coding": [{"system": "http://loinc.org", "code": "718-7"}]})
    assert checker.check(report) == ["us-core-diagnosticreport-lab: us-core-8 fails at DiagnosticReport",
                                     "us-core-diagnosticreport-lab: us-core-9 fails at DiagnosticReport"]
    report["status"] = "registered"
    assert checker.check(report) == []


def test_document_attachment_needs_url_or_data(checker: USCoreChecker) -> None:
    doc = _us_core("DocumentReference", "us-core-documentreference", status="current",
                   type={"coding": [{"system": "http://loinc.org", "code": "11506-3"}]},
                   category=[{"coding": [{"system": US_CORE.replace("StructureDefinition", "CodeSystem")
                                          + "us-core-documentreference-category", "code": "clinical-note"}]}],
                   subject={"reference": "Patient/1"}, content=[{"attachment": {"contentType": "text/plain"}}])
    assert checker.check(doc) == ["us-core-documentreference: us-core-6 fails at DocumentReference.content.attachment"]
    doc["content"][0]["attachment"]["data"] = "dGV4dA=="
    assert checker.check(doc) == []


def test_observation_effective_date_time_is_at_least_a_day(checker: USCoreChecker) -> None:
    bundle = hl7v2_to_fhir((FIXTURES / "oru_r01_20obx.hl7").read_bytes())
    obs = copy.deepcopy(next(e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Observation"))
    obs.pop("effectivePeriod", None)
    obs["effectiveDateTime"] = "2024-01"
    assert "us-core-observation-lab: us-core-1 fails at Observation.effective[x]" in checker.check(obs)
    obs["valueQuantity"] = {"value": 1, "unit": "mg", "system": "urn:local-units", "code": "mg"}
    assert "us-core-observation-lab: us-core-3 fails at Observation.value[x]" in checker.check(obs)


PROVENANCE = _us_core("Provenance", "us-core-provenance", target=[{"reference": "Patient/1"}],
                      recorded="2024-01-01T00:00:00Z",
                      agent=[{"type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/provenance-participant-type",
                                                   "code": "author"}]},
                              "who": {"reference": "urn:uuid:00000000-0000-0000-0000-000000000001"}}])


def test_provenance_resolves_its_agent_inside_a_bundle(checker: USCoreChecker) -> None:
    doctor = {"resourceType": "Practitioner", "id": "d1", "name": [DOCTOR]}
    bundle = {"resourceType": "Bundle", "entry": [
        {"fullUrl": "urn:uuid:00000000-0000-0000-0000-000000000001", "resource": doctor},
        {"fullUrl": "urn:uuid:00000000-0000-0000-0000-000000000002", "resource": copy.deepcopy(PROVENANCE)}]}
    assert checker.check_bundle(bundle) == ["entry[1] us-core-provenance: provenance-1 fails at Provenance.agent"]
    bundle["entry"][0]["resource"] = {"resourceType": "Organization", "id": "o1", "name": "Test Org"}
    assert checker.check_bundle(bundle) == []


def test_a_reference_resolve_cannot_follow_is_reported_not_passed(checker: USCoreChecker) -> None:
    assert checker.check(copy.deepcopy(PROVENANCE)) == [
        "us-core-provenance: provenance-1 at Provenance.agent could not be evaluated: "
        "resolve() met an unresolvable reference"]
    literal = copy.deepcopy(PROVENANCE)
    literal["agent"][0]["who"] = {"reference": "Practitioner/d1"}
    assert checker.check(literal) == ["us-core-provenance: provenance-1 fails at Provenance.agent"]


def test_invariant_issue_texts_hold_no_values(checker: USCoreChecker) -> None:
    doctor = _us_core("Practitioner", "us-core-practitioner", name=[DOCTOR],
                      identifier=[{"system": NPI, "value": "9876543210"}])
    issues = checker.check(doctor)
    assert issues and all("9876543210" not in i and "Testdoctor" not in i for i in issues)


def test_every_error_invariant_is_loaded_and_every_fix_matches_its_published_expression(checker: USCoreChecker) -> None:
    loaded = {(inv.key, inv.expression) for p in checker.profiles.values() for inv in p.invariants}
    assert {key for key, _ in loaded} >= {"pd-1", "us-core-13", "us-core-8", "us-core-9", "us-core-10", "us-core-6",
                                          "us-core-20", "us-core-21", "us-core-1", "us-core-2", "us-core-3",
                                          "us-core-16", "us-core-17", "us-core-18", "us-core-19", "us-core-7",
                                          "us-core-14", "us-core-15", "provenance-1"}
    assert not {key for key, _ in loaded} & {"us-core-4", "us-core-5"}  # warnings
    assert set(EXPRESSION_FIXES) <= loaded


def test_is_npi_agrees_with_us_core_17(checker: USCoreChecker) -> None:
    doctor = _us_core("Practitioner", "us-core-practitioner", name=[DOCTOR], identifier=[{"system": NPI}])
    for value in ("1234567893", "1234567890", "9941339108", "1245319599", "1003000126", "0000000000", "1234567885"):
        doctor["identifier"][0]["value"] = value
        assert is_npi(value) == (checker.check(doctor) == []), value


def test_the_checker_imports_without_fhirpathpy() -> None:
    code = ("import sys; import hl7bridge.transforms.fhir.uscore, hl7bridge.transforms.hl7v2_to_fhir; "
            "assert 'fhirpathpy' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


# outputs that meet them ---------------------------------------------------------------------------

PID = "PID|1||PT-100^^^CLINIC&1.2.3.4&ISO^MR||Testperson^Alex||19700101|U"
OBX = "OBX|1|NM|718-7^Hemoglobin^LN||13.5|g/dL^g/dL^UCUM|||||F"
RXO = "RXO|11111-2222-33^Testamycin 250 mg cap^NDC|1|2|cap^capsule"
TXA = "TXA|1|DS|TX|20240101||20240101||||||DOC-77^CLINIC|||||AU"


def _claims(resource: dict) -> list[str]:
    return [p.rsplit("/", 1)[-1] for p in resource.get("meta", {}).get("profile", [])]


def _converted(checker: USCoreChecker, *segments: str, kind: str) -> dict:
    bundle = hl7v2_to_fhir(msg(kind, PID, *segments), strict=True)
    assert checker.check_bundle(bundle) == []
    return bundle


def test_a_malformed_npi_keeps_the_senders_system(checker: USCoreChecker) -> None:
    pv1 = "PV1|1|I|||||1234567893^Doe^Jane^^^^^^NPPES^L^^^NPI~1234567890^Roe^Rick^^^^^^NPPES^L^^^NPI"
    doctors = of_type(_converted(checker, pv1, kind="ADT^A01"), "Practitioner")
    systems = {d["identifier"][0]["value"]: d["identifier"][0]["system"] for d in doctors}
    assert systems == {"1234567893": NPI, "1234567890": "urn:hl7bridge:id:NPPES"}


def test_a_practitioner_role_claims_us_core_only_with_its_telecom(checker: USCoreChecker) -> None:
    with_phone = "ROL|1|AD|PP^Primary care^HL70443|DOC-9^Doctor^Dora||||||||^WPN^PH^^^555^0100000"
    without = "ROL|2|AD|AT^Attending^HL70443|DOC-8^Doctor^Dan"
    roles = of_type(_converted(checker, "PV1|1|I", with_phone, without, kind="ADT^A01"), "PractitionerRole")
    assert [(bool(r.get("telecom")), _claims(r)) for r in roles] == [(True, ["us-core-practitionerrole"]), (False, [])]


def test_a_final_lab_report_without_its_issue_time_does_not_claim_us_core(checker: USCoreChecker) -> None:
    def obr(issued: str) -> str:
        return seg("OBR", {1: "1", 2: "PL-1", 3: "FL-1", 4: "718-7^Hemoglobin^LN", 7: "20240101080000-0500",
                           22: issued, 25: "F"})
    plain = of_type(_converted(checker, obr(""), OBX, kind="ORU^R01"), "DiagnosticReport")[0]
    issued = of_type(_converted(checker, obr("20240101100000-0500"), OBX, kind="ORU^R01"), "DiagnosticReport")[0]
    assert (_claims(plain), _claims(issued)) == ([], ["us-core-diagnosticreport-lab"])


def test_a_medication_order_without_its_orderer_does_not_claim_us_core(checker: USCoreChecker) -> None:
    plain = of_type(_converted(checker, "ORC|NW|ORD-1^CLINIC", RXO, kind="ORM^O01"), "MedicationRequest")[0]
    orc = "ORC|NW|ORD-1^CLINIC|||||||20240301101500-0500|||DOC-1^Orderer^Olive"
    ordered = of_type(_converted(checker, orc, RXO, kind="ORM^O01"), "MedicationRequest")[0]
    assert (_claims(plain), _claims(ordered)) == ([], ["us-core-medicationrequest"])


def test_a_document_notification_without_content_does_not_claim_us_core(checker: USCoreChecker) -> None:
    notice = of_type(_converted(checker, "PV1|1|O", TXA, kind="MDM^T01"), "DocumentReference")[0]
    full = of_type(_converted(checker, "PV1|1|O", TXA, "OBX|1|TX|||Note text line", kind="MDM^T02"),
                   "DocumentReference")[0]
    assert (_claims(notice), _claims(full)) == ([], ["us-core-documentreference"])
