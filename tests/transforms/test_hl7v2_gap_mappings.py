"""Segments and fields mapped to close gaps against Microsoft's expected output, each per the IG spreadsheets."""

from __future__ import annotations

from functools import partial

from hl7bridge.transforms.hl7v2_to_fhir import hl7v2_to_fhir
from hl7v2_builders import msg as _msg, of_type

msg = partial(_msg, facility="HOSP")

PID = "PID|1||12345^^^HOSP&1.2.3&ISO^MR||Doe^Jane||19800101|F"


def test_pid21_mother_identifier_becomes_a_mother_related_person() -> None:
    bundle = hl7v2_to_fhir(msg("ADT^A01", PID + "|||||||||||||M-777^^^HOSP&1.2.3&ISO^MR"), strict=True)
    mother = next(r for r in of_type(bundle, "RelatedPerson") if r["relationship"][0]["coding"][0]["code"] == "MTH")
    assert mother["identifier"][0]["value"] == "M-777"
    assert mother["patient"]["reference"] == next(e["fullUrl"] for e in bundle["entry"]
                                                  if e["resource"]["resourceType"] == "Patient")


def test_no_pid21_no_mother() -> None:
    assert of_type(hl7v2_to_fhir(msg("ADT^A01", PID)), "RelatedPerson") == []


def test_pv1_19_is_typed_visit_number_and_pv1_16_pv2_38_are_kept() -> None:
    fields = [""] * 20
    fields[1], fields[2], fields[16], fields[19] = "1", "I", "VIP^Very important", "V-9^^^HOSP^AN"
    pv1 = "PV1" + "|".join(fields)
    pv2 = "PV2" + "|" * 38 + "C"
    bundle = hl7v2_to_fhir(msg("ADT^A01", PID, pv1, pv2), strict=True)
    enc = of_type(bundle, "Encounter")[0]
    assert enc["identifier"][0]["type"]["coding"][0]["code"] == "VN"
    assert enc["hospitalization"]["specialCourtesy"][0]["coding"][0]["code"] == "VIP"
    arrival = next(e for e in enc["extension"] if e["url"].endswith("encounter-modeOfArrival"))
    assert arrival["valueCoding"] == {"system": "http://terminology.hl7.org/CodeSystem/v2-0430", "code": "C",
                                      "display": "Car"}


def test_pd1_14_congregation_and_pd1_6_disability() -> None:
    fields = [""] * 15
    fields[6], fields[14] = "BLIND^Blind", "Grace Chapel"
    pd1 = "PD1" + "|".join(fields)
    patient = of_type(hl7v2_to_fhir(msg("ADT^A01", PID, pd1), strict=True), "Patient")[0]
    by_url = {e["url"].rsplit("/", 1)[1]: e for e in patient["extension"]}
    assert by_url["patient-congregation"]["valueString"] == "Grace Chapel"
    assert by_url["patient-disability"]["valueCodeableConcept"]["coding"][0]["code"] == "BLIND"


def test_spm_type_through_the_specimen_type_map_and_spm20_availability() -> None:
    fields = [""] * 21
    fields[1], fields[2], fields[4], fields[20] = "1", "S-1", "BLD^Blood", "Y"
    spm = "SPM" + "|".join(fields)
    obr = "OBR|1|P1|F1|24317-0^Hemogram^LN"
    bundle = hl7v2_to_fhir(msg("ORU^R01", PID, obr, spm), strict=True)
    specimen = of_type(bundle, "Specimen")[0]
    assert specimen["type"]["coding"][0]["system"] == "http://terminology.hl7.org/CodeSystem/v2-0487"
    assert specimen["status"] == "available"


