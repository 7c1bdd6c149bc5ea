"""hl7v2_to_fhir per message type and segment: resources, idempotent requests, errors."""

from __future__ import annotations

from functools import partial

from pathlib import Path

import pytest

from hl7bridge.engine.errors import ParseError
from hl7bridge.transforms.hl7v2_to_fhir import hl7v2_to_fhir
from hl7v2_builders import entry_of, msg as _msg, of_type

msg = partial(_msg, facility="HOSP")

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "hl7v2"
PID = "PID|1||12345^^^HOSP&1.2.3&ISO^MR||Doe^Jane||19800101|F"


def test_adt_fixture_builds_a_valid_transaction_bundle() -> None:
    bundle = hl7v2_to_fhir((FIXTURES / "adt_a01.hl7").read_bytes(), strict=True)
    assert bundle["type"] == "transaction"
    kinds = {e["resource"]["resourceType"] for e in bundle["entry"]}
    assert {"Patient", "Encounter", "Practitioner", "RelatedPerson", "Observation", "AllergyIntolerance",
            "Condition", "Procedure", "Coverage"} <= kinds


def test_same_message_gives_same_bundle() -> None:
    data = (FIXTURES / "adt_a01.hl7").read_bytes()
    assert hl7v2_to_fhir(data) == hl7v2_to_fhir(data)


def test_replay_with_new_control_id_upserts_the_same_resources() -> None:
    text = (FIXTURES / "adt_a01.hl7").read_text()
    first = hl7v2_to_fhir(text)
    second = hl7v2_to_fhir(text.replace("MSG0001", "MSG0099"))
    assert [e["request"] for e in first["entry"]] == [e["request"] for e in second["entry"]]
    assert first["entry"][0]["fullUrl"] != second["entry"][0]["fullUrl"]


def test_patient_is_a_conditional_update_on_its_mrn() -> None:
    bundle = hl7v2_to_fhir((FIXTURES / "adt_a01.hl7").read_bytes())
    patient = of_type(bundle, "Patient")[0]
    assert entry_of(bundle, patient)["request"] == {
        "method": "PUT", "url": "Patient?identifier=urn:oid:2.16.840.1.113883.19.1|12345"}
    assert "id" not in patient


def test_referenced_practitioner_is_created_only_if_missing_and_once() -> None:
    bundle = hl7v2_to_fhir((FIXTURES / "adt_a01.hl7").read_bytes())
    doctors = of_type(bundle, "Practitioner")
    assert len(doctors) == 1  # PD1-4, PV1-7 and PV1-17 name the same doctor
    request = entry_of(bundle, doctors[0])["request"]
    assert request["method"] == "POST" and request["ifNoneExist"].startswith("identifier=")


def test_patient_demographics_and_us_core_extensions() -> None:
    patient = of_type(hl7v2_to_fhir((FIXTURES / "adt_a01.hl7").read_bytes()), "Patient")[0]
    assert patient["meta"]["profile"] == ["http://hl7.org/fhir/us/core/StructureDefinition/us-core-patient"]
    assert patient["gender"] == "female" and patient["birthDate"] == "1980-01-01"
    assert patient["_birthDate"]["extension"][0]["valueDateTime"] == "1980-01-01T08:30:00-05:00"
    urls = {e["url"].rsplit("/", 1)[-1]: e for e in patient["extension"]}
    race = urls["us-core-race"]["extension"]
    assert [x["valueCoding"]["code"] for x in race if x["url"] == "ombCategory"] == ["2106-3", "2028-9"]
    assert urls["us-core-ethnicity"]["extension"][0]["valueCoding"]["code"] == "2186-5"
    assert patient["communication"][0]["language"]["coding"][0]["system"] == "urn:ietf:bcp:47"
    assert patient["multipleBirthInteger"] == 2


def test_missing_gender_becomes_unknown_for_us_core() -> None:
    bundle = hl7v2_to_fhir(msg("ADT^A28", "PID|1||7^^^H^MR||Roe^Rob"))
    assert of_type(bundle, "Patient")[0]["gender"] == "unknown"


def test_encounter_from_pv1_and_pv2() -> None:
    enc = of_type(hl7v2_to_fhir((FIXTURES / "adt_a01.hl7").read_bytes()), "Encounter")[0]
    assert enc["status"] == "in-progress"
    assert enc["class"]["code"] == "IMP"
    assert enc["identifier"][0]["value"] == "V0001"
    assert enc["period"]["start"] == "2024-01-02T03:00:00-05:00"
    assert enc["reasonCode"][0]["coding"][0]["code"] == "CP"
    assert [p["type"][0]["coding"][0]["code"] for p in enc["participant"]] == ["ATND", "ADM"]
    assert enc["diagnosis"][0]["use"]["coding"][0]["code"] == "AD"


@pytest.mark.parametrize(("event", "status"), [("A03", "finished"), ("A11", "cancelled"), ("A04", "planned"),
                                               ("A13", "in-progress"), ("A02", "in-progress")])
