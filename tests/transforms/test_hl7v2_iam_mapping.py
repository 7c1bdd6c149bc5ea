"""IAM (patient adverse reaction information) -> AllergyIntolerance per the IG sheet IAM[AllergyIntolerance],
on synthetic ADT_A60 messages."""

from __future__ import annotations

from pathlib import Path

import pytest
from hl7v2_builders import V2, entry_of, msg, of_type, resolve, seg

from hl7bridge.engine.errors import ParseError
from hl7bridge.transforms.fhir.uscore import checker_for
from hl7bridge.transforms.hl7v2_to_fhir import hl7v2_to_fhir

CORPORA = Path(__file__).resolve().parents[3] / "shared" / "corpora"
PID = "PID|1||PT-7^^^CLINIC&1.2.3.4&ISO^MR||Testperson^Sam||19900101|U"
CLINICAL = "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical"
US_CORE_ALLERGY = "http://hl7.org/fhir/us/core/StructureDefinition/us-core-allergyintolerance"
FULL = {2: "DA^Drug allergy^HL70127", 3: "7980^Testicillin^RXNORM", 4: "SV^Severe^HL70128", 5: "Hives",
        6: "A^Add/Insert^HL70206", 7: "AL-1^CLINIC^1.2.3.4^ISO", 11: "20190304", 13: "20240105083000",
        17: "C^Confirmed or verified", 27: "91936005^Allergy to penicillin^SCT"}


def iam(**changes: str) -> str:
    """The FULL IAM with fields changed (``f5="..."``; an empty string clears the field)."""
    fields = dict(FULL)
    for name, value in changes.items():
        fields[int(name[1:])] = value
    return seg("IAM", fields)


def a60(*segments: str) -> dict:
    return hl7v2_to_fhir(msg("ADT^A60^ADT_A60", PID, *segments), strict=True)


def allergy_of(bundle: dict) -> dict:
    (found,) = of_type(bundle, "AllergyIntolerance")
    return found


def test_full_iam_meets_us_core_allergyintolerance() -> None:
    bundle = a60(iam())
    allergy = allergy_of(bundle)
    assert allergy["meta"]["profile"] == [US_CORE_ALLERGY]
    assert resolve(bundle, allergy["patient"])["resourceType"] == "Patient"
    checker = checker_for(CORPORA)
    if checker is not None:
        assert checker.check_bundle(bundle) == []


def test_allergen_type_gives_category_and_type() -> None:
    allergy = allergy_of(a60(iam()))
    assert allergy["category"] == ["medication"]
    assert allergy["type"] == "allergy"


def test_contraindication_allergen_type_maps_neither_category_nor_type() -> None:
    allergy = allergy_of(a60(iam(f2="MC^Miscellaneous contraindication^HL70127")))
    assert "category" not in allergy and "type" not in allergy


