"""Order messages (ORM / OML / OMG / REF): ServiceRequest, Specimen and timing, each per the IG spreadsheets."""

from __future__ import annotations

from hl7bridge.transforms.hl7v2_to_fhir import hl7v2_to_fhir
from hl7v2_builders import V2, msg, of_type, resolve, seg

PID = "PID|1||T-100^^^TESTHOSP&1.2.3&ISO^MR||Testperson^Alex||19800101|F"


def test_tq1_repeat_pattern_event_offset_and_service_duration() -> None:
    tq1 = "TQ1|1||Q6H^^^^6^h&hour&ANS+^^AC^30^min&minute&ANS+|||2^d&day&ANS+|||R|Pain"
    bundle = hl7v2_to_fhir(msg("OML^O21", PID, "ORC|NW|P1^EHR", tq1, "OBR|1|P1^EHR||2345-7^Glucose^LN"), strict=True)
    request = of_type(bundle, "ServiceRequest")[0]
    timing = request["occurrenceTiming"]
    assert timing["code"]["coding"][0]["code"] == "Q6H"
    assert timing["repeat"]["period"] == 6 and timing["repeat"]["periodUnit"] == "h"
    assert timing["repeat"]["when"] == ["AC"] and timing["repeat"]["offset"] == 30
    assert timing["repeat"]["boundsDuration"] == {"value": 2, "unit": "day", "system": "http://unitsofmeasure.org",
                                                  "code": "d"}
    assert request["asNeededCodeableConcept"] == {"text": "Pain"} and request["priority"] == "routine"


def test_orc7_quantity_timing_per_the_tq_map() -> None:
    orc = seg("ORC", {1: "NW", 2: "P2^EHR", 3: "F2^LAB", 7: "3&mL^BID&08:00,20:00^D5^20240105^20240110^S^^Fasting",
                      29: "O"})
    bundle = hl7v2_to_fhir(msg("ORM^O01", PID, orc, "OBR|1|||2345-7^Glucose^LN"), strict=True)
    request = of_type(bundle, "ServiceRequest")[0]
    assert request["quantityQuantity"] == {"value": 3, "unit": "mL"}
    timing = request["occurrenceTiming"]
    assert timing["code"]["coding"][0]["code"] == "BID"
    assert timing["repeat"]["timeOfDay"] == ["08:00:00", "20:00:00"]
    assert timing["repeat"]["boundsPeriod"] == {"start": "2024-01-05", "end": "2024-01-10"}
    assert request["priority"] == "stat" and {"text": "Fasting"} in request["note"]
    assert {"system": "http://terminology.hl7.org/CodeSystem/v3-RoleCode", "code": "OF",
            "display": "Outpatient facility"} in request["locationCode"][0]["coding"]


def test_obr6_is_the_occurrence_and_obr29_the_parent_order() -> None:
    obr = "OBR|1|P3^EHR||2345-7^Glucose^LN||20240105080000-0500" + "|" * 23 + "PP-1&EHR^PF-1&LAB"
    bundle = hl7v2_to_fhir(msg("ORM^O01", PID, "ORC|SC|P3^EHR||||||||20240104", obr), strict=True)
    request = of_type(bundle, "ServiceRequest")[0]
    assert request["occurrenceDateTime"] == "2024-01-05T08:00:00-05:00"
    assert "authoredOn" not in request  # IG ORC-9: authoredOn only for a new order (ORC-1 NW)
    assert [(b["identifier"]["value"], b["identifier"]["type"]["coding"][0]["code"]) for b in request["basedOn"]] == [
        ("PP-1", "PLAC"), ("PF-1", "FILL")]


