"""fhir_to_hl7v2 segment by segment: PID, PV1, ORC/OBR, OBX, NTE and escaping (synthetic data)."""

from __future__ import annotations

import pytest

from hl7bridge.engine.errors import TransformError
from hl7bridge.transforms.fhir_to_hl7v2 import fhir_to_hl7v2
from hl7bridge.transforms.hl7v2.message import Message

V2 = "http://terminology.hl7.org/CodeSystem/v2-"
LOINC = "http://loinc.org"


def bundle(*resources: dict) -> dict:
    return {"resourceType": "Bundle", "type": "collection",
            "entry": [{"fullUrl": f"urn:uuid:{r['resourceType']}-{i}", "resource": r} for i, r in enumerate(resources)]}


def typed(value: str, system: str, code: str) -> dict:
    return {"system": system, "value": value, "type": {"coding": [{"system": V2 + "0203", "code": code}]}}


PATIENT = {
    "resourceType": "Patient", "id": "p1",
    "identifier": [dict(typed("MRN-7", "urn:oid:1.2.3.4.5", "MR"), period={"start": "2019-01-01"}),
                   typed("H123", "urn:hl7bridge:id:HOSP", "PI"),
                   {"system": "http://hl7.org/fhir/sid/us-ssn", "value": "999-00-1234"},
                   {"system": "urn:hl7bridge:id:drivers-license:MI", "value": "D55"}],
    "name": [{"use": "official", "family": "Testperson", "given": ["Alex", "B", "C"], "prefix": ["Dr"],
              "suffix": ["Jr", "PhD"]},
             {"use": "maiden", "family": "Before"}],
    "gender": "female", "birthDate": "1970-06-01",
    "_birthDate": {"extension": [{"url": "http://hl7.org/fhir/StructureDefinition/patient-birthTime",
                                  "valueDateTime": "1970-06-01T09:12:00+01:00"}]},
    "address": [{"use": "home", "line": ["1 Main St", "Apt 2"], "city": "Springfield", "state": "IL",
                 "postalCode": "62701", "country": "USA", "district": "Sangamon"}],
    "telecom": [{"system": "phone", "value": "+1 (555) 555-0100", "use": "home"},
                {"system": "email", "value": "a@example.test"},
                {"system": "phone", "value": "555-0199", "use": "work"},
                {"system": "phone", "value": "555-0142", "use": "mobile"}],
    "maritalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-MaritalStatus",
                                  "code": "M", "display": "Married"}]},
    "communication": [{"language": {"coding": [{"system": "urn:ietf:bcp:47", "code": "en-US"}]}}],
    "multipleBirthInteger": 2, "deceasedBoolean": False,
    "extension": [{"url": "http://hl7.org/fhir/us/core/StructureDefinition/us-core-race", "extension": [
        {"url": "ombCategory", "valueCoding": {"system": "urn:oid:2.16.840.1.113883.6.238", "code": "2106-3",
                                               "display": "White"}}, {"url": "text", "valueString": "White"}]}],
}
DOCTOR = {"resourceType": "Practitioner", "id": "d1",
          "identifier": [{"system": "http://hl7.org/fhir/sid/us-npi", "value": "1234567893"}],
          "name": [{"family": "Jones", "given": ["Emily", "K"], "prefix": ["Dr"], "suffix": ["III", "MD"]}]}
ROOM = {"resourceType": "Location", "id": "room", "name": "101",
        "physicalType": {"coding": [{"code": "ro"}]}, "partOf": {"reference": "Location/ward"}}
WARD = {"resourceType": "Location", "id": "ward", "name": "4WEST", "physicalType": {"coding": [{"code": "wa"}]}}
ENCOUNTER = {
    "resourceType": "Encounter", "status": "in-progress",
    "identifier": [typed("V100", "urn:oid:1.2.3.9", "VN")],
    "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "IMP"},
    "type": [{"coding": [{"system": V2 + "0007", "code": "E"}]}],
    "subject": {"reference": "Patient/p1"},
    "participant": [{"type": [{"coding": [{"code": "ATND"}]}], "individual": {"reference": "Practitioner/d1"}}],
    "period": {"start": "2024-03-01T08:30:00Z", "end": "2024-03-04"},
    "location": [{"location": {"reference": "Location/room"}, "status": "active"}],
    "reasonCode": [{"text": "Chest pain"}],
}


