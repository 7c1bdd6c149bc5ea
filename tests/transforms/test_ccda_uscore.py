"""C-CDA -> FHIR claims a US Core profile only where the output meets it (docs/ccda.md, "US Core
conformance"): each decision on a small synthetic document, then the whole document through the
US Core checker. The corpus-wide check is in test_ccda_corpus.py."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from hl7bridge.transforms.ccda.observations import vital_profile
from hl7bridge.transforms.ccda_to_fhir import ccda_to_fhir
from hl7bridge.transforms.fhir.npi import NPI_OID, US_NPI
from hl7bridge.transforms.fhir.uscore import checker_for

CORPORA = Path(__file__).resolve().parents[3] / "shared" / "corpora"
US_CORE = "http://hl7.org/fhir/us/core/StructureDefinition/"
DAR = "http://hl7.org/fhir/StructureDefinition/data-absent-reason"
E = "2.16.840.1.113883.10.20.22.4."
LOINC, UCUM = "http://loinc.org", "http://unitsofmeasure.org"
VALID_NPI, BAD_NPI = "1234567893", "1234567890"  # the second fails the Luhn check digit (us-core-17)


def _person(ids: str, family: str = "Example") -> str:
    name = f"<given>Pat</given><family>{family}</family>" if family else "<given>Pat</given>"
    return f"{ids}<assignedPerson><name>{name}</name></assignedPerson>"


def _author(ids: str, family: str = "Example", time: str = "20200102") -> str:
    return f'<author><time value="{time}"/><assignedAuthor>{_person(ids, family)}</assignedAuthor></author>'


def _document(entries: str = "", *, header: str = "", encounter: str = "") -> bytes:
    """A minimal CCD: one patient, ``header`` after the document time, entries in one section."""
    return f"""<ClinicalDocument xmlns="urn:hl7-org:v3" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<templateId root="2.16.840.1.113883.10.20.22.1.1"/><templateId root="2.16.840.1.113883.10.20.22.1.2"/>
<id root="2.16.840.1.113883.19.5" extension="doc1"/><code code="34133-9" codeSystem="2.16.840.1.113883.6.1"/>
<title>CCD</title><effectiveTime value="20200102"/>
<recordTarget><patientRole><id root="2.16.840.1.113883.19.5" extension="MRN1"/><patient>
<name><given>Ann</given><family>Example</family></name><administrativeGenderCode code="F"/>
<birthTime value="19800101"/></patient></patientRole></recordTarget>{header}
<custodian><assignedCustodian><representedCustodianOrganization><id root="2.16.840.1.113883.19.5"/>
<name>Example Clinic</name></representedCustodianOrganization></assignedCustodian></custodian>
{encounter}<component><structuredBody><component><section><title>Entries</title><text>none</text>{entries}
</section></component></structuredBody></component></ClinicalDocument>""".encode()


def _of(bundle: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == kind]


def _profiles(resource: dict[str, Any]) -> list[str]:
    return [p.removeprefix(US_CORE) for p in resource.get("meta", {}).get("profile", [])]


def test_a_valid_npi_goes_under_us_npi_and_a_malformed_one_keeps_the_npi_oid() -> None:
    header = _author(f'<id root="{NPI_OID}" extension="{VALID_NPI}"/>', "Good") + \
        _author(f'<id root="{NPI_OID}" extension="{BAD_NPI}"/>', "Bad")
    people = {p["name"][0]["family"]: p for p in _of(ccda_to_fhir(_document(header=header)), "Practitioner")}
    assert people["Good"]["identifier"] == [{"system": US_NPI, "value": VALID_NPI}]
    assert people["Bad"]["identifier"] == [{"system": f"urn:oid:{NPI_OID}", "value": BAD_NPI}]
    assert _profiles(people["Bad"]) == ["us-core-practitioner"]  # the NPI slice no longer claims it


def test_an_organisation_the_document_names_is_active() -> None:
    (org,) = _of(ccda_to_fhir(_document()), "Organization")
    assert org["active"] is True and _profiles(org) == ["us-core-organization"]


def test_a_header_encounter_without_a_code_carries_a_data_absent_type() -> None:
    encounter = """<componentOf><encompassingEncounter><id root="2.16.840.1.113883.19.5" extension="E1"/>
<effectiveTime><low value="20200101"/></effectiveTime></encompassingEncounter></componentOf>"""
    (enc,) = _of(ccda_to_fhir(_document(encounter=encounter)), "Encounter")
    assert enc["type"] == [{"extension": [{"url": DAR, "valueCode": "unknown"}]}]
    assert _profiles(enc) == ["us-core-encounter"]


@pytest.mark.parametrize(("ids", "family"), [("<id/>", "Example"), ('<id extension="7"/>', "Example"),
                                             ('<id root="2.16.840.1.113883.19.5" extension="7"/>', "")])
def test_a_practitioner_without_a_full_identifier_or_a_family_name_does_not_claim_us_core(ids: str, family: str) -> None:
    (person,) = _of(ccda_to_fhir(_document(header=_author(ids, family))), "Practitioner")
    assert "meta" not in person  # still made, with the name it has


def _medication(author: str) -> str:
    return f"""<entry><substanceAdministration classCode="SBADM" moodCode="INT"><templateId root="{E}16"/>
