"""Result and document messages (ORU / OUL / MDM): Observation, DiagnosticReport extras, the OBR's own
Specimen and DocumentReference, each per the IG spreadsheets (synthetic messages, no real data)."""

from __future__ import annotations

from hl7bridge.transforms.hl7v2_to_fhir import hl7v2_to_fhir
from hl7v2_builders import V2, msg, of_type, resolve, seg

PID = "PID|1||T-200^^^TESTHOSP&1.2.3&ISO^MR||Testperson^Sam||19750505|M"


def test_patient_and_specimen_observations_with_the_same_code_and_set_id_stay_apart() -> None:
    obx = "OBX|1|NM|8867-4^Heart rate^LN||{}|/min^^UCUM|||||F"
    spm = "SPM|1|SP-1&LAB||BLD^Blood^HL70487"
    bundle = hl7v2_to_fhir(msg("OUL^R22", PID, obx.format(60), spm, obx.format(70)), strict=True)
    values = sorted(o["valueQuantity"]["value"] for o in of_type(bundle, "Observation"))
    assert values == [60, 70]


def test_repeating_value_gives_components_each_with_the_reference_range() -> None:
    obx = "OBX|1|NM|8867-4^Heart rate^LN||60~120|/min^^UCUM|70-80||||F"
    bundle = hl7v2_to_fhir(msg("ORU^R01", PID, "OBR|1|P1^EHR|F1^LAB|1234-5^Panel^LN", obx), strict=True)
    observation = of_type(bundle, "Observation")[0]
    assert "referenceRange" not in observation
    assert [c["valueQuantity"]["value"] for c in observation["component"]] == [60, 120]
    assert all(c["referenceRange"][0]["text"] == "70-80" for c in observation["component"])


def test_obx15_producer_is_a_performer_organization() -> None:
    obx = seg("OBX", {1: "1", 2: "NM", 3: "2345-7^Glucose^LN", 5: "5.5", 11: "F", 15: "LAB-9^Test Lab^CLIA"})
    bundle = hl7v2_to_fhir(msg("ORU^R01", PID, "OBR|1|P1^EHR|F1^LAB|2345-7^Glucose^LN", obx), strict=True)
    observation = of_type(bundle, "Observation")[0]
    producer = resolve(bundle, observation["performer"][-1])
    assert producer["resourceType"] == "Organization" and producer["name"] == "Test Lab"
    assert producer["identifier"][0]["value"] == "LAB-9"


def test_obr_gives_its_own_specimen_that_report_and_results_reference() -> None:
    obr = seg("OBR", {1: "1", 2: "P1^EHR", 3: "F1^LAB", 4: "2345-7^Glucose^LN", 7: "20240101080000-0500",
                      9: "5^mL&mL&UCUM", 10: "C-1^Collector^Casey", 14: "20240101090000-0500",
                      15: "BLD&Blood&HL70487^^^LA&Left arm&HL70163", 39: "^Drawn after breakfast"})
    obx = "OBX|1|NM|2345-7^Glucose^LN||5.5|mmol/L^^UCUM|||||F"
    bundle = hl7v2_to_fhir(msg("ORU^R01", PID, obr, obx), strict=True)
    specimen = of_type(bundle, "Specimen")[0]
    assert specimen["collection"]["collectedDateTime"] == "2024-01-01T08:00:00-05:00"
    assert specimen["collection"]["quantity"] == {"value": 5, "unit": "mL"}
    assert resolve(bundle, specimen["collection"]["collector"])["name"][0]["family"] == "Collector"
    assert specimen["collection"]["bodySite"]["coding"][0]["code"] == "LA"
    assert specimen["type"]["coding"][0] == {"system": V2 + "0487", "code": "BLD", "display": "Blood"}
    assert specimen["receivedTime"] == "2024-01-01T09:00:00-05:00"
    assert specimen["note"] == [{"text": "Drawn after breakfast"}]
    assert specimen["accessionIdentifier"]["value"] == "P1"
    report = of_type(bundle, "DiagnosticReport")[0]
    observation = of_type(bundle, "Observation")[0]
    assert resolve(bundle, report["specimen"][0]) is specimen
    assert resolve(bundle, observation["specimen"]) is specimen