@pytest.fixture(scope="module")
def adt() -> Message:
    return fhir_to_hl7v2(bundle(PATIENT, ENCOUNTER, DOCTOR, ROOM, WARD), control_id="T1")


def test_pid_3_carries_identifiers_with_assigning_authority_type_and_dates(adt: Message) -> None:
    assert adt.get_raw("PID-3[1]") == "MRN-7^^^&1.2.3.4.5&ISO^MR^^20190101"
    assert adt.get_raw("PID-3[2]") == "H123^^^HOSP^PI"
    assert adt.get_raw("PID-3[3]") == "999-00-1234^^^&2.16.840.1.113883.4.1&ISO^SS"
    assert adt.get_raw("PID-3[4]") is None  # the driver's licence goes to PID-20
    assert adt.get_raw("PID-20") == "D55^MI"


def test_pid_names_birth_sex_race(adt: Message) -> None:
    assert adt.get_raw("PID-5[1]") == "Testperson^Alex^B C^Jr^Dr^^L^^^^^^^PhD"
    assert adt.get_raw("PID-5[2]") == "Before^^^^^^M"
    assert adt.get("PID-7") == "19700601091200+0100"
    assert adt.get("PID-8") == "F"
    assert adt.get_raw("PID-10") == "2106-3^White^CDCREC"


def test_pid_address_phones_language_marital_status_births(adt: Message) -> None:
    assert adt.get_raw("PID-11") == "1 Main St^Apt 2^Springfield^IL^62701^USA^H^^Sangamon"
    assert adt.get_raw("PID-13") == "+1 (555) 555-0100^PRN^PH~^NET^Internet^a@example.test~555-0142^PRS^CP"
    assert adt.get_raw("PID-14") == "555-0199^WPN^PH"
    assert adt.get_raw("PID-15") == "en-US^^ISO639"
    assert adt.get_raw("PID-16") == "M^Married^HL70002"
    assert (adt.get("PID-24"), adt.get("PID-25"), adt.get("PID-30")) == ("Y", "2", "N")


def test_pv1_class_location_doctor_visit_and_dates(adt: Message) -> None:
    assert adt.get("MSH-9.2") == "A01"
    assert adt.get("PV1-2") == "I"
    assert adt.get_raw("PV1-3") == "4WEST^101"
    assert adt.get("PV1-4") == "E"
    assert adt.get_raw("PV1-7") == "1234567893^Jones^Emily^K^III^Dr^MD^^&2.16.840.1.113883.4.6&ISO^^^^NPI"
    assert adt.get_raw("PV1-19") == "V100^^^&1.2.3.9&ISO^VN"
    assert (adt.get("PV1-44"), adt.get("PV1-45")) == ("20240301083000+0000", "20240304")
    assert adt.get("PV2-3.2") == "Chest pain"


def test_phone_parts_go_to_xtn_5_to_8_only_when_they_are_numbers() -> None:
    split = dict(PATIENT, telecom=[{"system": "phone", "value": "+1 (555) 5550100 ext. 12", "use": "home"}])
    assert fhir_to_hl7v2(split).get_raw("PID-13") == "+1 (555) 5550100 ext. 12^PRN^PH^^1^555^5550100^12"
    assert fhir_to_hl7v2(split, version="2.4").get_raw("PID-13") == "(555)5550100X12^PRN^PH^^1^555^5550100^12"


def test_older_versions_leave_out_what_they_do_not_have() -> None:
    message = fhir_to_hl7v2(bundle(PATIENT), version="2.3")
    assert message.get_raw("PID-3[1]") == "MRN-7^^^&1.2.3.4.5&ISO^MR"  # no CX-7 before 2.4
    assert message.get_raw("PID-5[1]") == "Testperson^Alex^B C^Jr^Dr^PhD^L"  # degree, no XPN-14
    assert message.get_raw("PID-10") == "2106-3"  # IS in 2.3
    assert message.get_raw("PID-16") == "M"  # IS in 2.3
    assert message.get_raw("PID-13[1]") == "(555)555-0100^PRN^PH"  # TN in XTN-1 before 2.5
    assert message.get("PID-19") == "999-00-1234"


