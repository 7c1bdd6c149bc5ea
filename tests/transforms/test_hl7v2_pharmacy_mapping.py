"""Pharmacy and immunization messages: RXO / RXE / RXC / RXR / RXD / CDO and VXU extras, on synthetic messages."""

from __future__ import annotations

from functools import partial

from pathlib import Path

import pytest

from hl7bridge.transforms.fhir.uscore import checker_for
from hl7bridge.transforms.hl7v2_to_fhir import hl7v2_to_fhir
from hl7v2_builders import msg as _msg, of_type

msg = partial(_msg, facility="CLINIC", sent="20240301120000-0500")

CORPORA = Path(__file__).resolve().parents[3] / "shared" / "corpora"
PID = "PID|1||PT-100^^^CLINIC&1.2.3.4&ISO^MR||Testperson^Alex||19700101|U"
ORC = ("ORC|NW|ORD-1^CLINIC|||||||20240301101500-0500|ENT-7^Keyer^Kim||DOC-1^Orderer^Olive|||||||||"
       "General Clinic")
RXO = ("RXO|11111-2222-33^Testamycin 250 mg cap^NDC|1|2|cap^capsule||^Sort by colour|^Take with water||G||30|"
       "cap^capsule|2||||||||40|mL/h^mL/h^UCUM|3^&cap|||||7||||PHX^Pharmacy X|1 Test Way^^Testville^TS^00000|||555-0100^^PH")
RXE = ("RXE||11111-2222-33^Testamycin 250 mg cap^NDC|1||cap^capsule|CAP^Capsule^L|Check level~^Take with food||G|"
       "20|cap^capsule|1|||RX-9||||4^&cap||||||||Z99^Indication^L||||||||||||10|PHY^Pharmacy Y^L|2 Test Way||||555-0101^^PH")
RXC = "RXC|A|22222-3333-44^Diluent^NDC|100|mL^mL^UCUM|5|mg^mg^UCUM||100|mL^mL^UCUM"
RXD = ("RXD|1|11111-2222-33^Testamycin 250 mg cap^NDC|20240302|20|cap^capsule|CAP^Capsule^L|RX-9||Shake well|"
       "PH-1^Pharmacist^Pat||3^&cap|||||||||||||99999^Testamycin oral^SCT|||||STORE1^Store One^L|3 Test Way||R^Refill^HL70484")


def resolve(bundle: dict, ref: str) -> dict:
    return next(e["resource"] for e in bundle["entry"] if e["fullUrl"] == ref)


def assert_us_core(bundle: dict) -> None:
    checker = checker_for(CORPORA)
    if checker is not None:
        assert checker.check_bundle(bundle) == []


def test_rxo_is_an_original_order_for_a_medication() -> None:
    bundle = hl7v2_to_fhir(msg("ORM^O01", PID, ORC, RXO, "RXR|PO^Oral^HL70162||^^|CHEW^Chew^L|RI^Routing^L"), strict=True)
    request = of_type(bundle, "MedicationRequest")[0]
    assert request["intent"] == "original-order"
    med = resolve(bundle, request["medicationReference"]["reference"])
    assert med["code"]["coding"][0] == {"system": "http://hl7.org/fhir/sid/ndc", "code": "11111-2222-33",
                                        "display": "Testamycin 250 mg cap"}
    dosage = request["dosageInstruction"][0]
    rate = dosage["doseAndRate"][0]
    assert rate["doseRange"] == {"low": {"value": 1, "unit": "capsule"}, "high": {"value": 2, "unit": "capsule"}}
    assert rate["type"]["coding"][0]["code"] == "ordered"
    assert rate["rateQuantity"] == {"value": 40, "unit": "mL/h", "system": "http://unitsofmeasure.org", "code": "mL/h"}
    assert dosage["maxDosePerPeriod"]["numerator"] == {"value": 3, "unit": "cap"}
    assert dosage["maxDosePerPeriod"]["denominator"]["code"] == "d"
    assert dosage["patientInstruction"] == "Take with water" and dosage["text"] == "Sort by colour"
    assert dosage["route"]["coding"][0]["code"] == "PO" and dosage["method"]["coding"][0]["code"] == "CHEW"
    assert dosage["additionalInstruction"][0]["coding"][0]["code"] == "RI"
    dispense = request["dispenseRequest"]
    assert dispense["quantity"] == {"value": 30, "unit": "capsule"} and dispense["numberOfRepeatsAllowed"] == 2
    assert dispense["dispenseInterval"]["value"] == 7 and dispense["dispenseInterval"]["code"] == "d"
    pharmacy = resolve(bundle, dispense["performer"]["reference"])
    assert pharmacy["name"] == "Pharmacy X" and pharmacy["identifier"][0]["value"] == "PHX"
    assert pharmacy["telecom"][0]["value"] == "555-0100" and pharmacy["address"][0]["city"] == "Testville"
    assert request["substitution"]["allowedCodeableConcept"]["coding"][0] == {
        "system": "http://terminology.hl7.org/CodeSystem/v2-0161", "code": "G"}
    assert_us_core(bundle)


