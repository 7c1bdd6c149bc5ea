"""Finance, clinical and scheduling segments (IN1/IN2, GT1, FT1, DG1, PR1, AL1, SCH/AIS/AIG/AIL/AIP) to FHIR.

Synthetic messages only; each test builds the few fields it needs.
"""

from __future__ import annotations

from functools import partial

import pytest

from hl7bridge.engine.errors import ParseError
from hl7bridge.transforms.hl7v2_to_fhir import hl7v2_to_fhir
from hl7v2_builders import msg as _msg, of_type, seg, url_of

msg = partial(_msg, facility="HOSP")

PID = "PID|1||P-100^^^HOSP&1.2.3&ISO^MR||Testperson^Alex||19800101|F||||||||||ACC-1^^^HOSP&1.2.3&ISO^AN"
PV1 = "PV1|1|O|CLINIC^^^HOSP||||||||||||||||V-1^^^HOSP^VN"


def codes(concept: dict) -> set[tuple[str, str]]:
    return {(c.get("system", ""), c.get("code", "")) for c in concept.get("coding", [])}


# -- IN1 / IN2 -> Coverage, Account.coverage ---------------------------------------------------

IN1 = seg("IN1", {1: "1", 2: "PLAN-A^Plan A", 3: "PAYER-1^^^&2.16.9.9&ISO", 4: "Example Payer",
                  15: "HMO^health maintenance organization policy", 17: "SEL", 22: "1", 36: "POL-77",
                  37: "150&USD^DC", 49: "SUB-5^^^&2.16.9.8&ISO^NI"})
IN2 = seg("IN2", {6: "MCR-1", 8: "MCD-2", 61: "MEM-3^^^&2.16.9.7&ISO^MB"})


def test_in1_policy_number_subscriber_id_plan_type_and_deductible() -> None:
    bundle = hl7v2_to_fhir(msg("ADT^A04", PID, PV1, IN1), strict=True)
    cov = of_type(bundle, "Coverage")[0]
    policy = cov["identifier"][0]
    assert policy["value"] == "POL-77" and policy["type"]["coding"][0]["code"] == "PLN"
    assert cov["subscriberId"] == "SUB-5"  # IG IN1-49
    assert ("http://terminology.hl7.org/CodeSystem/v3-ActCode", "HMO") in codes(cov["type"])
    cost = cov["costToBeneficiary"][0]
    assert cost["valueMoney"] == {"value": 150, "currency": "USD"}
    assert ("http://terminology.hl7.org/CodeSystem/v2-0205", "DC") in codes(cost["type"])
    account = of_type(bundle, "Account")[0]
    assert account["coverage"] == [{"coverage": {"reference": url_of(bundle, cov)}, "priority": 1}]


def test_in2_programme_and_member_numbers_identify_the_coverage() -> None:
    bundle = hl7v2_to_fhir(msg("ADT^A04", PID, PV1, IN1, IN2), strict=True)
    idents = {(i.get("type", {}).get("coding", [{}])[0].get("code"), i["value"], i.get("system"))
              for i in of_type(bundle, "Coverage")[0]["identifier"]}
    assert ("MC", "MCR-1", "http://hl7.org/fhir/sid/us-medicare") in idents
    assert ("MA", "MCD-2", "urn:hl7bridge:id:us-medicaid") in idents
    assert ("MB", "MEM-3", "urn:oid:2.16.9.7") in idents


def test_in2_of_another_in1_is_not_taken() -> None:
    other = seg("IN1", {1: "2", 3: "PAYER-2", 4: "Second Payer", 36: "POL-88"})
    bundle = hl7v2_to_fhir(msg("ADT^A04", PID, PV1, IN1, other, IN2))
    first, second = sorted(of_type(bundle, "Coverage"), key=lambda c: c["identifier"][0]["value"])
    assert not any(i["value"] == "MCR-1" for i in first["identifier"])
    assert any(i["value"] == "MCR-1" for i in second["identifier"])