def test_encounter_status_follows_the_event(event: str, status: str) -> None:
    bundle = hl7v2_to_fhir(msg(f"ADT^{event}", PID, "PV1|1|I|||||||||||||||||V9^^^HOSP^VN"))
    assert of_type(bundle, "Encounter")[0]["status"] == status


def test_a40_merge_links_and_retires_the_old_patient() -> None:
    bundle = hl7v2_to_fhir(msg("ADT^A40", PID, "MRG|999^^^HOSP&1.2.3&ISO^MR"), strict=True)
    survivor, old = of_type(bundle, "Patient")
    assert old["active"] is False and old["identifier"][0]["value"] == "999"
    assert old["link"][0]["type"] == "replaced-by" and survivor["link"][0]["type"] == "replaces"
    assert entry_of(bundle, old)["request"]["url"] == "Patient?identifier=urn:oid:1.2.3|999"
    linkage = of_type(bundle, "Linkage")[0]
    assert [(i["type"], i["resource"]["identifier"]["value"]) for i in linkage["item"]] == [
        ("source", "12345"), ("historical", "999")]


def test_oru_lab_report_with_twenty_results() -> None:
    bundle = hl7v2_to_fhir((FIXTURES / "oru_r01_20obx.hl7").read_bytes(), strict=True)
    report = of_type(bundle, "DiagnosticReport")[0]
    observations = of_type(bundle, "Observation")
    assert len(observations) == 20 and len(report["result"]) == 20
    assert report["status"] == "final" and report["category"][0]["coding"][0]["code"] == "LAB"
    assert report["issued"] == "2024-01-02T09:20:00-05:00"
    first = observations[0]
    assert first["valueQuantity"] == {"value": 1.5, "unit": "milligram per deciliter",
                                      "system": "http://unitsofmeasure.org", "code": "mg/dL"}
    assert first["referenceRange"][0]["low"] == {"value": 1.0}
    assert observations[4]["interpretation"][0]["coding"][0]["code"] == "H"
    assert first["category"][0]["coding"][0]["code"] == "laboratory"
    assert first["specimen"] == report["specimen"][0]
    request = of_type(bundle, "ServiceRequest")[0]
    assert request["note"] == [{"text": "Fasting specimen"}]
    assert entry_of(bundle, report)["request"]["url"] == "DiagnosticReport?identifier=urn:hl7bridge:id:LIS|FIL1"


def test_oru_text_report_and_embedded_pdf() -> None:
    bundle = hl7v2_to_fhir(msg("ORU^R01", PID, "OBR|1||F2|18748-4^Diagnostic imaging study^LN|||20240101|||||||||||||||||RAD|F",
                               "OBX|1|TX|18782-3^Study observation^LN||Line one~Line two||||||F",
                               "OBX|2|ED|PDF^Report^L||^application^pdf^Base64^SGVsbG8=||||||F"), strict=True)
    report = of_type(bundle, "DiagnosticReport")[0]
    assert report["meta"]["profile"][0].endswith("us-core-diagnosticreport-note")
    assert report["category"][0]["coding"][0]["code"] == "LP29684-5"
    assert report["presentedForm"] == [{"contentType": "application/pdf", "data": "SGVsbG8="}]
    assert of_type(bundle, "Observation")[0]["valueString"] == "Line one\nLine two"


def test_vxu_immunization_with_route_and_eligibility() -> None:
    bundle = hl7v2_to_fhir(msg("VXU^V04", PID, "ORC|RE||IZ-1^EHR",
                               "RXA|0|1|20240101||08^HepB^CVX|0.5|mL^mL^UCUM||00||||||LOT1|20250101|MSD^Merck^MVX|||CP|A",
                               "RXR|C28161^Intramuscular^NCIT|LA^Left arm^HL70163",
                               "OBX|1|CE|64994-7^Eligibility^LN|1|V02^VFC eligible^HL70064||||||F"), strict=True)
    imm = of_type(bundle, "Immunization")[0]
    assert imm["status"] == "completed" and imm["vaccineCode"]["coding"][0]["system"] == "http://hl7.org/fhir/sid/cvx"
    assert imm["occurrenceDateTime"] == "2024-01-01" and imm["primarySource"] is True
    assert imm["lotNumber"] == "LOT1" and imm["doseQuantity"]["value"] == 0.5
    assert imm["route"]["coding"][0]["code"] == "C28161" and imm["site"]["coding"][0]["code"] == "LA"
    assert imm["programEligibility"][0]["coding"][0]["code"] == "V02"
    assert not of_type(bundle, "Observation")


def test_rde_medication_request() -> None:
    bundle = hl7v2_to_fhir(msg("RDE^O11", PID, "ORC|NW|P1^EHR||||||||20240101",
                               "RXE|^^^20240101|197361^Amlodipine 5 MG^RXNORM|5||mg^mg^UCUM|||||30||2",
                               "RXR|PO^Oral^HL70162"), strict=True)
    request = of_type(bundle, "MedicationRequest")[0]
    assert request["status"] == "active" and request["intent"] == "order"
    assert request["dosageInstruction"][0]["doseAndRate"][0]["doseQuantity"]["value"] == 5
    assert request["dosageInstruction"][0]["route"]["coding"][0]["code"] == "PO"
    assert request["dispenseRequest"] == {"quantity": {"value": 30}, "numberOfRepeatsAllowed": 2}