def test_prt_becomes_a_practitioner_role_on_what_it_follows() -> None:
    obr = "OBR|1|P1|F1|24317-0^Hemogram^LN"
    obx = "OBX|1|NM|718-7^Hemoglobin^LN||13.2|g/dL|||||F"
    prt = "PRT||AD||RO^Responsible Observer^HL70912|77^House^Greg|||Good Lab^L^4544"
    bundle = hl7v2_to_fhir(msg("ORU^R01", PID, obr, obx, prt), strict=True)
    role = of_type(bundle, "PractitionerRole")[0]
    assert role["code"][0]["coding"][0] == {"system": "http://terminology.hl7.org/CodeSystem/v2-0912", "code": "RO",
                                            "display": "Responsible Observer"}
    assert "practitioner" in role and "organization" in role
    ref = next(e["fullUrl"] for e in bundle["entry"] if e["resource"] is role)
    assert {"reference": ref} in of_type(bundle, "Observation")[0]["performer"]


def test_prt_for_a_device_only_adds_no_practitioner_role() -> None:
    prt = "PRT||AD||EQUIP^Equipment^HL70912||||||Device-1"
    assert of_type(hl7v2_to_fhir(msg("ADT^A01", PID, prt)), "PractitionerRole") == []


def test_pr1_23_location_and_pr1_4_text_and_pv1_37_discharge_location_type() -> None:
    fields = [""] * 24
    fields[1], fields[3], fields[4], fields[23] = "1", "76164006^Biopsy of colon^SCT", "Colon biopsy", "OT^201"
    pr1 = "PR1" + "|".join(fields)
    pv1 = "PV1|1|I" + "|" * 35 + "22&Homes&FDK"
    bundle = hl7v2_to_fhir(msg("ADT^A01", PID, pv1, pr1), strict=True)
    proc = of_type(bundle, "Procedure")[0]
    assert proc["code"]["text"] == "Colon biopsy" and "location" in proc
    enc = of_type(bundle, "Encounter")[0]
    dest = next(e["resource"] for e in bundle["entry"] if e["fullUrl"] == enc["hospitalization"]["destination"]["reference"])
    assert dest["name"] == "Homes" and dest["type"][0]["coding"][0]["code"] == "22"


def test_tq1_gives_quantity_and_occurrence_timing_per_the_ig() -> None:
    tq1 = "TQ1|1|54^&lbs||11:30:05~11:45||30^s|202110091600-0800|202111091600-0800|A||Take with food||2^hr|5"
    bundle = hl7v2_to_fhir(msg("ORM^O01", PID, "ORC|NW|P9^EHR", "OBR|1|P9^EHR||2345-7^Glucose^LN", tq1), strict=True)
    request = of_type(bundle, "ServiceRequest")[0]
    assert request["quantityQuantity"] == {"value": 54, "unit": "lbs"}
    assert request["occurrenceTiming"]["repeat"] == {
        "boundsPeriod": {"start": "2021-10-09T16:00:00-08:00", "end": "2021-11-09T16:00:00-08:00"},
        "timeOfDay": ["11:30:05", "11:45:00"], "duration": 2, "durationUnit": "h", "countMax": 5}
    assert request["note"] == [{"text": "Take with food"}] and request["priority"] == "asap"


def test_aip_ail_participants_take_their_start_and_filler_status() -> None:
    sch = "SCH|A1|A2||||||||||||||||||||||||Booked"
    aip = "AIP|1||1210^GE^Robert|010^Gastroenterologist^L||20210924093000+0215||||||Booked"
    ail = "AIL|1||055^Room01^^GH Clinic|||20210924093000+0215"
    bundle = hl7v2_to_fhir(msg("SIU^S12", sch, PID, aip, ail), strict=True)
    people = of_type(bundle, "Appointment")[0]["participant"]
    assert people[1]["status"] == "accepted" and people[1]["period"] == {"start": "2021-09-24T09:30:00+02:15"}
    assert people[2]["status"] == "tentative"  # AIL-12 empty: not confirmed yet