def test_non_numeric_deductible_is_left_out() -> None:
    in1 = seg("IN1", {1: "1", 3: "PAYER-1", 4: "Example Payer", 37: "ABC"})
    cov = of_type(hl7v2_to_fhir(msg("ADT^A04", PID, PV1, in1)), "Coverage")[0]
    assert "costToBeneficiary" not in cov


# -- GT1 -> Account.guarantor ----------------------------------------------------------------

def test_gt1_self_makes_the_patient_the_guarantor_with_a_period() -> None:
    gt1 = seg("GT1", {1: "1", 3: "Testperson^Alex", 11: "SEL", 13: "20240101", 14: "20241231"})
    bundle = hl7v2_to_fhir(msg("ADT^A04", PID, PV1, gt1), strict=True)
    guarantor = of_type(bundle, "Account")[0]["guarantor"][0]
    assert guarantor["party"]["reference"] == url_of(bundle, of_type(bundle, "Patient")[0])
    assert guarantor["period"] == {"start": "2024-01-01", "end": "2024-12-31"}
    assert of_type(bundle, "RelatedPerson") == []


def test_gt1_other_person_is_a_related_person_with_ids_and_language() -> None:
    gt1 = seg("GT1", {1: "1", 2: "G-1^^^HOSP^GN", 3: "Payer^Pat", 11: "BRO", 12: "999-00-1111",
                      19: "E-55^^^^EI", 36: "ger"})
    bundle = hl7v2_to_fhir(msg("ADT^A04", PID, PV1, gt1), strict=True)
    person = of_type(bundle, "RelatedPerson")[0]
    values = {i["value"]: i.get("system") for i in person["identifier"]}
    assert values["999-00-1111"] == "http://hl7.org/fhir/sid/us-ssn"
    assert {"G-1", "E-55"} <= set(values)
    assert person["communication"][0]["language"]["coding"][0] == {"system": "urn:ietf:bcp:47", "code": "de"}
    assert of_type(bundle, "Account")[0]["guarantor"][0]["party"]["reference"] == url_of(bundle, person)


# -- FT1 -> ChargeItem -------------------------------------------------------------------------

FT1 = seg("FT1", {1: "1", 2: "T-1", 4: "20240105", 6: "CG", 7: "71045^Chest x-ray^C4", 10: "1",
                  25: "71045^Chest x-ray^C4", 34: "ITEM-9^Film pack", 35: "MODEL-2"})
DG1 = seg("DG1", {1: "1", 3: "R07.9^Chest pain^I10C"})


def test_ft1_transaction_id_procedure_product_and_diagnoses() -> None:
    bundle = hl7v2_to_fhir(msg("DFT^P03", PID, PV1, FT1, DG1), strict=True)
    charge = of_type(bundle, "ChargeItem")[0]
    assert charge["identifier"][0]["type"]["coding"][0]["code"] == "TID"
    procedure = of_type(bundle, "Procedure")[0]
    assert procedure["code"]["coding"][0]["code"] == "71045"
    assert procedure["performedDateTime"] == "2024-01-05"
    assert {"reference": url_of(bundle, procedure)} in charge["service"]
    device = of_type(bundle, "Device")[0]
    assert device["identifier"][0]["value"] == "ITEM-9" and device["modelNumber"] == "MODEL-2"
    assert charge["productReference"]["reference"] == url_of(bundle, device)
    condition = of_type(bundle, "Condition")[0]
    assert {"reference": url_of(bundle, condition)} in charge["supportingInformation"]


def test_ft1_followed_by_pr1_charges_the_pr1_procedure_only() -> None:
    pr1 = seg("PR1", {1: "1", 3: "71045^Chest x-ray^C4", 5: "202401051000"})
    bundle = hl7v2_to_fhir(msg("DFT^P03", PID, PV1, FT1, pr1), strict=True)
    procedures = of_type(bundle, "Procedure")
    assert len(procedures) == 1
    assert of_type(bundle, "ChargeItem")[0]["service"] == [{"reference": url_of(bundle, procedures[0])}]