def test_obr_specimen_and_order_group_obx_dg1_links() -> None:
    obr = "OBR|1|P4^EHR||2345-7^Glucose^LN|||20240105073000-0500|||1001^Collector^Casey"
    obx = "OBX|1|NM|1234-5^Fasting hours^LN||12|h"
    dg1 = "DG1|1||E11.9^Type 2 diabetes^I10"
    bundle = hl7v2_to_fhir(msg("ORM^O01", PID, "ORC|NW|P4^EHR", obr, obx, dg1), strict=True)
    request = of_type(bundle, "ServiceRequest")[0]
    specimen = resolve(bundle, request["specimen"][0])
    assert specimen["collection"]["collectedDateTime"] == "2024-01-05T07:30:00-05:00"
    assert resolve(bundle, specimen["collection"]["collector"])["name"][0]["family"] == "Collector"
    assert resolve(bundle, request["supportingInfo"][0])["code"]["coding"][0]["code"] == "1234-5"
    assert resolve(bundle, request["reasonReference"][0])["code"]["coding"][0]["code"] == "E11.9"


def test_spm_ids_parent_container_and_concept_maps() -> None:
    spm = seg("SPM", {1: "1", 2: "S-1&LAB^S-2&LAB", 3: "PS-1&LAB", 4: "BLD^Blood^HL70487", 6: "HEPA^Heparin",
                      7: "VENIP", 12: "5^mL", 14: "Drawn at bedside", 15: "COOL", 17: "20240105073000-0500",
                      24: "HEM~CLOT", 30: "ACC-9^^^LAB&1.2.3.4&ISO^ACSN", 32: "SHIP-1^LAB"})
    sac = seg("SAC", {2: "ACC-X", 3: "TUBE-7", 21: "10", 22: "4", 24: "mL"})
    bundle = hl7v2_to_fhir(msg("OML^O21", PID, "ORC|NW|P5^EHR", "OBR|1|P5^EHR||2345-7^Glucose^LN", spm, sac),
                           strict=True)
    request = of_type(bundle, "ServiceRequest")[0]
    specimen = resolve(bundle, request["specimen"][-1])
    types = [(i["value"], i["type"]["coding"][0]["code"]) for i in specimen["identifier"]]
    assert types == [("S-1", "PGN"), ("S-2", "FGN"), ("SHIP-1", "SHIP")]
    assert specimen["accessionIdentifier"]["value"] == "ACC-9"
    assert specimen["accessionIdentifier"]["system"] == "urn:oid:1.2.3.4"
    parent = resolve(bundle, specimen["parent"][0])
    assert parent["identifier"][0]["value"] == "PS-1"
    collection = specimen["collection"]
    assert collection["method"]["coding"][0] == {"system": V2 + "0488", "code": "VENIP", "display": "Venipuncture"}
    assert collection["quantity"] == {"value": 5, "unit": "mL"}
    assert collection["extension"][0]["valueCodeableConcept"]["coding"][0]["code"] == "COOL"
    assert [c["coding"][0]["system"] for c in specimen["condition"]] == [V2 + "0493", V2 + "0493"]
    container = specimen["container"][0]
    assert container["additiveCodeableConcept"]["coding"][0]["system"] == V2 + "0371"
    assert container["identifier"][0]["value"] == "TUBE-7"
    assert container["capacity"] == {"value": 10, "unit": "mL"} and container["specimenQuantity"]["value"] == 4
    assert specimen["note"] == [{"text": "Drawn at bedside"}]