def test_delimiters_inside_values_are_escaped() -> None:
    tricky = dict(PATIENT, name=[{"family": "A|B^C~D\\E&F", "given": ["line1\nline2"]}])
    message = fhir_to_hl7v2(tricky)
    assert message.get_raw("PID-5.1") == "A\\F\\B\\S\\C\\R\\D\\E\\E\\T\\F"
    assert message.get("PID-5.1") == "A|B^C~D\\E&F"
    assert message.get("PID-5.2") == "line1\nline2"


SR = {"resourceType": "ServiceRequest", "status": "active", "intent": "order", "priority": "stat",
      "identifier": [typed("PL-1", "urn:oid:2.3.4", "PLAC"), typed("FI-9", "urn:oid:8.7.6", "FILL")],
      "requisition": {"system": "urn:oid:2.3.4", "value": "GRP-1"},
      "code": {"coding": [{"system": LOINC, "code": "24323-8", "display": "Metabolic panel"}]},
      "subject": {"reference": "Patient/p1"}, "authoredOn": "2024-03-01T09:00:00-05:00",
      "requester": {"reference": "Practitioner/d1"}, "reasonCode": [{"text": "Routine check"}],
      "note": [{"text": "Fasting | since midnight"}]}


def test_orc_obr_nte_from_a_service_request() -> None:
    message = fhir_to_hl7v2(bundle(PATIENT, DOCTOR, SR))
    assert message.get("ORC-1") == "NW" and message.get("ORC-5") is None
    assert message.get_raw("ORC-2") == "PL-1^^2.3.4^ISO"
    assert message.get_raw("ORC-3") == "FI-9^^8.7.6^ISO"
    assert message.get_raw("ORC-4") == "GRP-1^^2.3.4^ISO"
    assert message.get("ORC-9") == "20240301090000-0500"
    assert message.get("ORC-12.1") == message.get("OBR-16.1") == "1234567893"
    assert message.get_raw("OBR-2") == message.get_raw("ORC-2")
    assert message.get_raw("OBR-4") == "24323-8^Metabolic panel^LN"
    assert message.get("OBR-27.6") == "S"
    assert message.get("OBR-31.2") == "Routine check"
    assert message.get_raw("NTE-3") == "Fasting \\F\\ since midnight"


def test_timing_goes_to_tq1_from_2_5_after_orc_in_oml_and_never_in_orm() -> None:
    timed = dict(SR, occurrencePeriod={"start": "2024-03-02T08:00:00Z", "end": "2024-03-02T09:00:00Z"})
    assert not fhir_to_hl7v2(bundle(PATIENT, timed)).segments("TQ1")  # ORM_O01 has no TQ1
    order = fhir_to_hl7v2(bundle(PATIENT, timed), message_type="OML^O21")
    assert [s.name for s in order][3:] == ["ORC", "TQ1", "OBR", "NTE"]
    assert (order.get("TQ1-1"), order.get("TQ1-7"), order.get("TQ1-8"), order.get("TQ1-9")) == \
        ("1", "20240302080000+0000", "20240302090000+0000", "S")
    assert order.get("OBR-27.6") == "S"  # kept for backward compatibility
    older = fhir_to_hl7v2(bundle(PATIENT, timed), message_type="OML^O21", version="2.4")
    assert not older.segments("TQ1") and older.get("OBR-27.6") == "S"


@pytest.mark.parametrize(("status", "control", "order_status"), [
    ("on-hold", "HD", "HD"), ("revoked", "CA", "CA"), ("completed", "SC", "CM")])
def test_order_control_and_status_follow_the_request_status(status: str, control: str, order_status: str) -> None:
    message = fhir_to_hl7v2(bundle(PATIENT, dict(SR, status=status)))
    assert (message.get("ORC-1"), message.get("ORC-5")) == (control, order_status)


