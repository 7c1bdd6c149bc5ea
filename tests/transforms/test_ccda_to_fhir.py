"""ccda_to_fhir on HL7's R2.1 example CCD (a fixture copy) and on small synthetic documents."""

from __future__ import annotations

import base64
import random
from pathlib import Path
from typing import Any

import pytest
from fhir.resources.R4B.bundle import Bundle

from hl7bridge.engine.errors import ParseError, TransformError
from hl7bridge.transforms.ccda_to_fhir import ccda_to_fhir

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "ccda" / "hl7_ccd_r21.xml"
US_CORE = "http://hl7.org/fhir/us/core/StructureDefinition/"


@pytest.fixture(scope="module")
def bundle() -> dict[str, Any]:
    return ccda_to_fhir(FIXTURE.read_bytes())


def _of(bundle: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == kind]


def _codes(resource: dict[str, Any], field: str = "code") -> set[str]:
    return {c["code"] for c in resource.get(field, {}).get("coding", [])}


def test_document_bundle_starts_with_a_composition_and_validates_as_r4(bundle: dict[str, Any]) -> None:
    assert bundle["type"] == "document"
    assert bundle["entry"][0]["resource"]["resourceType"] == "Composition"
    Bundle.model_validate(bundle)


def test_patient_carries_identifier_name_birth_date_gender_and_us_core_race(bundle: dict[str, Any]) -> None:
    (patient,) = _of(bundle, "Patient")
    assert {"system": "http://hl7.org/fhir/sid/us-ssn", "value": "444222222"} in patient["identifier"]
    assert patient["name"][0]["family"] == "Betterhalf"
    assert (patient["birthDate"], patient["gender"]) == ("1975-05-01", "female")
    race = next(e for e in patient["extension"] if e["url"].endswith("us-core-race"))
    assert {"url": "ombCategory", "valueCoding": {"system": "urn:oid:2.16.840.1.113883.6.238", "code": "2106-3",
                                                  "display": "White"}} in race["extension"]
    assert patient["meta"]["profile"] == [US_CORE + "us-core-patient"]


def test_allergy_maps_substance_reaction_severity_and_clinical_status(bundle: dict[str, Any]) -> None:
    penicillin = next(a for a in _of(bundle, "AllergyIntolerance") if "70618" in _codes(a))
    assert penicillin["clinicalStatus"]["coding"][0]["code"] == "active"
    assert penicillin["reaction"][0]["manifestation"][0]["coding"][0]["system"] == "http://snomed.info/sct"
    assert penicillin["patient"]["reference"].startswith("urn:uuid:")


def test_problems_results_vitals_and_smoking_status_get_their_us_core_profiles(bundle: dict[str, Any]) -> None:
    profiles = {p for r in bundle["entry"] for p in r["resource"].get("meta", {}).get("profile", [])}
    for name in ("us-core-condition-problems-health-concerns", "us-core-observation-lab", "us-core-body-height",
                 "us-core-smokingstatus", "us-core-immunization", "us-core-procedure"):
        assert US_CORE + name in profiles
    # The example's result organizers have no author time, so no issued: they do not claim the lab report profile.
    assert all("meta" not in r and "issued" not in r for r in _of(bundle, "DiagnosticReport"))
    hemoglobin = next(o for o in _of(bundle, "Observation") if "718-7" in _codes(o))
    assert hemoglobin["valueQuantity"]["value"] == 13.2
    assert hemoglobin["effectiveDateTime"] == "2008-03-19T08:30:00-08:00"


def test_the_original_document_travels_base64_in_a_document_reference(bundle: dict[str, Any]) -> None:
    (ref,) = _of(bundle, "DocumentReference")
    assert base64.b64decode(ref["content"][0]["attachment"]["data"]) == FIXTURE.read_bytes()
    assert ref["content"][0]["format"]["code"] == "urn:hl7-org:sdwg:ccda-structuredBody:2.1"


def test_ids_are_deterministic_and_references_resolve_inside_the_bundle(bundle: dict[str, Any]) -> None:
    again = ccda_to_fhir(FIXTURE.read_bytes())
    assert [e["fullUrl"] for e in again["entry"]] == [e["fullUrl"] for e in bundle["entry"]]
    urls = {e["fullUrl"] for e in bundle["entry"]}
    composition = bundle["entry"][0]["resource"]
    refs = [r["reference"] for s in composition["section"] for r in s.get("entry", [])]
    assert refs and set(refs) <= urls


def test_transaction_bundle_uses_conditional_upserts_on_identifiers() -> None:
    tx = ccda_to_fhir(FIXTURE.read_text(encoding="utf-8"), bundle_type="transaction")
    assert tx["type"] == "transaction"
    assert all(e["request"]["method"] == "PUT" for e in tx["entry"])
    urls = [e["request"]["url"] for e in tx["entry"]]
    assert "Patient?identifier=http://hl7.org/fhir/sid/us-ssn|444222222" in urls
    assert not any(e["resource"]["resourceType"] == "Composition" for e in tx["entry"])
    assert len(set(urls)) == len(urls)  # no two upserts aim at the same resource
    Bundle.model_validate(tx)