def test_ref_rf1_is_a_referral_with_prd_requester_and_performer() -> None:
    rf1 = seg("RF1", {1: "P^Pending^HL70283", 2: "R^Routine^HL70280", 3: "Med^Medical^HL70281",
                      5: "O^Outpatient^HL70284", 6: "R-77^EHR", 7: "20240105", 8: "20240305", 9: "20240104",
                      10: "O^Provider Ordered^HL70336", 19: "Test Specialty Clinic", 24: "Please review"})
    prd_rp = seg("PRD", {1: "RP^Referring Provider^HL70286", 2: "Sender^Sam^^^DR", 5: "^WPN^PH^^^^^^^^^(555)555-0101",
                         7: "LIC-1^SL^^20301231", 8: "20200101", 10: "Test Family Practice"})
    prd_rt = seg("PRD", {1: "RT^Referred to Provider^HL70286", 2: "Receiver^Riley", 4: "^^^TEST CLINIC",
                         7: "LIC-2^SL"})
    bundle = hl7v2_to_fhir(msg("REF^I12", rf1, prd_rp, prd_rt, PID), strict=True)
    referral = next(r for r in of_type(bundle, "ServiceRequest") if r.get("category"))
    assert referral["status"] == "active" and referral["priority"] == "routine"
    assert referral["category"][0]["coding"][0]["code"] == "3457005"
    assert referral["identifier"][0]["value"] == "R-77" and referral["authoredOn"] == "2024-01-04"
    assert referral["occurrencePeriod"] == {"start": "2024-01-05", "end": "2024-03-05"}
    assert referral["reasonCode"][0]["coding"][0]["code"] == "O" and referral["note"] == [{"text": "Please review"}]
    requester = resolve(bundle, referral["requester"])
    assert requester["code"][0]["coding"][0] == {"system": V2 + "0286", "code": "RP", "display": "Referring Provider"}
    person = resolve(bundle, requester["practitioner"])
    assert person["identifier"][0]["value"] == "LIC-1" and person["identifier"][0]["period"] == {"end": "2030-12-31"}
    assert resolve(bundle, requester["organization"])["name"] == "Test Family Practice"
    kinds = [resolve(bundle, p)["resourceType"] for p in referral["performer"]]
    assert kinds == ["Organization", "PractitionerRole"]


def test_ref_i14_cancels_and_aut_is_a_preauthorization() -> None:
    rf1 = seg("RF1", {1: "A", 6: "R-78^EHR", 7: "20240105"})
    aut = seg("AUT", {1: "PPO", 3: "Test Payer", 4: "20240101", 5: "20240401", 6: "AUTH-9", 7: "150", 8: "2",
                      9: "1", 10: "20240102", 28: "approved in part"})
    bundle = hl7v2_to_fhir(msg("REF^I14", PID, rf1, aut), strict=True)
    assert of_type(bundle, "ServiceRequest")[0]["status"] == "revoked"
    claim = of_type(bundle, "ClaimResponse")[0]
    assert claim["use"] == "preauthorization" and claim["created"] == "2024-01-02"
    assert claim["preAuthPeriod"] == {"start": "2024-01-01", "end": "2024-04-01"}
    assert [a["value"] for a in claim["item"][0]["adjudication"]] == [2, 1]
    assert claim["total"][0]["amount"] == {"value": 150} and resolve(bundle, claim["insurer"])["name"] == "Test Payer"


def test_orc4_eip_group_numbers_and_orders_without_numbers_stay_apart() -> None:
    first = ("ORC|SC|||G-1&EHR^FG-1&LAB|HD", "OBR|1|||2345-7^Glucose^LN||20240105080000-0500")
    second = ("ORC|SC|||G-2^EHR|HD", "OBR|1|||2345-7^Glucose^LN||20240105080000-0500")
    bundle = hl7v2_to_fhir(msg("OMG^O19", PID, *first, *second), strict=True)
    one, two = of_type(bundle, "ServiceRequest")
    assert one["requisition"]["value"] == "G-1" and one["requisition"]["type"]["coding"][0]["code"] == "PGN"
    assert [(i["value"], i["type"]["coding"][0]["code"]) for i in one["identifier"]] == [("FG-1", "FGN")]
    assert two["requisition"]["value"] == "G-2" and "identifier" not in two
    assert one["status"] == two["status"] == "on-hold"


def test_tq1_service_duration_completes_a_one_sided_period() -> None:
    tq1 = seg("TQ1", {1: "1", 6: "90^min&minute&ANS+", 7: "20240105080000-0500", 13: "1^ann"})
    bundle = hl7v2_to_fhir(msg("ORM^O01", PID, "ORC|NW|P6^EHR", "OBR|1|P6^EHR||2345-7^Glucose^LN", tq1), strict=True)
    repeat = of_type(bundle, "ServiceRequest")[0]["occurrenceTiming"]["repeat"]
    assert repeat["boundsPeriod"] == {"start": "2024-01-05T08:00:00-05:00", "end": "2024-01-05T09:30:00-05:00"}
    assert repeat["duration"] == 1 and repeat["durationUnit"] == "a"