def test_a_service_request_without_code_cannot_fill_obr_4() -> None:
    no_code = {k: v for k, v in SR.items() if k != "code"}
    with pytest.raises(TransformError) as info:
        fhir_to_hl7v2(bundle(PATIENT, no_code))
    assert info.value.location == "Bundle.entry[1].resource.code"


def observation(**value: object) -> dict:
    return {"resourceType": "Observation", "status": "final", "subject": {"reference": "Patient/p1"},
            "code": {"coding": [{"system": LOINC, "code": "2345-7", "display": "Glucose"}]}, **value}


REPORT = {"resourceType": "DiagnosticReport", "status": "final", "basedOn": [{"reference": "urn:uuid:ServiceRequest-1"}],
          "identifier": [typed("FI-9", "urn:oid:8.7.6", "FILL")],
          "category": [{"coding": [{"system": V2 + "0074", "code": "CH"}]}],
          "code": {"coding": [{"system": LOINC, "code": "24323-8"}]}, "subject": {"reference": "Patient/p1"},
          "effectiveDateTime": "2024-03-01T10:00:00Z", "issued": "2024-03-01T12:00:00Z",
          "result": [{"reference": "urn:uuid:Observation-3"}]}


def result_message(obs: dict, version: str = "2.5.1") -> Message:
    return fhir_to_hl7v2(bundle(PATIENT, SR, REPORT, obs), version=version)


def test_oru_report_fields_in_obr() -> None:
    message = result_message(observation(valueQuantity={"value": 5.4}))
    assert [s.name for s in message] == ["MSH", "PID", "PV1", "ORC", "OBR", "NTE", "TQ1", "OBX"]
    assert (message.get("ORC-1"), message.get("ORC-5")) == ("RE", "IP")
    assert message.get_raw("OBR-3") == "FI-9^^8.7.6^ISO"
    assert message.get("OBR-7") == "20240301100000+0000"
    assert message.get("OBR-22") == "20240301120000+0000"
    assert (message.get("OBR-24"), message.get("OBR-25")) == ("CH", "F")


def test_obx_numeric_with_units_range_flags_status_and_times() -> None:
    obs = observation(valueQuantity={"value": 0.000012, "unit": "mmol/l", "system": "http://unitsofmeasure.org",
                                     "code": "mmol/L"},
                      referenceRange=[{"low": {"value": 3.1}, "high": {"value": 6.2}}],
                      interpretation=[{"coding": [{"code": "H"}]}, {"coding": [{"code": "A"}]}],
                      effectiveDateTime="2024-03-01T10:00:00Z", issued="2024-03-01T11:00:00Z",
                      identifier=[{"system": "urn:oid:8.7.6", "value": "OBS-1"}])
    message = result_message(obs)
    assert (message.get("OBX-1"), message.get("OBX-2"), message.get("OBX-5")) == ("1", "NM", "0.000012")
    assert message.get_raw("OBX-6") == "mmol/L^mmol/l^UCUM"
    assert message.get("OBX-7") == "3.1-6.2"
    assert message.get_raw("OBX-8") == "H~A"
    assert (message.get("OBX-11"), message.get("OBX-14"), message.get("OBX-19")) == \
        ("F", "20240301100000+0000", "20240301110000+0000")
    assert message.get("OBX-21") is None  # a v2.6 field, reserved in 2.5.1
    older = result_message(obs, version="2.3")
    assert older.get("OBX-19") is None


