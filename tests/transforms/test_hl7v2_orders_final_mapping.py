"""Order and pharmacy leftovers: TQ1 on MedicationRequest dosage, ORC-12 role, ODS / RQD orders, CTI / BLG on
ServiceRequest, SPM-32 authorities -- on small synthetic messages."""

from __future__ import annotations

from hl7bridge.transforms.hl7v2_to_fhir import hl7v2_to_fhir
from hl7v2_builders import V2, msg, of_type, resolve, seg

PID = "PID|1||T-200^^^TESTHOSP&1.2.3&ISO^MR||Testperson^Sam||19800101|F"
AL1 = "AL1|1|FA|PNUT^Peanut^L|MI"


RXE = seg("RXE", {2: "11111-2222-33^Testamycin^NDC", 3: "1", 5: "mg^mg", 7: "Check level~Protect from light",
                  10: "1", 11: "cap^capsule"})


def test_tq1_on_a_medication_request_keeps_rxe7_and_rxr5_and_sets_sequence_and_text() -> None:
    tq1 = seg("TQ1", {1: "2", 3: "BID", 10: "If restless", 11: "After meals"})
    bundle = hl7v2_to_fhir(msg("RDE^O11", PID, "ORC|NW|P1^EHR", RXE, "RXR|PO^Oral^HL70162||||FLUSH^Flush line^L",
                               tq1), strict=True)
    dosage = of_type(bundle, "MedicationRequest")[0]["dosageInstruction"][0]
    instructions = dosage["additionalInstruction"]
    codes = [c["coding"][0]["code"] for c in instructions if "coding" in c]
    assert codes == ["Check level", "Protect from light", "FLUSH"]  # RXE-7 and RXR-5 survive the TQ1
    assert {"text": "If restless"} in instructions  # IG TQ1[MedicationRequest] row 14
    assert dosage["text"] == "After meals"  # row 15: TQ1-11 is the dosage text, not a note
    assert dosage["sequence"] == 2  # TQ1-1 (no IG row): the order of the dosages
    assert "note" not in of_type(bundle, "MedicationRequest")[0]


def test_tq1_text_on_a_service_request_stays_a_note() -> None:
    tq1 = seg("TQ1", {1: "1", 11: "Call first"})
    bundle = hl7v2_to_fhir(msg("OML^O21", PID, "ORC|NW|P1^EHR", tq1, "OBR|1|P1^EHR||2345-7^Glucose^LN"), strict=True)
    request = of_type(bundle, "ServiceRequest")[0]
    assert request["note"] == [{"text": "Call first"}] and "sequence" not in request


def test_orc12_requester_is_an_ordering_provider_role_of_the_ordering_facility() -> None:
    orc = seg("ORC", {1: "NW", 2: "P3^EHR", 12: "D-7^Orderer^Olive", 21: "Test Clinic^^^^^^XX^^^TC-1",
                      22: "1 Test Way^^Testville^TS^00000", 23: "^WPN^PH^^^555^0100"})
    bundle = hl7v2_to_fhir(msg("ORM^O01", PID, orc, "OBR|1|||2345-7^Glucose^LN"), strict=True)
    role = resolve(bundle, of_type(bundle, "ServiceRequest")[0]["requester"])
    assert role["code"] == [{"coding": [{"system": V2 + "0443", "code": "OP"}]}]
    org = resolve(bundle, role["organization"])
    assert org["name"] == "Test Clinic" and org["address"][0]["city"] == "Testville" and org["telecom"]


def test_ordering_facility_without_an_orderer_is_still_the_requester() -> None:
    # IG ORC-21 requester(PractitionerRole.organization): no ORC-12 / OBR-16, the facility alone.
    orc = seg("ORC", {1: "NW", 2: "P4^EHR", 21: "Test Clinic^^^^^^XX^^^TC-1"})
    bundle = hl7v2_to_fhir(msg("ORM^O01", PID, orc, "OBR|1|||2345-7^Glucose^LN"), strict=True)
    role = resolve(bundle, of_type(bundle, "ServiceRequest")[0]["requester"])
    assert "practitioner" not in role and resolve(bundle, role["organization"])["name"] == "Test Clinic"
    assert not of_type(bundle, "Practitioner")


def test_obr53_alternate_placer_numbers_are_placer_identifiers() -> None:
    obr = seg("OBR", {1: "1", 2: "P5^EHR", 4: "2345-7^Glucose^LN", 53: "ALT-1^^^OTHER^MR~ALT-2^^^OTHER"})
    bundle = hl7v2_to_fhir(msg("ORM^O01", PID, "ORC|NW|P5^EHR", obr), strict=True)
    idents = of_type(bundle, "ServiceRequest")[0]["identifier"]
    assert idents[0]["value"] == "P5"  # ORC-2 stays the placer number the round trip writes back
    alternates = [i for i in idents if i["value"].startswith("ALT-")]
    assert [i["value"] for i in alternates] == ["ALT-1", "ALT-2"]
    assert all(i["type"]["coding"] == [{"system": V2 + "0203", "code": "PLAC"}] for i in alternates)