# -- DG1 / PR1 / AL1 -------------------------------------------------------------------------

def test_dg1_attestation_action_and_parent_diagnosis() -> None:
    dg1 = seg("DG1", {1: "1", 3: "I21^Acute MI^I10", 19: "20240105103000", 20: "D-1^^1.2.9.9^ISO",
                      21: "D", 22: "D-0^^1.2.9.9^ISO"})
    bundle = hl7v2_to_fhir(msg("ADT^A08", PID, PV1, dg1), strict=True)
    condition = next(c for c in of_type(bundle, "Condition") if "code" in c)
    parent = next(c for c in of_type(bundle, "Condition") if "code" not in c)
    assert condition["identifier"][0] == {"system": "urn:oid:1.2.9.9", "value": "D-1"}
    assert condition["recordedDate"] == "2024-01-05T10:30:00-05:00"
    extensions = {e["url"].rsplit("/", 1)[-1]: e for e in condition["extension"]}
    assert extensions["condition-assertedDate"]["valueDateTime"] == condition["recordedDate"]
    assert extensions["condition-dueTo"]["valueReference"]["reference"] == url_of(bundle, parent)
    assert parent["identifier"][0]["value"] == "D-0"
    assert condition["verificationStatus"]["coding"][0]["code"] == "entered-in-error"


def test_dg1_parent_without_an_id_makes_no_condition() -> None:
    dg1 = seg("DG1", {1: "1", 3: "I21^Acute MI^I10", 22: "^^1.2.9.9^ISO"})
    assert len(of_type(hl7v2_to_fhir(msg("ADT^A08", PID, PV1, dg1)), "Condition")) == 1


def test_pr1_parent_procedure_is_part_of() -> None:
    pr1 = seg("PR1", {1: "1", 3: "76164006^Biopsy of colon^SCT", 5: "202401051000", 25: "PP-1"})
    bundle = hl7v2_to_fhir(msg("ADT^A08", PID, PV1, pr1), strict=True)
    parent = next(p for p in of_type(bundle, "Procedure") if "code" not in p)
    child = next(p for p in of_type(bundle, "Procedure") if "code" in p)
    assert parent["identifier"][0]["value"] == "PP-1" and parent["status"] == "unknown"
    assert child["partOf"] == [{"reference": url_of(bundle, parent)}]


def test_al1_allergen_type_gives_the_allergy_type() -> None:
    al1 = seg("AL1", {1: "1", 2: "DA", 3: "70618^Penicillin^RXNORM"})
    allergy = of_type(hl7v2_to_fhir(msg("ADT^A08", PID, PV1, al1), strict=True), "AllergyIntolerance")[0]
    assert allergy["type"] == "allergy" and allergy["category"] == ["medication"]


# -- SIU -> Appointment ----------------------------------------------------------------------

SCH = seg("SCH", {1: "PL-1", 2: "FL-1", 7: "ROUTINE", 9: "3600", 10: "s",
                  11: "^^^20240110090000-0500^20240110100000-0500", 20: "E1^Enterer^Erin", 25: "Booked"})


def siu(*groups: str, sch: str = SCH) -> dict:
    return hl7v2_to_fhir(msg("SIU^S12", sch, PID, PV1, *groups), strict=True)


def test_sch_identifier_types_duration_in_seconds_and_enterer() -> None:
    appt = of_type(siu(), "Appointment")[0]
    assert [i["type"]["coding"][0]["code"] for i in appt["identifier"]] == ["PLAC", "FILL"]
    assert appt["minutesDuration"] == 60
    assert appt["start"] == "2024-01-10T09:00:00-05:00"
    enterer = next(p for p in appt["participant"] if "type" in p)
    assert enterer["type"][0]["coding"][0]["code"] == "enterer"