def test_tq1_between_orc_and_obr_waits_for_the_order() -> None:
    bundle = hl7v2_to_fhir(msg("OML^O21", PID, "ORC|NW|P9^EHR", "TQ1|1||||||20240105080000-0500||S",
                               "OBR|1|P9^EHR||2345-7^Glucose^LN"), strict=True)
    request = of_type(bundle, "ServiceRequest")[0]
    assert request["priority"] == "stat"
    assert request["occurrenceTiming"]["repeat"]["boundsPeriod"] == {"start": "2024-01-05T08:00:00-05:00"}


def test_tq1_of_a_pharmacy_order_times_its_dosage() -> None:
    rxe = "RXE|^^^20240105|00143-9634-01^Ampicillin^NDC|1||cap"
    tq1 = "TQ1|1|2^&cap|||||20240105080000-0500|20240110080000-0500"
    bundle = hl7v2_to_fhir(msg("RDE^O11", PID, "ORC|NW|P7^EHR", rxe, tq1), strict=True)
    dosage = of_type(bundle, "MedicationRequest")[0]["dosageInstruction"][0]
    assert dosage["timing"]["repeat"]["boundsPeriod"]["end"] == "2024-01-10T08:00:00-05:00"


def test_each_ais_is_a_service_request_the_appointment_is_based_on() -> None:
    ais1 = "AIS|1||58410-2^CBC Panel^LN|20210924093000+0215"
    ais2 = "AIS|2||42272-5^XR Chest^LN"
    bundle = hl7v2_to_fhir(msg("SIU^S12", "SCH|A1|A2", PID, ais1, ais2), strict=True)
    orders = of_type(bundle, "ServiceRequest")
    assert [o["code"]["coding"][0]["code"] for o in orders] == ["58410-2", "42272-5"]
    assert orders[0]["identifier"] == [{"value": "58410-2", "system": "http://loinc.org"}]
    assert orders[0]["occurrencePeriod"] == {"start": "2021-09-24T09:30:00+02:15"}
    assert len(of_type(bundle, "Appointment")[0]["basedOn"]) == 2


def test_rxa_27_28_administered_at_location_with_address() -> None:
    fields = [""] * 29
    fields[1], fields[2], fields[3], fields[5] = "0", "1", "20210818", "08^HepB^CVX"
    fields[27], fields[28] = "Clinic 1^^^Good Health", "1 Main St^^Ann Arbor^MI^99999"
    bundle = hl7v2_to_fhir(msg("VXU^V04", PID, "RXA" + "|".join(fields)), strict=True)
    shot = of_type(bundle, "Immunization")[0]
    place = next(e["resource"] for e in bundle["entry"] if e["fullUrl"] == shot["location"]["reference"])
    assert place["name"] == "Clinic 1" and place["address"]["city"] == "Ann Arbor"