def test_ods_preference_becomes_a_nutrition_order() -> None:
    orc = seg("ORC", {1: "NW", 2: "N1^EHR", 3: "N2^KITCHEN", 12: "D-7^Orderer^Olive"})
    ods = "ODS|P||VEG^Vegetarian^L~NOPORK^No pork^L|Served warm"
    bundle = hl7v2_to_fhir(msg("ORM^O01", PID, AL1, orc, ods, "NTE|1||Tray to room"), strict=True)
    order = of_type(bundle, "NutritionOrder")[0]
    assert [i["type"]["coding"][0]["code"] for i in order["identifier"]] == ["PLAC", "FILL"]
    assert order["status"] == "active" and order["intent"] == "order"
    assert order["dateTime"] == "2024-01-02T03:04:05-05:00"  # no ORC-9: the message time
    assert [c["coding"][0]["code"] for c in order["foodPreferenceModifier"]] == ["VEG", "NOPORK"]
    assert {"text": "Served warm"} in order["note"] and {"text": "Tray to room"} in order["note"]
    assert resolve(bundle, order["allergyIntolerance"][0])["resourceType"] == "AllergyIntolerance"
    assert resolve(bundle, order["orderer"])["resourceType"] == "PractitionerRole"
    assert not of_type(bundle, "ServiceRequest")


def test_ods_diet_is_an_oral_diet() -> None:
    bundle = hl7v2_to_fhir(msg("ORM^O01", PID, "ORC|NW|N3^EHR", "ODS|D||LS^Low salt^L|No added salt"), strict=True)
    diet = of_type(bundle, "NutritionOrder")[0]["oralDiet"]
    assert diet["type"][0]["coding"][0]["code"] == "LS" and diet["instruction"] == "No added salt"


def test_rqd_becomes_a_supply_request_with_rq1_supplier_and_dg1_reason() -> None:
    orc = seg("ORC", {1: "NW", 2: "S1^EHR", 4: "G1^EHR", 9: "20240101120000-0500", 12: "D-7^Orderer^Olive"})
    rqd = seg("RQD", {1: "1", 2: "100^Widget^L", 4: "H-5^Widget, small^L", 5: "2", 6: "EA^Each^L",
                      9: "WARD1^Ward One", 10: "20240103"})
    rq1 = seg("RQ1", {2: "MFR^Maker Inc"})
    dg1 = "DG1|1||R51^Headache^I10"
    bundle = hl7v2_to_fhir(msg("ORM^O01", PID, orc, rqd, rq1, dg1), strict=True)
    supply = of_type(bundle, "SupplyRequest")[0]
    assert [i["type"]["coding"][0]["code"] for i in supply["identifier"]] == ["PLAC", "PGN"]
    assert supply["status"] == "active" and supply["authoredOn"] == "2024-01-01T12:00:00-05:00"
    assert [c["code"] for c in supply["itemCodeableConcept"]["coding"]] == ["H-5", "100"]
    assert supply["quantity"]["value"] == 2 and supply["quantity"]["code"] == "EA"
    assert supply["occurrenceDateTime"] == "2024-01-03"
    assert resolve(bundle, supply["deliverTo"])["name"] == "Ward One"
    assert resolve(bundle, supply["deliverFrom"])["name"] == "Maker Inc"
    assert resolve(bundle, supply["reasonReference"][0])["resourceType"] == "Condition"
    assert resolve(bundle, supply["requester"])["code"][0]["coding"][0]["code"] == "OP"


def test_cancelled_rqd_is_a_cancelled_supply_request() -> None:
    rqd = seg("RQD", {1: "1", 2: "100^Widget^L", 5: "1"})
    bundle = hl7v2_to_fhir(msg("ORM^O01", PID, "ORC|CA|S2^EHR|||CA", rqd), strict=True)
    assert of_type(bundle, "SupplyRequest")[0]["status"] == "cancelled"


def test_a_second_service_under_the_same_order_numbers_is_its_own_request() -> None:
    orc = seg("ORC", {1: "NW", 2: "P9^EHR"})
    first = "OBR|1|P9^EHR|F9-B^LAB|1320^Test one^L"
    second = "OBR|2|P9^EHR|F9-B^LAB|1680^Test two^L"
    bundle = hl7v2_to_fhir(msg("OML^O21", PID, orc, first, second), strict=True)
    requests = of_type(bundle, "ServiceRequest")
    assert [r["code"]["coding"][0]["code"] for r in requests] == ["1320", "1680"]
    fillers = {i["value"] for r in requests for i in r["identifier"] if i["type"]["coding"][0]["code"] == "FILL"}
    assert fillers == {"F9-B"}
    urls = [e["request"]["url"] for e in bundle["entry"] if e["resource"]["resourceType"] == "ServiceRequest"]
    assert len(set(urls)) == 2 and urls[0].startswith("ServiceRequest?identifier=")


def test_clip_authority_with_an_oid_and_cti_identifier_type() -> None:
    spm = seg("SPM", {1: "1", 4: "BLD^Blood^HL70487", 32: "SHIP-1^Ship^1.2.3.4^CLIP"})
    cti = "CTI|STUDY-1^Study^1.2.3.5^CLIP|1^Phase one^HL70396"
    bundle = hl7v2_to_fhir(msg("OML^O21", PID, "ORC|NW|P8^EHR", "OBR|1|P8^EHR||2345-7^Glucose^LN", spm, cti),
                           strict=True)
    specimen = next(s for s in of_type(bundle, "Specimen") if "identifier" in s)
    assert {"system": "urn:oid:1.2.3.4", "value": "SHIP-1"}.items() <= specimen["identifier"][0].items()
    study = of_type(bundle, "ResearchStudy")[0]
    assert study["identifier"][0]["system"] == "urn:oid:1.2.3.5"
    assert study["identifier"][0]["type"]["coding"][0] == {"system": V2 + "0301", "code": "CLIP"}
    request = of_type(bundle, "ServiceRequest")[0]
    assert any(resolve(bundle, r)["resourceType"] == "ResearchStudy" for r in request["supportingInfo"])