def test_oml_order_with_specimen_and_timing() -> None:
    bundle = hl7v2_to_fhir(msg("OML^O21", PID, "ORC|NW|P9^EHR", "OBR|1|P9^EHR||2345-7^Glucose^LN",
                               "TQ1|1||||||20240105080000-0500||S",
                               "SPM|1|S9&EHR||SER^Serum^HL70487"), strict=True)
    request = of_type(bundle, "ServiceRequest")[0]
    assert request["status"] == "active" and request["priority"] == "stat"
    # IG TQ1[ServiceRequest]: TQ1-7/8 bound the occurrence timing
    assert request["occurrenceTiming"] == {"repeat": {"boundsPeriod": {"start": "2024-01-05T08:00:00-05:00"}}}
    assert request["specimen"][0]["reference"].startswith("urn:uuid:")
    assert of_type(bundle, "Specimen")[0]["type"]["coding"][0]["code"] == "SER"


@pytest.mark.parametrize(("event", "status"), [("S12", "booked"), ("S15", "cancelled")])
def test_siu_appointment_with_participants(event: str, status: str) -> None:
    bundle = hl7v2_to_fhir(msg(f"SIU^{event}", "SCH|A1^EHR||||||FU^Follow up^L|CHK^Checkup^L|30|MIN|^^^20240110090000-0500^20240110093000-0500",
                               PID, "AIS|1||99213^Visit^C4", "AIP|1||123^Welby^Marcus|ATT^Attending^L",
                               "AIL|1||CLINIC^^^HOSP"), strict=True)
    appt = of_type(bundle, "Appointment")[0]
    assert appt["status"] == status and appt["start"] == "2024-01-10T09:00:00-05:00"
    assert appt["minutesDuration"] == 30 and len(appt["participant"]) == 3


def test_mdm_document_with_text_content() -> None:
    bundle = hl7v2_to_fhir(msg("MDM^T02", PID, "TXA|1|CN^Consult note|TX|20240101120000-0500||||||||DOC1^EHR|||||AU",
                               "OBX|1|TX|CN^Note^L||First line~Second line||||||F"), strict=True)
    doc = of_type(bundle, "DocumentReference")[0]
    assert doc["docStatus"] == "final" and doc["masterIdentifier"]["value"] == "DOC1"
    assert {c["code"] for c in doc["type"]["coding"]} == {"CN", "UNK"}
    assert doc["content"][0]["attachment"] == {"contentType": "text/plain", "data": "Rmlyc3QgbGluZQpTZWNvbmQgbGluZQ=="}


def test_dft_charge_item() -> None:
    bundle = hl7v2_to_fhir(msg("DFT^P03", PID, "FT1|1|T1||20240101||CG|99213^Visit^C4|||2|150.00&USD"), strict=True)
    charge = of_type(bundle, "ChargeItem")[0]
    assert charge["quantity"] == {"value": 2} and charge["priceOverride"] == {"value": 150.0, "currency": "USD"}


def test_timestamps_without_offset_take_the_msh7_offset() -> None:
    bundle = hl7v2_to_fhir(msg("ADT^A01", PID, "PV1|1|I|||||||||||||||||V1^^^HOSP^VN|||||||||||||||||||||||||202401020800"))
    assert of_type(bundle, "Encounter")[0]["period"]["start"] == "2024-01-02T08:00:00-05:00"


def test_errors_name_segment_occurrence_and_field_without_values() -> None:
    text = msg("ORU^R01", PID, "OBR|1||F1|1-1^X^LN", "OBX|1|NM|2-2^A^LN||1", "OBX|2|NM|3-3^B^LN||SECRET-VALUE")
    with pytest.raises(ParseError) as info:
        hl7v2_to_fhir(text)
    assert info.value.location == "OBX[2]-5" and info.value.hl7_code == 102
    assert "SECRET" not in str(info.value)


def test_order_without_patient_fails_with_a_specific_error() -> None:
    with pytest.raises(ParseError) as info:
        hl7v2_to_fhir(msg("ORM^O01", "ORC|NW|P1", "RXO|123^Drug^RXNORM"))
    assert info.value.location == "PID" and info.value.hl7_code == 100


def test_message_with_nothing_to_map_is_a_transform_error() -> None:
    from hl7bridge.engine.errors import TransformError
    with pytest.raises(TransformError):
        hl7v2_to_fhir(msg("ACK^A01", "MSA|AA|C0"))


def test_escape_sequences_are_decoded_in_output() -> None:
    bundle = hl7v2_to_fhir(msg("ADT^A28", "PID|1||7^^^H^MR||O\\T\\Brien^Ann\\S\\Marie||19800101|F"))
    name = of_type(bundle, "Patient")[0]["name"][0]
    assert name == {"family": "O&Brien", "given": ["Ann^Marie"]}