def test_report_technician_transcriptionist_and_placer_group_number() -> None:
    obr = seg("OBR", {1: "1", 2: "P1^EHR", 3: "F1^LAB", 4: "2345-7^Glucose^LN",
                      34: "T-1&Tech&Terry^20240101^20240102", 35: "S-1&Scribe&Sandy"})
    orc = seg("ORC", {1: "RE", 2: "P1^EHR", 4: "G-7&EHR^GF-7&LAB"})
    bundle = hl7v2_to_fhir(msg("ORU^R01", PID, orc, obr), strict=True)
    report = of_type(bundle, "DiagnosticReport")[0]
    functions = [p["extension"][0]["valueCodeableConcept"]["coding"][0]["code"] for p in report["performer"]]
    assert functions == ["SPRF", "TRANS"]
    technician = resolve(bundle, report["performer"][0])
    assert technician["period"] == {"start": "2024-01-01", "end": "2024-01-02"}
    assert resolve(bundle, technician["practitioner"])["name"][0]["family"] == "Tech"
    groups = {i["type"]["coding"][0]["code"]: i["value"] for i in report["identifier"]}
    assert groups["PGN"] == "G-7" and groups["FGN"] == "GF-7"


def test_txa_origination_parent_confidentiality_and_folder() -> None:
    txa = seg("TXA", {1: "1", 2: "DS^Discharge summary^L", 3: "TX", 4: "20240101100000-0500",
                      6: "20240101110000-0500", 12: "DOC-2^EHR", 13: "DOC-1^EHR", 17: "AU", 18: "R",
                      24: "Discharge notes"})
    obx = "OBX|1|TX|DOCTEXT^Text^L||Line one||||||F"
    bundle = hl7v2_to_fhir(msg("MDM^T06", PID, "ORC|SC|P1^EHR", "OBR|1|P1^EHR||18842-5^Summary^LN", txa, obx),
                           strict=True)
    document = of_type(bundle, "DocumentReference")[0]
    assert document["content"][0]["attachment"]["creation"] == "2024-01-01T11:00:00-05:00"
    assert document["relatesTo"][0]["code"] == "appends"
    assert document["relatesTo"][0]["target"]["identifier"]["value"] == "DOC-1"
    assert document["securityLabel"][0]["coding"] == [
        {"system": V2 + "0272", "code": "R", "display": "Restricted"},
        {"system": "http://terminology.hl7.org/CodeSystem/v3-Confidentiality", "code": "R"}]
    assert {"text": "Discharge notes"} in document["category"] or any(
        c.get("coding", [{}])[0].get("code") == "Discharge notes" for c in document["category"])
    related = resolve(bundle, document["context"]["related"][0])
    assert related["resourceType"] == "ServiceRequest"


def test_replacement_document_replaces_its_parent() -> None:
    txa = seg("TXA", {1: "1", 2: "DS", 12: "DOC-3^EHR", 13: "DOC-2^EHR", 17: "AU"})
    bundle = hl7v2_to_fhir(msg("MDM^T10", PID, txa, "OBX|1|TX|DOCTEXT^Text^L||New text||||||F"), strict=True)
    assert of_type(bundle, "DocumentReference")[0]["relatesTo"][0]["code"] == "replaces"


def test_txa_in_a_result_message_leaves_the_results_with_the_report() -> None:
    txa = seg("TXA", {1: "1", 2: "DS", 12: "DOC-4^EHR", 17: "AU"})
    obx = "OBX|1|NM|2345-7^Glucose^LN||5.5|mmol/L^^UCUM|||||F"
    bundle = hl7v2_to_fhir(msg("ORU^R01", PID, "OBR|1|P1^EHR|F1^LAB|2345-7^Glucose^LN", txa, obx), strict=True)
    report = of_type(bundle, "DiagnosticReport")[0]
    observation = of_type(bundle, "Observation")[0]
    assert resolve(bundle, report["result"][0]) is observation
    assert "data" not in of_type(bundle, "DocumentReference")[0]["content"][0]["attachment"]