def test_tq1_after_sch_gives_start_and_end() -> None:
    tq1 = seg("TQ1", {1: "1", 7: "20240111080000-0500", 8: "20240111083000-0500"})
    bundle = hl7v2_to_fhir(msg("SIU^S12", SCH, tq1, PID, PV1), strict=True)
    appt = of_type(bundle, "Appointment")[0]
    assert (appt["start"], appt["end"]) == ("2024-01-11T08:00:00-05:00", "2024-01-11T08:30:00-05:00")


def test_resource_group_books_device_practitioner_and_location_for_its_service() -> None:
    bundle = siu("RGS|1", seg("AIS", {1: "1", 3: "58410-2^CBC panel^LN", 11: "X-1^Extra^L"}),
                 seg("AIG", {1: "1", 3: "D-7^Cell counter^L", 4: "011^Lab equipment^L", 8: "20240110090000-0500"}),
                 seg("AIL", {1: "1", 3: "LAB^101^^HOSP"}),
                 seg("AIP", {1: "1", 3: "P-4^Drawer^Dana", 4: "019^Phlebotomist^L"}),
                 "RGS|2", seg("AIP", {1: "1", 3: "P-5^Other^Oli"}))
    appt = of_type(bundle, "Appointment")[0]
    device = of_type(bundle, "Device")[0]
    assert device["identifier"][0]["value"] == "D-7" and device["deviceName"][0]["name"] == "Cell counter"
    booked = next(p for p in appt["participant"] if p["actor"]["reference"] == url_of(bundle, device))
    assert booked["type"][0]["coding"][0]["code"] == "011" and booked["status"] == "tentative"
    assert booked["period"]["start"] == "2024-01-10T09:00:00-05:00"
    order = next(s for s in of_type(bundle, "ServiceRequest") if "code" in s)
    performers = [p["reference"] for p in order["performer"]]
    assert url_of(bundle, device) in performers and len(performers) == 2  # RGS 2's AIP is not its performer
    assert len(order["locationReference"]) == 1
    assert "X-1" in [i["value"] for i in order["identifier"]]  # IG AIS-11


def test_ail4_types_the_booked_location() -> None:
    bundle = siu(seg("AIL", {1: "1", 3: "CLINIC^101^^HOSP", 4: "C^Clinic^HL70305"}))
    room = next(loc for loc in of_type(bundle, "Location") if loc["name"] == "101")
    assert room["type"] == [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0305", "code": "C",
                                         "display": "Clinic"}]}]


def test_cancelled_appointment_revokes_its_order() -> None:
    sch = SCH.replace("|Booked", "|Cancelled") + "|PO-1"
    bundle = hl7v2_to_fhir(msg("SIU^S15", sch, PID, PV1), strict=True)
    assert of_type(bundle, "Appointment")[0]["status"] == "cancelled"
    assert of_type(bundle, "ServiceRequest")[0]["status"] == "revoked"


def test_ais_notes_are_appointment_comments() -> None:
    bundle = siu(seg("AIS", {1: "1", 3: "58410-2^CBC panel^LN"}), "NTE|1||Fasting required")
    assert of_type(bundle, "Appointment")[0]["comment"] == "Fasting required"


def test_gt1_organisation_is_the_guarantor() -> None:
    gt1 = seg("GT1", {1: "1", 3: "Testperson^Alex", 11: "SEL", 21: "Example Employer Inc"})
    bundle = hl7v2_to_fhir(msg("ADT^A04", PID, PV1, gt1), strict=True)
    org = next(o for o in of_type(bundle, "Organization") if o.get("name") == "Example Employer Inc")
    assert of_type(bundle, "Account")[0]["guarantor"][0]["party"]["reference"] == url_of(bundle, org)