def test_allergen_code_gains_the_clinician_identified_codings() -> None:
    allergy = allergy_of(a60(iam()))
    assert allergy["code"]["coding"] == [
        {"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "7980", "display": "Testicillin"},
        {"system": "http://snomed.info/sct", "code": "91936005", "display": "Allergy to penicillin"},
    ]


def test_missing_allergen_is_a_located_parse_error() -> None:
    with pytest.raises(ParseError) as caught:
        a60(iam(f3=""))
    assert caught.value.location == "IAM-3"


def test_reaction_text_carries_the_severity_through_the_al1_map() -> None:
    allergy = allergy_of(a60(iam()))
    assert allergy["reaction"] == [{"manifestation": [{"text": "Hives"}], "severity": "severe"}]


def test_coded_reaction_is_a_codeable_concept() -> None:
    allergy = allergy_of(a60(iam(f5="39579001^Anaphylaxis^SCT")))
    assert allergy["reaction"][0]["manifestation"] == [
        {"coding": [{"system": "http://snomed.info/sct", "code": "39579001", "display": "Anaphylaxis"}]}]


def test_severity_without_a_reaction_is_dropped_as_manifestation_is_required() -> None:
    assert "reaction" not in allergy_of(a60(iam(f5="")))


def test_onset_date_and_reported_date() -> None:
    allergy = allergy_of(a60(iam()))
    assert allergy["onsetDateTime"] == "2019-03-04"
    assert allergy["recordedDate"] == "2024-01-05T08:30:00-05:00"  # MSH-7's offset


def test_onset_text_is_used_only_when_the_onset_date_is_empty() -> None:
    assert allergy_of(a60(iam(f11="", f12="Since childhood")))["onsetString"] == "Since childhood"
    dated = allergy_of(a60(iam(f12="Since childhood")))
    assert dated["onsetDateTime"] == "2019-03-04" and "onsetString" not in dated


@pytest.mark.parametrize(("field", "value"), [("f11", "2019-03-04"), ("f13", "20241305")])
def test_malformed_iam_date_is_a_located_parse_error(field: str, value: str) -> None:
    with pytest.raises(ParseError) as caught:
        a60(iam(**{field: value}))
    assert caught.value.location == f"IAM-{field[1:]}"


def test_clinical_status_is_active_and_keeps_iam_17_as_sent() -> None:
    allergy = allergy_of(a60(iam()))
    assert allergy["clinicalStatus"]["coding"] == [
        {"system": CLINICAL, "code": "active"},
        {"system": V2 + "0438", "code": "C", "display": "Confirmed or verified"},
    ]
    assert "verificationStatus" not in allergy  # the IG maps nothing there


def test_clinical_status_without_iam_17_is_active_only() -> None:
    allergy = allergy_of(a60(iam(f17="")))
    assert allergy["clinicalStatus"] == {"coding": [{"system": CLINICAL, "code": "active"}]}


@pytest.mark.parametrize("action", ["A^Add/Insert^HL70206", "U^Update^HL70206", "X^No change^HL70206"])
def test_add_update_and_no_change_upsert_the_same_allergy(action: str) -> None:
    bundle = a60(iam(f6=action))
    allergy = allergy_of(bundle)
    assert allergy == allergy_of(a60(iam()))
    assert allergy["clinicalStatus"]["coding"][0]["code"] == "active"
    assert entry_of(bundle, allergy)["request"]["method"] == "PUT"


def test_delete_marks_the_same_allergy_entered_in_error() -> None:
    """IAM-6 D, as the IG's DG1-21 D: the record upserted on its key is marked, never reported active."""
    kept, deleted = a60(iam()), a60(iam(f6="D^Delete^HL70206"))
    allergy = allergy_of(deleted)
    assert allergy["verificationStatus"]["coding"] == [
        {"system": "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification", "code": "entered-in-error"}]
    assert "clinicalStatus" not in allergy  # FHIR ait-2
    assert entry_of(deleted, allergy)["request"] == entry_of(kept, allergy_of(kept))["request"]


def test_allergy_unique_identifier_makes_a_conditional_update() -> None:
    bundle = a60(iam())
    allergy = allergy_of(bundle)
    assert allergy["identifier"] == [{"system": "urn:oid:1.2.3.4", "value": "AL-1"}]
    assert entry_of(bundle, allergy)["request"] == {
        "method": "PUT", "url": "AllergyIntolerance?identifier=urn:oid:1.2.3.4|AL-1"}


def test_the_same_iam_twice_is_one_allergy() -> None:
    assert len(of_type(a60(iam(), iam()), "AllergyIntolerance")) == 1


def test_two_allergies_with_different_identifiers_stay_two() -> None:
    assert len(of_type(a60(iam(), iam(f7="AL-2^CLINIC^1.2.3.4^ISO")), "AllergyIntolerance")) == 2


def test_without_an_identifier_a_resend_lands_on_the_same_id() -> None:
    first = a60(iam(f7=""))
    resent = hl7v2_to_fhir(msg("ADT^A60^ADT_A60", PID, iam(f7="")).replace("|C1|", "|C2|"), strict=True)
    one, two = allergy_of(first), allergy_of(resent)
    assert "identifier" not in one
    assert entry_of(first, one)["request"] == entry_of(resent, two)["request"]
    assert entry_of(first, one)["request"]["url"] == f"AllergyIntolerance/{one['id']}"


def test_reporter_without_a_relationship_is_a_named_practitioner() -> None:
    bundle = a60(iam(f14="Reporter^Robin^^^Dr"))
    recorder = resolve(bundle, allergy_of(bundle)["recorder"])
    assert recorder == {"resourceType": "Practitioner", "name": [{"family": "Reporter", "given": ["Robin"],
                                                                   "prefix": ["Dr"]}], "id": recorder["id"]}


def test_self_reported_allergy_is_recorded_by_the_patient() -> None:
    bundle = a60(iam(f14="Testperson^Sam", f15="SEL^Self^HL70063"))
    allergy = allergy_of(bundle)
    assert allergy["recorder"] == allergy["patient"]
    assert of_type(bundle, "RelatedPerson") == []


def test_reporter_with_a_relationship_is_a_related_person() -> None:
    bundle = a60(iam(f14="Testrelative^Kim", f15="SPO^Spouse^HL70063"))
    allergy = allergy_of(bundle)
    related = resolve(bundle, allergy["recorder"])
    assert related["resourceType"] == "RelatedPerson"
    assert related["name"] == [{"family": "Testrelative", "given": ["Kim"]}]
    assert related["relationship"] == [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-RoleCode",
                                                    "code": "SPS", "display": "spouse"}]}]
    assert related["patient"] == allergy["patient"]


def test_reporter_named_in_nk1_too_is_one_related_person() -> None:
    nk1 = "NK1|1|Testrelative^Kim|SPO^Spouse^HL70063"
    bundle = a60(nk1, iam(f14="Testrelative^Kim", f15="SPO^Spouse^HL70063"))
    (related,) = of_type(bundle, "RelatedPerson")
    assert resolve(bundle, allergy_of(bundle)["recorder"]) is related


def test_fields_the_ig_leaves_unmapped_add_nothing() -> None:
    """IAM-16 alert device, IAM-18/19/20 statused by person / organization / date, IAM-23 initially recorded by."""
    extra = iam(f16="BR^Bracelet^HL70437", f18="DOC-9^Statuser^Sue", f19="Status Org^^ORG-1",
                f20="20240106", f23="DOC-8^Recorder^Ray", f24="20240107")
    bundle, plain = a60(extra), a60(iam())
    assert allergy_of(bundle) == allergy_of(plain)
    assert len(bundle["entry"]) == len(plain["entry"])


def test_nte_after_iam_is_a_note_on_the_allergy() -> None:
    allergy = allergy_of(a60(iam(), "NTE|1||Reaction seen at clinic visit."))
    assert allergy["note"] == [{"text": "Reaction seen at clinic visit."}]


def test_iam_without_a_patient_is_a_located_parse_error() -> None:
    with pytest.raises(ParseError) as caught:
        hl7v2_to_fhir(msg("ADT^A60^ADT_A60", iam()))
    assert caught.value.location == "PID"