def test_dg1_is_listed_on_the_episode_of_care_of_pv1_54() -> None:
    fields = [""] * 55
    fields[1], fields[2], fields[54] = "1", "I", "EP-1^^^HOSP"
    dg1 = "DG1|1||I10^Hypertension^I10C||||||||||||1"
    bundle = hl7v2_to_fhir(msg("ADT^A01", PID, "PV1" + "|".join(fields), dg1), strict=True)
    episode = of_type(bundle, "EpisodeOfCare")[0]
    condition = next(e["fullUrl"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Condition")
    assert episode["diagnosis"] == [{"condition": {"reference": condition}, "rank": 1}]


def test_ft1_posting_date_and_patient_account_on_the_charge() -> None:
    pid = PID + "||||||||||ACC-1^^^HOSP"
    ft1 = "FT1|1|T1||20191122|20191123|CG|71045^Xray chest^C4|||2"
    charge = of_type(hl7v2_to_fhir(msg("DFT^P03", pid, ft1), strict=True), "ChargeItem")[0]
    assert charge["enteredDate"] == "2019-11-23" and charge["account"][0]["reference"].startswith("urn:uuid:")


def test_a41_account_merge_names_the_prior_account_from_mrg3() -> None:
    pid = PID + "||||||||||ACC-NEW^^^HOSP"
    bundle = hl7v2_to_fhir(msg("ADT^A41", pid, "MRG|||ACC-OLD^^^HOSP"), strict=True)
    accounts = {a["identifier"][0]["value"]: a for a in of_type(bundle, "Account")}
    assert accounts["ACC-OLD"]["status"] == "unknown"
    link = of_type(bundle, "Linkage")[0]
    assert [i["resource"]["identifier"]["value"] for i in link["item"]] == ["ACC-NEW", "ACC-OLD"]


def test_nk1_20_language_is_a_bcp47_tag_like_pid15() -> None:
    fields = [""] * 21
    fields[1], fields[2], fields[20] = "1", "Doe^John", "ara^Arabic^HL70296"
    person = of_type(hl7v2_to_fhir(msg("ADT^A01", PID, "NK1" + "|".join(fields)), strict=True), "RelatedPerson")[0]
    assert person["communication"][0]["language"]["coding"][0] == {"system": "urn:ietf:bcp:47", "code": "ar",
                                                                  "display": "Arabic"}


def test_xon_7_types_the_organization_identifier() -> None:
    pd1 = "PD1|||Good Health^L^^^^CMS^XX^^^1234567890~Other Clinic^L^^^^^XX"
    orgs = {o["name"]: o for o in of_type(hl7v2_to_fhir(msg("ADT^A01", PID, pd1), strict=True), "Organization")}
    assert orgs["Good Health"]["identifier"][0]["type"]["coding"][0]["code"] == "XX"
    assert orgs["Good Health"]["identifier"][0]["value"] == "1234567890"
    assert orgs["Other Clinic"]["identifier"] == [
        {"type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "XX"}]}}]


def test_nk1_13_organization_is_the_patient_contacts_with_nk1_30_as_its_contact() -> None:
    fields = [""] * 33
    fields[1], fields[3], fields[13] = "1", "EMC^Emergency contact^HL70063", "Acme Corp"
    fields[30], fields[31] = "Green^John", "555-1234"
    bundle = hl7v2_to_fhir(msg("ADT^A01", PID, "NK1" + "|".join(fields)), strict=True)
    contact = of_type(bundle, "Patient")[0]["contact"][0]
    org = next(e["resource"] for e in bundle["entry"] if e["fullUrl"] == contact["organization"]["reference"])
    assert org["name"] == "Acme Corp" and org["contact"][0]["name"]["family"] == "Green"


def test_pv1_16_vip_is_also_the_patients_importance() -> None:
    fields = [""] * 17
    fields[1], fields[2], fields[16] = "1", "I", "VIP^Very important"
    patient = of_type(hl7v2_to_fhir(msg("ADT^A01", PID, "PV1" + "|".join(fields)), strict=True), "Patient")[0]
    importance = next(e for e in patient["extension"] if e["url"].endswith("patient-importance"))
    assert importance["valueCodeableConcept"]["coding"][0]["code"] == "VIP"


def test_pid_citizenship_nationality_and_animal_extensions() -> None:
    fields = [""] * 40
    fields[3], fields[5], fields[26], fields[28] = "12345^^^HOSP^MR", "Doe^Rex", "US^USA^ISO3166_1", "CA^Canada^ISO3166_1"
    fields[35], fields[36] = "125097000^Goat^SCT", "4880003^Beagle^SCT"
    patient = of_type(hl7v2_to_fhir(msg("ADT^A01", "PID" + "|".join(fields)), strict=True), "Patient")[0]
    by_url = {e["url"].rsplit("/", 1)[1]: e for e in patient["extension"]}
    assert by_url["patient-citizenship"]["extension"][0]["valueCodeableConcept"]["coding"][0]["code"] == "US"
    assert by_url["patient-nationality"]["extension"][0]["valueCodeableConcept"]["coding"][0]["code"] == "CA"
    assert [p["url"] for p in by_url["patient-animal"]["extension"]] == ["species", "breed"]


def test_orc4_requisition_orc29_location_obr11_reflex_and_obr46_details() -> None:
    orc = "ORC|NW|P9^EHR||G7^EHR" + "|" * 25 + "O^Outpatient^HL70482"
    obr = "OBR|1|P9^EHR||2345-7^Glucose^LN|||||||G" + "|" * 35 + "X1^Extra^L"
    request = of_type(hl7v2_to_fhir(msg("ORM^O01", PID, orc, obr), strict=True), "ServiceRequest")[0]
    assert request["requisition"]["value"] == "G7" and request["requisition"]["type"]["coding"][0]["code"] == "PGN"
    assert request["locationCode"][0]["coding"][0]["code"] == "O"
    assert request["intent"] == "reflex-order" and request["orderDetail"][0]["coding"][0]["code"] == "X1"


def test_order_control_the_ig_leaves_unmapped_gives_unknown_status() -> None:
    bundle = hl7v2_to_fhir(msg("ORM^O01", PID, "ORC|SC|P9^EHR", "OBR|1|P9^EHR||2345-7^Glucose^LN"), strict=True)
    assert of_type(bundle, "ServiceRequest")[0]["status"] == "unknown"
    bundle = hl7v2_to_fhir(msg("ORM^O01", PID, "ORC|NW|P9^EHR", "OBR|1|P9^EHR||2345-7^Glucose^LN"), strict=True)
    assert of_type(bundle, "ServiceRequest")[0]["status"] == "active"


def test_in1_10_identifies_the_policy_holder_organization_of_in1_11() -> None:
    fields = [""] * 18
    fields[1], fields[2], fields[3], fields[4] = "1", "BAV^Blue Advantage", "IC-1^^^BCBS", "Blue Cross"
    fields[10], fields[11], fields[17] = "EMP-7^^^HOSP^EN", "Acme Corp", "SEL"
    bundle = hl7v2_to_fhir(msg("ADT^A01", PID, "IN1" + "|".join(fields)), strict=True)
    coverage = of_type(bundle, "Coverage")[0]
    holder = next(e["resource"] for e in bundle["entry"] if e["fullUrl"] == coverage["policyHolder"]["reference"])
    assert holder["name"] == "Acme Corp" and "EMP-7" in [i["value"] for i in holder["identifier"]]


def test_ft1_department_facilities_and_enterer_on_the_charge() -> None:
    fields = [""] * 34
    fields[1], fields[4], fields[6], fields[7] = "1", "20191122", "CG", "71045^Xray chest^C4"
    fields[13], fields[24] = "RAD-1^Radiology^L", "77^Entered^Ed"
    fields[32], fields[33] = "Lab Inc", "GOOD HEALTH HOSPITAL"
    bundle = hl7v2_to_fhir(msg("DFT^P03", PID, "FT1" + "|".join(fields)), strict=True)
    charge = of_type(bundle, "ChargeItem")[0]
    named = {e["fullUrl"]: e["resource"] for e in bundle["entry"]}
    assert named[charge["costCenter"]["reference"]]["identifier"][0]["value"] == "RAD-1"
    assert named[charge["performingOrganization"]["reference"]]["name"] == "Lab Inc"
    assert named[charge["requestingOrganization"]["reference"]]["name"] == "GOOD HEALTH HOSPITAL"
    assert named[charge["enterer"]["reference"]]["resourceType"] == "Practitioner"


def test_pr1_after_ft1_is_the_service_charged_for() -> None:
    ft1 = "FT1|1|T1||20191122||CG|71045^Xray chest^C4"
    pr1 = "PR1|1||76164006^Biopsy of colon^SCT||20191122"
    bundle = hl7v2_to_fhir(msg("DFT^P03", PID, ft1, pr1), strict=True)
    procedure = next(e["fullUrl"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Procedure")
    assert of_type(bundle, "ChargeItem")[0]["service"] == [{"reference": procedure}]