@pytest.mark.parametrize(("value", "value_type", "er7"), [
    ({"valueQuantity": {"value": 10, "comparator": "<"}}, "SN", "<^10"),
    ({"valueString": "Clear"}, "ST", "Clear"),
    ({"valueString": "line one\nline two"}, "TX", "line one~line two"),
    ({"valueCodeableConcept": {"coding": [{"system": "http://snomed.info/sct", "code": "260385009",
                                           "display": "Negative"}]}}, "CWE", "260385009^Negative^SCT"),
    ({"valueRange": {"low": {"value": 1}, "high": {"value": 3}}}, "SN", "^1^-^3"),
    ({"valueRatio": {"numerator": {"value": 1}, "denominator": {"value": 128}}}, "SN", "^1^:^128"),
    ({"valueDateTime": "2024-02-29"}, "DTM", "20240229"),
    ({"valueInteger": 7}, "NM", "7"),
    ({"valueBoolean": True}, "CWE", "Y^Yes^HL70136"),
    ({"valueTime": "10:30:00"}, "TM", "103000"),
])
def test_obx_value_types(value: dict, value_type: str, er7: str) -> None:
    message = result_message(observation(**value))
    assert (message.get("OBX-2"), message.get_raw("OBX-5")) == (value_type, er7)


def test_coded_values_are_ce_before_v2_5() -> None:
    message = result_message(observation(valueCodeableConcept={"text": "Negative"}), version="2.4")
    assert (message.get("OBX-2"), message.get_raw("OBX-5")) == ("CE", "^Negative")


def test_a_value_without_a_v2_type_is_an_error_not_a_silent_drop() -> None:
    with pytest.raises(TransformError) as info:
        result_message(observation(valueSampledData={"origin": {"value": 0}, "period": 1, "dimensions": 1}))
    assert info.value.location == "Bundle.entry[3].resource.valueSampledData"


def test_an_observation_without_status_is_refused_and_unknown_is_never_sent_as_final() -> None:
    with pytest.raises(TransformError) as info:
        result_message({k: v for k, v in observation(valueInteger=1).items() if k != "status"})
    assert info.value.location == "Bundle.entry[3].resource.status"
    assert result_message(observation(status="unknown", valueInteger=1)).get("OBX-11") == "R"


def test_a_report_result_that_does_not_resolve_is_refused() -> None:
    report = dict(REPORT, result=[{"reference": "Observation/missing"}])
    with pytest.raises(TransformError) as info:
        fhir_to_hl7v2(bundle(PATIENT, SR, report))
    assert info.value.location == "Bundle.entry[2].resource.result[0]"


def test_components_and_panel_members_become_obx_lines() -> None:
    bp = observation(component=[
        {"code": {"coding": [{"system": LOINC, "code": "8480-6"}]}, "valueQuantity": {"value": 120}},
        {"code": {"coding": [{"system": LOINC, "code": "8462-4"}]}, "valueQuantity": {"value": 80}}])
    member = observation(valueString="ok", note=[{"text": "checked twice"}])
    panel = observation(hasMember=[{"reference": "urn:uuid:Observation-1"}])
    message = fhir_to_hl7v2(bundle(PATIENT, member, bp, panel))
    names = [s.name for s in message]
    assert names == ["MSH", "PID", "PV1", "ORC", "OBR", "OBX", "OBX", "OBX", "NTE"]
    # The valueless blood pressure gives its two components, grouped under one OBX-4 sub-id.
    assert (message.get("OBX[1]-3.1"), message.get("OBX[2]-3.1")) == ("8480-6", "8462-4")
    assert (message.get("OBX[1]-4"), message.get("OBX[2]-4")) == ("1", "1")
    # The panel is sent as its member (which is not sent a second time on its own).
    assert (message.get("OBX[3]-1"), message.get("OBX[3]-5")) == ("3", "ok")
    assert message.get("NTE-3") == "checked twice"


def test_observations_without_a_report_get_an_order_group_filled_from_the_first() -> None:
    obs = observation(valueQuantity={"value": 6.3}, identifier=[{"system": "urn:oid:9.9", "value": "OBS-7"}])
    message = fhir_to_hl7v2(bundle(PATIENT, obs))
    assert message.get("OBR-3.1") == "OBS-7"
    assert message.get("OBR-4.1") == "2345-7"
    assert message.get("OBR-25") == "F"


def test_a_web_address_is_a_network_address_not_a_phone() -> None:
    message = fhir_to_hl7v2(dict(PATIENT, telecom=[{"system": "url", "value": "https://example.test/a"}]))
    assert message.get_raw("PID-13") == "^NET^Internet^https://example.test/a"