def test_orc_people_become_requester_and_recorder_roles() -> None:
    bundle = hl7v2_to_fhir(msg("ORM^O01", PID, ORC, RXO), strict=True)
    request = of_type(bundle, "MedicationRequest")[0]
    requester = resolve(bundle, request["requester"]["reference"])
    assert requester["code"][0]["coding"][0]["code"] == "OP"
    assert resolve(bundle, requester["practitioner"]["reference"])["name"][0]["family"] == "Orderer"
    assert resolve(bundle, requester["organization"]["reference"])["name"] == "General Clinic"
    recorder = resolve(bundle, request["recorder"]["reference"])
    assert resolve(bundle, recorder["practitioner"]["reference"])["name"][0]["family"] == "Keyer"


def test_rxe_after_rxo_encodes_it_with_its_own_medication_and_ingredients() -> None:
    bundle = hl7v2_to_fhir(msg("RDE^O11", PID, ORC, RXO, RXE, RXC, "CDO|1|A|500^&mg|^&PL"), strict=True)
    placed, encoded = of_type(bundle, "MedicationRequest")
    assert encoded["basedOn"] == [{"reference": next(e["fullUrl"] for e in bundle["entry"] if e["resource"] is placed)}]
    assert encoded["identifier"][0]["value"] == "ORD-1"  # the ORC of the group
    assert encoded["identifier"][1]["value"] == "RX-9"
    assert encoded["identifier"][1]["type"]["coding"][0]["code"] == "PRN"
    assert encoded["reasonCode"][0]["coding"][0]["code"] == "Z99"
    dosage = encoded["dosageInstruction"][0]
    assert dosage["additionalInstruction"][0]["coding"][0]["code"] == "Check level"
    assert dosage["patientInstruction"] == "Take with food"
    assert dosage["maxDosePerLifetime"] == {"value": 500, "unit": "mg"}
    assert encoded["dispenseRequest"]["initialFill"]["quantity"] == {"value": 10, "unit": "capsule"}
    med = resolve(bundle, encoded["medicationReference"]["reference"])
    assert med["form"]["coding"][0]["code"] == "CAP"
    ingredient = med["ingredient"][0]
    item = resolve(bundle, ingredient["itemReference"]["reference"])
    assert item["code"]["coding"][0]["code"] == "22222-3333-44"
    assert item["amount"]["numerator"]["value"] == 100
    assert ingredient["strength"]["numerator"] == {"value": 5, "unit": "mg", "system": "http://unitsofmeasure.org",
                                                   "code": "mg"}
    assert ingredient["strength"]["denominator"]["value"] == 100
    # two requests in one transaction must not both upsert on the ORC's order number
    urls = [e["request"]["url"] for e in bundle["entry"] if e["resource"]["resourceType"] == "MedicationRequest"]
    assert len(set(urls)) == 2
    assert_us_core(bundle)


def test_rxd_is_a_dispense_of_the_group_request() -> None:
    bundle = hl7v2_to_fhir(msg("RDS^O13", PID, ORC, RXE, RXD, "RXR|PO^Oral^HL70162"), strict=True)
    request = of_type(bundle, "MedicationRequest")[0]
    given = of_type(bundle, "MedicationDispense")[0]
    assert given["status"] == "completed" and given["whenHandedOver"] == "2024-03-02"
    assert given["quantity"] == {"value": 20, "unit": "capsule"}
    link = given["authorizingPrescription"][0]
    assert resolve(bundle, link["reference"]) is request
    assert link["identifier"]["value"] == "RX-9"
    assert given["type"]["coding"][0] == {"system": "http://terminology.hl7.org/CodeSystem/v2-0484", "code": "R",
                                          "display": "Refill"}
    assert given["note"] == [{"text": "Shake well"}]
    assert resolve(bundle, given["performer"][0]["actor"]["reference"])["name"][0]["family"] == "Pharmacist"
    store = resolve(bundle, given["location"]["reference"])
    assert store["name"] == "Store One" and store["address"]["line"] == ["3 Test Way"]
    dosage = given["dosageInstruction"][0]
    assert dosage["route"]["coding"][0]["code"] == "PO"
    assert dosage["maxDosePerPeriod"]["numerator"] == {"value": 3, "unit": "cap"}
    med = resolve(bundle, given["medicationReference"]["reference"])
    assert [c["code"] for c in med["code"]["coding"]] == ["11111-2222-33", "99999"]
    assert given["subject"] == request["subject"]
    assert_us_core(bundle)


def test_rxd_without_code_is_a_located_error() -> None:
    from hl7bridge.engine.errors import ParseError
    with pytest.raises(ParseError) as err:
        hl7v2_to_fhir(msg("RDS^O13", PID, ORC, RXE, "RXD|1||20240302"))
    assert err.value.location == "RXD-2"