def test_attachments_go_to_the_report_or_else_to_the_observation_value_attachment_extension() -> None:
    ed = "OBX|1|ED|IMG^Image^L||^IM^JPEG^Base64^VGVzdA==||||||F"
    rp = "OBX|2|RP|SLD^Slide^L||http://example.org/slide/1^^IM^MRXS||||||F"
    bundle = hl7v2_to_fhir(msg("ORU^R01", PID, "OBR|1|P1^EHR|F1^LAB|SCAN^Scan^L", ed, rp), strict=True)
    report = of_type(bundle, "DiagnosticReport")[0]
    assert report["presentedForm"] == [{"contentType": "image/jpeg", "data": "VGVzdA=="},
                                       {"url": "http://example.org/slide/1", "contentType": "image/mrxs"}]
    assert of_type(bundle, "Observation") == []
    bundle = hl7v2_to_fhir(msg("ORU^R01", PID, rp), strict=True)
    observation = of_type(bundle, "Observation")[0]
    assert observation["extension"][-1]["valueAttachment"]["url"] == "http://example.org/slide/1"
    assert "valueString" not in observation
    assert observation["dataAbsentReason"]["coding"][0]["code"] == "unsupported"


def test_oru_specimen_observation_has_the_spm_specimen_as_focus() -> None:
    obr = seg("OBR", {1: "1", 2: "P1^EHR", 3: "F1^LAB", 4: "2345-7^Glucose^LN", 7: "20240101080000-0500"})
    spm = "SPM|1|SP-1&LAB||BLD^Blood^HL70487"
    obx = "OBX|1|NM|8310-5^Specimen temperature^LN||4|Cel^^UCUM|||||F"
    bundle = hl7v2_to_fhir(msg("ORU^R01", PID, obr, spm, obx), strict=True)
    observation = of_type(bundle, "Observation")[0]
    spm_specimen = resolve(bundle, observation["focus"][0])
    assert spm_specimen["identifier"][0]["value"] == "SP-1"
    assert resolve(bundle, observation["specimen"])["collection"]["collectedDateTime"] == "2024-01-01T08:00:00-05:00"


def test_oul_r22_order_inside_a_specimen_group_reports_that_specimen() -> None:
    spm = "SPM|1|SP-9&LAB||BLD^Blood^HL70487"
    obr = "OBR|1|P9^EHR|F9^LAB|2345-7^Glucose^LN"
    obx = "OBX|1|NM|2345-7^Glucose^LN||5.5|mmol/L^^UCUM|||||F"
    bundle = hl7v2_to_fhir(msg("OUL^R22", PID, spm, obr, obx), strict=True)
    report = of_type(bundle, "DiagnosticReport")[0]
    observation = of_type(bundle, "Observation")[0]
    assert resolve(bundle, report["specimen"][0])["identifier"][0]["value"] == "SP-9"
    assert resolve(bundle, observation["specimen"])["identifier"][0]["value"] == "SP-9"


def test_inv_is_a_substance_in_the_specimen_container() -> None:
    spm = "SPM|1|SP-8&LAB||BLD^Blood^HL70487"
    sac = "SAC|||CONT-8"
    inv = seg("INV", {1: "REAG-1^Reagent^L", 2: "OK^OK^HL70383", 3: "RC^Reagent Calibrator^HL70384",
                      4: "BOX-1^Box^L", 7: "50", 8: "25", 11: "mL^milliliter^UCUM", 12: "20300131",
                      16: "LOT-1"})
    bundle = hl7v2_to_fhir(msg("OUL^R22", PID, spm, sac, inv, "OBR|1|P8^EHR|F8^LAB|2345-7^Glucose^LN"), strict=True)
    substance = of_type(bundle, "Substance")[0]
    assert substance["code"]["coding"][0]["code"] == "REAG-1" and substance["status"] == "active"
    assert substance["category"][0]["coding"][0]["code"] == "RC"
    assert substance["identifier"] == [{"value": "LOT-1"}]
    instance = substance["instance"][0]
    assert instance["identifier"]["value"] == "BOX-1" and instance["expiry"] == "2030-01-31"
    assert instance["quantity"] == {"value": 25, "unit": "milliliter", "system": "http://unitsofmeasure.org",
                                    "code": "mL"}
    specimen = of_type(bundle, "Specimen")[0]
    assert resolve(bundle, specimen["container"][0]["additiveReference"]) is substance