def test_ft1_ndc_is_the_product_and_blg_adds_the_billed_account() -> None:
    ft1 = seg("FT1", {1: "1", 2: "T-2", 4: "20240105", 6: "CG", 7: "J1100^Injection^HCPCS",
                      29: "0182-1061-05^Example tablet^NDC"})
    orc = seg("ORC", {1: "NW", 2: "ORD-1"})
    obr = seg("OBR", {1: "1", 2: "ORD-1", 4: "24725-4^CT Head^LN"})
    blg = seg("BLG", {2: "CR", 3: "BA-9^^^HOSP^AN"})
    bundle = hl7v2_to_fhir(msg("ORM^O01", PID, PV1, orc, obr, ft1, blg), strict=True)
    charge = of_type(bundle, "ChargeItem")[0]
    assert charge["productCodeableConcept"]["coding"][0]["code"] == "0182-1061-05"
    billed = next(a for a in of_type(bundle, "Account") if a["identifier"][0]["value"] == "BA-9")
    assert {"reference": url_of(bundle, billed)} in charge["account"]
    assert len(charge["account"]) == 2  # and the visit's PID-18 account


def test_sch_contacts_are_practitioner_roles_with_location_and_phone() -> None:
    sch = seg("SCH", {1: "PL-1", 2: "FL-1", 12: "C1^Contact^Cam", 13: "(555)010-0000^^PH",
                      15: "^^^SITE-A^^^BLDG-A", 16: "C1^Contact^Cam", 19: "^^^SITE-A^^^BLDG-A", 25: "Booked"})
    bundle = hl7v2_to_fhir(msg("SIU^S12", sch, PID, PV1), strict=True)
    roles = of_type(bundle, "PractitionerRole")
    assert len(roles) == 1  # the same person at the same place in both contact roles
    role = roles[0]
    assert [c["coding"][0]["code"] for c in role["code"]] == ["placer-contact", "filler-contact"]
    assert role["telecom"][0]["value"] == "(555)010-0000"
    building = next(loc for loc in of_type(bundle, "Location") if loc["name"] == "BLDG-A")
    assert role["location"] == [{"reference": url_of(bundle, building)}]
    appt = of_type(bundle, "Appointment")[0]
    assert appt["supportingInformation"] == [{"reference": url_of(bundle, role)}]


def test_ft1_charge_is_billable_and_a_credit_is_not_called_so() -> None:
    credit = FT1.replace("|CG|", "|CD|").replace("|T-1|", "|T-3|")
    bundle = hl7v2_to_fhir(msg("DFT^P03", PID, PV1, FT1, credit), strict=True)
    assert sorted(c["status"] for c in of_type(bundle, "ChargeItem")) == ["billable", "unknown"]


def test_in1_payor_phone_and_contact_person() -> None:
    in1 = seg("IN1", {1: "1", 3: "PAYER-1", 4: "Example Payer", 6: "Contact^Casey", 7: "(555)010-1111^^PH"})
    payor = next(o for o in of_type(hl7v2_to_fhir(msg("ADT^A04", PID, PV1, in1), strict=True), "Organization")
                 if o.get("name") == "Example Payer")
    assert payor["telecom"][0]["value"] == "(555)010-1111"
    assert payor["contact"][0]["name"]["family"] == "Contact"


def test_coverage_is_never_upserted_by_the_shared_plan_id() -> None:
    with_insured_id = seg("IN1", {1: "1", 2: "PLAN-A", 3: "PAYER-1", 4: "Example Payer", 49: "SUB-5^^^&2.16.9.8&ISO"})
    plan_only = seg("IN1", {1: "1", 2: "PLAN-A", 3: "PAYER-1", 4: "Example Payer"})
    for in1, expected in ((with_insured_id, "Coverage?identifier=urn:oid:2.16.9.8|SUB-5"), (plan_only, "Coverage/")):
        bundle = hl7v2_to_fhir(msg("ADT^A04", PID, PV1, in1), strict=True)
        entry = next(e for e in bundle["entry"] if e["resource"]["resourceType"] == "Coverage")
        assert entry["request"]["method"] == "PUT" and entry["request"]["url"].startswith(expected)


