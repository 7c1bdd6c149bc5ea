"""Order messages (ORM / OML / OMG / REF): ServiceRequest, Specimen and timing, each per the IG spreadsheets."""

from __future__ import annotations

from hl7bridge.transforms.hl7v2_to_fhir import hl7v2_to_fhir

PID = "PID|1||T-100^^^TESTHOSP&1.2.3&ISO^MR||Testperson^Alex||19800101|F"
V2 = "http://terminology.hl7.org/CodeSystem/v2-"


def msg(kind: str, *segments: str) -> str:
    header = f"MSH|^~\\&|APP|TESTHOSP^1.2.3^ISO|RCV|FAC|20240102030405-0500||{kind}|C1|P|2.5.1"
    return "\r".join((header,) + segments) + "\r"


def seg(name: str, fields: dict[int, str]) -> str:
    return "|".join([name] + [fields.get(n, "") for n in range(1, max(fields) + 1)])


def of_type(bundle: dict, rtype: str) -> list[dict]:
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == rtype]


def resolve(bundle: dict, ref: dict) -> dict:
    return next(e["resource"] for e in bundle["entry"] if e["fullUrl"] == ref["reference"])


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