def test_con_is_a_consent_of_the_patient() -> None:
    con = seg("CON", {1: "1", 2: "001^Release of information^HL70496", 3: "FORM-1", 5: "Privacy form",
                      11: "A", 13: "20240101120000-0500", 14: "20240101", 15: "20250101", 25: "1"})
    txa = seg("TXA", {1: "1", 2: "CN", 12: "DOC-5^EHR", 17: "AU"})
    bundle = hl7v2_to_fhir(msg("MDM^T02", PID, txa, con, "OBX|1|TX|DOCTEXT^Text^L||Text||||||F"), strict=True)
    consent = of_type(bundle, "Consent")[0]
    patient = of_type(bundle, "Patient")[0]
    assert consent["status"] == "active" and consent["scope"]["coding"][0]["code"] == "patient-privacy"
    assert consent["category"][0]["coding"][0]["code"] == "001"
    assert resolve(bundle, consent["patient"]) is patient and resolve(bundle, consent["performer"][0]) is patient
    assert consent["policyRule"] == {"text": "Privacy form"} and consent["dateTime"] == "2024-01-01T12:00:00-05:00"
    assert consent["provision"]["period"] == {"start": "2024-01-01", "end": "2025-01-01"}


def test_observation_type_nature_of_test_and_is_dr_vr_values() -> None:
    obr = "OBR|1|P1^EHR|F1^LAB|1234-5^Panel^LN"
    first = seg("OBX", {1: "1", 2: "IS", 3: "A-1^Flag^L", 5: "POS", 10: "A", 11: "F", 29: "RSLT"})
    second = seg("OBX", {1: "2", 2: "DR", 3: "A-2^Window^L", 5: "20240101^20240102", 11: "F"})
    third = seg("OBX", {1: "3", 2: "VR", 3: "A-3^Span^L", 5: "10^20", 11: "F"})
    bundle = hl7v2_to_fhir(msg("ORU^R01", PID, obr, first, second, third), strict=True)
    flag, window, span = of_type(bundle, "Observation")
    assert flag["valueCodeableConcept"] == {"coding": [{"code": "POS"}]}
    assert {"system": V2 + "0936", "code": "RSLT"} in [c["coding"][0] for c in flag["category"]]
    nature = next(e for e in flag["extension"] if e["url"].endswith("observation-nature-of-abnormal-test"))
    assert nature["valueCodeableConcept"]["coding"][0] == {"system": V2 + "0080", "code": "A"}
    assert window["valuePeriod"] == {"start": "2024-01-01", "end": "2024-01-02"}
    assert span["valueString"] == "10-20"


def test_mdm_pointer_and_image_values_are_contents_of_their_own() -> None:
    txa = seg("TXA", {1: "1", 2: "CN", 12: "DOC-6^EHR", 17: "AU"})
    rp = "OBX|1|RP|DOC^Document^L||http://example.org/doc/6^^AP^PDF||||||F"
    ed = "OBX|2|ED|IMG^Image^L||^IM^PNG^Base64^VGVzdA==~^IM^PNG^Base64^VGVzdDI=||||||F"
    bundle = hl7v2_to_fhir(msg("MDM^T02", PID, txa, rp, ed), strict=True)
    attachments = [c["attachment"] for c in of_type(bundle, "DocumentReference")[0]["content"]]
    assert attachments == [{"url": "http://example.org/doc/6", "contentType": "application/pdf"},
                           {"contentType": "image/png", "data": "VGVzdA=="},
                           {"contentType": "image/png", "data": "VGVzdDI="}]