MINIMAL = """<ClinicalDocument xmlns="urn:hl7-org:v3" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<templateId root="2.16.840.1.113883.10.20.22.1.1"/><templateId root="2.16.840.1.113883.10.20.22.1.2"/>
<id root="2.16.840.1.113883.19.5" extension="doc1"/><code code="34133-9" codeSystem="2.16.840.1.113883.6.1"/>
<title>R1.1 CCD</title><effectiveTime value="20200102"/>
<recordTarget><patientRole><id root="2.16.840.1.113883.19.5" extension="MRN1"/><patient>
<name><given>Ann</given><family>Example</family></name><administrativeGenderCode nullFlavor="UNK"/>
<birthTime value="19800231"/></patient></patientRole></recordTarget>
<component><structuredBody><component><section><title>Problems</title><text>No known problems</text>
<entry><act classCode="ACT" moodCode="EVN"><templateId root="2.16.840.1.113883.10.20.22.4.3"/>
<entryRelationship typeCode="SUBJ"><observation classCode="OBS" moodCode="EVN" negationInd="true">
<templateId root="2.16.840.1.113883.10.20.22.4.4"/><id nullFlavor="NI"/><code code="55607006" codeSystem="2.16.840.1.113883.6.96"/>
<effectiveTime><low value="20190101"/><high value="20190601"/></effectiveTime>
<value xsi:type="CD" nullFlavor="NI"/></observation></entryRelationship></act></entry>
<entry><observation classCode="OBS" moodCode="EVN"><templateId root="2.16.840.1.113883.10.20.22.4.78"/>
<code code="ASSERTION" codeSystem="2.16.840.1.113883.5.4"/><statusCode code="completed"/>
<effectiveTime><low value="20190101"/></effectiveTime>
<value xsi:type="CD" code="8517006" codeSystem="2.16.840.1.113883.6.96"/></observation></entry>
</section></component></structuredBody></component></ClinicalDocument>"""


def test_r11_document_with_null_flavors_maps_by_the_rules_and_validates() -> None:
    result = ccda_to_fhir(MINIMAL)
    Bundle.model_validate(result)
    (patient,) = _of(result, "Patient")
    assert patient["gender"] == "unknown" and "birthDate" not in patient  # 31 February is not a date
    (condition,) = _of(result, "Condition")
    assert condition["code"] == {"extension": [{"url": "http://hl7.org/fhir/StructureDefinition/data-absent-reason",
                                                "valueCode": "unknown"}]}
    assert condition["verificationStatus"]["coding"][0]["code"] == "refuted"
    assert condition["clinicalStatus"]["coding"][0]["code"] == "resolved"
    (smoking,) = _of(result, "Observation")
    assert _codes(smoking) == {"72166-2"}  # R1.1's ASSERTION code is replaced by the LOINC US Core requires


def test_non_cda_xml_is_a_parse_error_with_a_location() -> None:
    with pytest.raises(ParseError) as caught:
        ccda_to_fhir(b"<Patient xmlns='http://hl7.org/fhir'/>")
    assert caught.value.location == "/"


def test_a_document_without_record_target_is_a_transform_error_naming_the_path() -> None:
    with pytest.raises(TransformError) as caught:
        ccda_to_fhir(b'<ClinicalDocument xmlns="urn:hl7-org:v3"><title>Secret Title</title></ClinicalDocument>')
    assert caught.value.location == "/ClinicalDocument/recordTarget"
    assert "Secret" not in str(caught.value)


def test_an_unknown_bundle_type_is_refused() -> None:
    with pytest.raises(TransformError, match="bundle_type"):
        ccda_to_fhir(MINIMAL, bundle_type="batch")


def test_damaged_documents_give_a_bundle_or_a_message_error_never_a_bare_exception() -> None:
    from lxml import etree

    from hl7bridge.engine.errors import MessageError

    rng = random.Random(20240601)
    original = etree.fromstring(FIXTURE.read_bytes())
    outcomes = {"bundle": 0, "error": 0}
    for _ in range(40):
        doc = etree.fromstring(etree.tostring(original))
        elements = [e for e in doc.iter() if isinstance(e.tag, str) and e.getparent() is not None]
        for victim in rng.sample(elements, 5):
            if victim.attrib and rng.random() < 0.5:
                del victim.attrib[rng.choice(list(victim.attrib))]
            elif victim.getparent() is not None:
                victim.getparent().remove(victim)
        try:
            Bundle.model_validate(ccda_to_fhir(etree.tostring(doc)))
            outcomes["bundle"] += 1
        except MessageError as exc:
            assert exc.location
            outcomes["error"] += 1
    assert outcomes["bundle"] > 20