<id root="2.16.840.1.113883.19.5" extension="M1"/><statusCode code="active"/>
<consumable><manufacturedProduct><templateId root="{E}23"/><manufacturedMaterial>
<code code="573621" codeSystem="2.16.840.1.113883.6.88"/></manufacturedMaterial></manufacturedProduct></consumable>
{author}</substanceAdministration></entry>"""


def test_a_medication_order_claims_us_core_only_with_an_author_as_requester() -> None:
    (without,) = _of(ccda_to_fhir(_document(_medication(""))), "MedicationRequest")
    assert "requester" not in without and "meta" not in without
    signed = _medication(_author('<id root="2.16.840.1.113883.19.5" extension="P1"/>'))
    (ordered,) = _of(ccda_to_fhir(_document(signed)), "MedicationRequest")
    assert ordered["requester"] and _profiles(ordered) == ["us-core-medicationrequest"]


def _results(author_time: str | None) -> str:
    author = _author('<id root="2.16.840.1.113883.19.5" extension="P1"/>', time=author_time) if author_time else ""
    return f"""<entry><organizer classCode="BATTERY" moodCode="EVN"><templateId root="{E}1"/>
<id root="2.16.840.1.113883.19.5" extension="R1"/><code code="24357-6" codeSystem="2.16.840.1.113883.6.1"/>
<statusCode code="completed"/><effectiveTime value="20200101"/>{author}
<component><observation classCode="OBS" moodCode="EVN"><templateId root="{E}2"/>
<id root="2.16.840.1.113883.19.5" extension="O1"/><code code="5811-5" codeSystem="2.16.840.1.113883.6.1"/>
<statusCode code="completed"/><effectiveTime value="20200101"/><value xsi:type="PQ" value="1.02" unit="1"/>
</observation></component></organizer></entry>"""


@pytest.mark.parametrize(("author_time", "issued"), [("20200102103000-0500", "2020-01-02T10:30:00-05:00"),
                                                     ("20200102", None), ("20200102103000", None), (None, None)])
def test_a_final_lab_report_is_issued_at_its_author_time_and_claims_us_core_only_then(
        author_time: str | None, issued: str | None) -> None:
    (report,) = _of(ccda_to_fhir(_document(_results(author_time))), "DiagnosticReport")
    assert report["status"] == "final" and report.get("issued") == issued
    assert _profiles(report) == (["us-core-diagnosticreport-lab"] if issued else [])


def _vital(codings: list[tuple[str, str]], quantity: dict[str, Any] | None) -> dict[str, Any]:
    resource: dict[str, Any] = {"code": {"coding": [{"system": s, "code": c} for s, c in codings]}}
    if quantity is None:
        resource["dataAbsentReason"] = {"coding": [{"code": "unknown"}]}
    else:
        resource["valueQuantity"] = quantity
    return resource


KG, LB, KG_M2 = ({"value": 70, "system": UCUM, "code": code} for code in ("kg", "[lb_av]", "kg/m2"))


@pytest.mark.parametrize(("codings", "quantity", "profile"), [
    ([(LOINC, "29463-7")], KG, "us-core-body-weight"),
    ([(LOINC, "29463-7")], LB, "us-core-body-weight"),
    ([(LOINC, "3141-9")], KG, "us-core-vital-signs"),  # weight measured is not the pattern's 29463-7
    ([(LOINC, "3141-9"), (LOINC, "29463-7")], KG, "us-core-body-weight"),  # a translation counts
    ([(LOINC, "29463-7")], KG_M2, "us-core-vital-signs"),  # not a unit the weight profile allows
    ([(LOINC, "39156-5")], KG_M2, "us-core-bmi"),
    ([(LOINC, "39156-5")], {"value": 28}, None),  # BMI sent with unit "1": no UCUM unit, no vital-sign profile
    ([(LOINC, "2708-6")], {"value": 97, "system": UCUM, "code": "%"}, "us-core-vital-signs"),  # needs 59408-5 too
    ([(LOINC, "59408-5"), (LOINC, "2708-6")], {"value": 97, "system": UCUM, "code": "%"}, "us-core-pulse-oximetry"),
    ([(LOINC, "8287-5")], {"value": 40, "system": UCUM, "code": "cm"}, "us-core-vital-signs"),
    ([(LOINC, "8302-2")], None, "us-core-body-height"),  # no value, with dataAbsentReason
])
def test_a_vital_sign_claims_the_profile_its_code_and_unit_meet(
        codings: list[tuple[str, str]], quantity: dict[str, Any] | None, profile: str | None) -> None:
    assert vital_profile(_vital(codings, quantity)) == profile


def test_a_vital_sign_with_neither_value_nor_reason_claims_no_vital_sign_profile() -> None:
    assert vital_profile({"code": {"coding": [{"system": LOINC, "code": "8302-2"}]}}) is None
    assert vital_profile({"code": {"coding": [{"system": LOINC, "code": "8302-2"}]}, "valueString": "tall"}) == \
        "us-core-vital-signs"


def test_every_decision_together_meets_us_core_in_the_checker() -> None:
    checker = checker_for(CORPORA)
    if checker is None:
        pytest.skip(f"US Core 6.1 not found under {CORPORA}")
    header = _author(f'<id root="{NPI_OID}" extension="{BAD_NPI}"/>') + _author("<id/>", "Nobody")
    encounter = "<componentOf><encompassingEncounter><effectiveTime value='20200101'/></encompassingEncounter></componentOf>"
    bundle = ccda_to_fhir(_document(_medication("") + _results(None) + _results("20200102103000-0500"),
                                    header=header, encounter=encounter))
    assert checker.check_bundle(bundle) == []