def test_in1_naming_no_company_keeps_the_message_and_marks_the_payor_unknown() -> None:
    # IN1-3 and IN1-4 empty (seen in real feeds): the registration still converts; each IN1 keeps its Coverage.
    first = seg("IN1", {1: "1", 2: "PAR^PARENT", 6: "Contact"})
    second = seg("IN1", {1: "2", 6: "Other"})
    third = seg("IN1", {1: "3"})
    bundle = hl7v2_to_fhir(msg("ADT^A04", PID, PV1, first, second, third), strict=True)
    coverages = of_type(bundle, "Coverage")
    assert len(coverages) == 3
    unknown = [{"extension": [{"url": "http://hl7.org/fhir/StructureDefinition/data-absent-reason",
                               "valueCode": "unknown"}]}]
    assert all(cov["payor"] == unknown for cov in coverages)
    assert not of_type(bundle, "Organization") or all(o.get("name") or o.get("identifier")
                                                      for o in of_type(bundle, "Organization"))


def test_dft_results_form_a_report_that_a_charge_never_overwrites() -> None:
    orc = "ORC|RE|PL-1^EHR|FI-1^LAB||CM"
    obr = seg("OBR", {1: "1", 2: "PL-1^EHR", 3: "FI-1^LAB", 4: "2345-7^Glucose^LN", 7: "20240101", 22: "20240101",
                      25: "F"})
    obx = "OBX|1|NM|2345-7^Glucose^LN||95|mg/dL^mg/dL^UCUM|||||F"
    ft1 = seg("FT1", {1: "1", 2: "T-1", 4: "20240101", 6: "CG", 7: "82947^Glucose^C4"})
    bundle = hl7v2_to_fhir(msg("DFT^P03", "EVN|P03|20240102", PID, PV1, orc, obr, obx, ft1), strict=True)
    report = of_type(bundle, "DiagnosticReport")[0]
    observation = of_type(bundle, "Observation")[0]
    assert report["result"] == [{"reference": url_of(bundle, observation)}] and report["status"] == "final"
    entry = next(e for e in bundle["entry"] if e["resource"] is report)
    assert entry["request"]["method"] == "POST" and entry["request"]["ifNoneExist"].endswith("|FI-1")


def test_ft1_with_participations_then_pr1_charges_the_procedure_once() -> None:
    ft1 = seg("FT1", {1: "1", 2: "T-2", 4: "20240101", 6: "CG", 7: "71045^Xray^C4", 25: "71045^Xray^C4"})
    prt = seg("PRT", {2: "AD", 4: "AD"})
    pr1 = seg("PR1", {1: "1", 3: "71045^Xray^C4", 5: "20240101"})
    bundle = hl7v2_to_fhir(msg("DFT^P03", "EVN|P03|20240102", PID, PV1, ft1, prt, pr1), strict=True)
    procedures = of_type(bundle, "Procedure")
    assert len(procedures) == 1
    assert of_type(bundle, "ChargeItem")[0]["service"] == [{"reference": url_of(bundle, procedures[0])}]


def test_appointment_named_only_by_its_order_is_still_mapped() -> None:
    sch = seg("SCH", {26: "ORD-9^APP", 27: "ORD-9F^APP", 25: "Booked"})
    bundle = hl7v2_to_fhir(msg("SIU^S12", sch, PID, PV1), strict=True)
    appt = of_type(bundle, "Appointment")[0]
    assert "identifier" not in appt
    assert appt["basedOn"] == [{"reference": url_of(bundle, of_type(bundle, "ServiceRequest")[0])}]


def test_appointment_with_no_id_at_all_is_refused_with_a_location() -> None:
    with pytest.raises(ParseError) as caught:
        hl7v2_to_fhir(msg("SIU^S12", seg("SCH", {25: "Booked"}), PID, PV1))
    assert caught.value.location == "SCH-1"