VXU_ORC = "ORC|RE|PL-1^EHR|FL-1^EHR|||||||||DOC-1^Orderer^Olive"
RXA = "RXA|0|1|20240105||08^HepB^CVX|0.5|mL^mL^UCUM||01^Historical^NIP001||||||LOT9|||||CP|A"


def test_vxu_report_origin_ordering_role_and_observation_part_of() -> None:
    obx = "OBX|1|CE|69764-9^Document Type^LN|1|X1^Sheet^L||||||F"
    bundle = hl7v2_to_fhir(msg("VXU^V04", PID, VXU_ORC, RXA, obx), strict=True)
    shot = of_type(bundle, "Immunization")[0]
    assert shot["primarySource"] is False
    assert shot["reportOrigin"]["coding"][0]["code"] == "01"
    ordering = next(p for p in shot["performer"] if p["function"]["coding"][0]["code"] == "OP")
    role = resolve(bundle, ordering["actor"]["reference"])
    assert role["resourceType"] == "PractitionerRole" and role["code"][0]["coding"][0]["code"] == "OP"
    obs = of_type(bundle, "Observation")[0]
    assert resolve(bundle, obs["partOf"][0]["reference"]) is shot
    assert_us_core(bundle)


def test_vxu_order_is_a_service_request_the_observations_are_based_on() -> None:
    obx = "OBX|1|CE|69764-9^Document Type^LN|1|X1^Sheet^L||||||F"
    tq1 = "TQ1|1||||||||A"
    bundle = hl7v2_to_fhir(msg("VXU^V04", PID, VXU_ORC, tq1, RXA, obx), strict=True)
    order = of_type(bundle, "ServiceRequest")[0]
    assert [i["type"]["coding"][0]["code"] for i in order["identifier"]] == ["PLAC", "FILL"]
    assert order["intent"] == "order" and order["priority"] == "asap"
    assert resolve(bundle, order["requester"]["reference"])["resourceType"] == "PractitionerRole"
    obs = of_type(bundle, "Observation")[0]
    assert resolve(bundle, obs["basedOn"][0]["reference"]) is order
    assert_us_core(bundle)


def test_rxa_address_applies_to_every_level_of_the_administered_at_location() -> None:
    rxa = RXA + "||||||WARD1^RM2^BED3^CLINIC|9 Test Rd^^Testville^TS^00000"
    bundle = hl7v2_to_fhir(msg("VXU^V04", PID, VXU_ORC, rxa), strict=True)
    places = of_type(bundle, "Location")
    assert len(places) == 4 and all(p["address"]["city"] == "Testville" for p in places)
    shot = of_type(bundle, "Immunization")[0]
    assert resolve(bundle, shot["location"]["reference"])["name"] == "BED3"


def test_cti_is_a_research_study_supporting_the_order() -> None:
    bundle = hl7v2_to_fhir(msg("RDE^O11", PID, ORC, RXE, "CTI|STUDY-1^SPONSOR|2^Phase 2^L"), strict=True)
    request = of_type(bundle, "MedicationRequest")[0]
    study = resolve(bundle, request["supportingInformation"][0]["reference"])
    assert study["identifier"][0]["value"] == "STUDY-1" and study["status"] == "active"
    assert study["phase"]["coding"][0]["code"] == "2"


def test_orc10_entered_by_is_the_entering_provider() -> None:
    bundle = hl7v2_to_fhir(msg("RDE^O11", PID, ORC, RXE), strict=True)
    recorder = resolve(bundle, of_type(bundle, "MedicationRequest")[0]["recorder"]["reference"])
    assert recorder["code"][0]["coding"][0] == {"system": "http://terminology.hl7.org/CodeSystem/v2-0443", "code": "EP"}


def test_blg_account_supports_the_order_without_overwriting_it() -> None:
    bundle = hl7v2_to_fhir(msg("RDE^O11", PID, ORC, RXE, "BLG||CR|ACCT-5^^^BILLING^AN"), strict=True)
    request = of_type(bundle, "MedicationRequest")[0]
    ref = request["supportingInformation"][0]["reference"]
    account = resolve(bundle, ref)
    assert account["identifier"][0]["value"] == "ACCT-5" and account["status"] == "active"
    entry = next(e for e in bundle["entry"] if e["fullUrl"] == ref)
    assert entry["request"]["method"] == "POST" and "ifNoneExist" in entry["request"]


def test_cdo_with_an_interval_is_a_maximum_per_period_beside_the_daily_one() -> None:
    bundle = hl7v2_to_fhir(msg("RDE^O11", PID, ORC, RXE, "CDO|1|A|900^&mg|^&M"), strict=True)
    dosages = of_type(bundle, "MedicationRequest")[0]["dosageInstruction"]
    assert dosages[0]["maxDosePerPeriod"]["denominator"]["code"] == "d"  # RXE-19 total daily dose
    assert dosages[1]["maxDosePerPeriod"] == {"numerator": {"value": 900, "unit": "mg"},
                                              "denominator": {"value": 1, "unit": "mo", "system": "http://unitsofmeasure.org",
                                                              "code": "mo"}}
