"""fhir_to_hl7v2: message type choice, MSH, versions, control ids, input errors (synthetic data)."""

from __future__ import annotations

import pytest

from hl7bridge.engine.errors import TransformError
from hl7bridge.transforms.fhir_to_hl7v2 import fhir_to_hl7v2
from hl7bridge.transforms.hl7v2.message import Message

PATIENT = {"resourceType": "Patient", "id": "p1",
           "identifier": [{"system": "urn:oid:1.2.3.4", "value": "MRN1",
                           "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203",
                                                "code": "MR"}]}}],
           "name": [{"family": "Testperson", "given": ["Alex"]}], "gender": "other", "birthDate": "1990-04-05"}


def bundle(*resources: dict, kind: str = "transaction") -> dict:
    return {"resourceType": "Bundle", "type": kind,
            "entry": [{"fullUrl": f"urn:uuid:00000000-0000-0000-0000-00000000000{i}", "resource": r}
                      for i, r in enumerate(resources)]}


def encounter(code: str) -> dict:
    return {"resourceType": "Encounter", "status": "in-progress",
            "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": code},
            "subject": {"reference": "Patient/p1"}}


SR = {"resourceType": "ServiceRequest", "status": "active", "intent": "order",
      "code": {"coding": [{"system": "http://loinc.org", "code": "2345-7", "display": "Glucose"}]},
      "subject": {"reference": "Patient/p1"}}
OBS = {"resourceType": "Observation", "status": "final",
       "code": {"coding": [{"system": "http://loinc.org", "code": "2345-7"}]},
       "subject": {"reference": "Patient/p1"}, "valueQuantity": {"value": 5.4}}


@pytest.mark.parametrize(("resources", "expected"), [
    ((PATIENT,), "ADT^A08"),
    ((PATIENT, encounter("AMB")), "ADT^A04"),
    ((PATIENT, encounter("IMP")), "ADT^A01"),
    ((PATIENT, SR), "ORM^O01"),
    ((PATIENT, OBS), "ORU^R01"),
    ((PATIENT, SR, OBS), "ORU^R01"),
])
def test_the_message_type_follows_from_the_resources(resources: tuple, expected: str) -> None:
    message = fhir_to_hl7v2(bundle(*resources))
    assert f"{message.get('MSH-9.1')}^{message.get('MSH-9.2')}" == expected


def test_an_adt_with_only_vital_signs_stays_an_adt_and_carries_them_as_obx() -> None:
    vital = dict(OBS, category=[{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                                             "code": "vital-signs"}]}])
    message = fhir_to_hl7v2(bundle(PATIENT, encounter("EMER"), vital))
    assert message.get("MSH-9.2") == "A04"
    assert [s.name for s in message] == ["MSH", "EVN", "PID", "PV1", "OBX"]


def test_message_type_option_forces_the_type_and_the_structure() -> None:
    message = fhir_to_hl7v2(bundle(PATIENT, SR), message_type="OML^O21")
    assert message.get("MSH-9") == "OML^O21^OML_O21"
    assert [s.name for s in message] == ["MSH", "PID", "PV1", "ORC", "OBR"]


def test_unknown_message_type_is_refused_with_the_option_named() -> None:
    with pytest.raises(TransformError) as info:
        fhir_to_hl7v2(bundle(PATIENT), message_type="SIU^S12")
    assert info.value.location == "fhir_to_hl7v2.message_type"


def test_oml_does_not_exist_before_v2_4() -> None:
    with pytest.raises(TransformError) as info:
        fhir_to_hl7v2(bundle(PATIENT, SR), message_type="OML^O21", version="2.3.1")
    assert info.value.location == "fhir_to_hl7v2.version"


@pytest.mark.parametrize("version", ["2.2", "2.6", "3", ""])
def test_unsupported_versions_are_refused(version: str) -> None:
    with pytest.raises(TransformError):
        fhir_to_hl7v2(PATIENT, version=version)


def test_msh_is_built_from_the_options() -> None:
    message = fhir_to_hl7v2(PATIENT, sending_application="BRIDGE^1.2.3^ISO", sending_facility="HOSP",
                            receiving_application="LIS", receiving_facility="LAB", control_id="CTRL-1")
    assert message.get("MSH-3.2") == "1.2.3" and message.get("MSH-3.3") == "ISO"
    assert (message.get("MSH-4"), message.get("MSH-5"), message.get("MSH-6")) == ("HOSP", "LIS", "LAB")
    assert message.get("MSH-10") == "CTRL-1"
    assert message.get("MSH-11") == "P"
    assert message.get("MSH-12") == "2.5.1"
    assert len(message.get("MSH-7") or "") == 19  # YYYYMMDDHHMMSS+ZZZZ


def test_v2_3_has_no_message_structure_component() -> None:
    message = fhir_to_hl7v2(PATIENT, version="2.3")
    assert message.get("MSH-9") == "ADT^A08"
    assert message.get("MSH-12") == "2.3"


def test_generated_control_ids_are_unique_and_at_most_20_characters() -> None:
    ids = {fhir_to_hl7v2(PATIENT).get("MSH-10") for _ in range(200)}
    assert len(ids) == 200
    assert all(i and len(i) <= 20 for i in ids)


@pytest.mark.parametrize("bad", ["", "x" * 21])
def test_a_control_id_outside_1_to_20_characters_is_refused(bad: str) -> None:
    with pytest.raises(TransformError) as info:
        fhir_to_hl7v2(PATIENT, control_id=bad)
    assert info.value.location == "MSH-10"


def test_msh_18_is_set_only_when_the_content_is_not_ascii() -> None:
    assert fhir_to_hl7v2(PATIENT).get("MSH-18") is None
    accented = dict(PATIENT, name=[{"family": "Müller"}])
    assert fhir_to_hl7v2(accented).get("MSH-18") == "UNICODE UTF-8"
    assert fhir_to_hl7v2(accented, version="2.4").get("MSH-18") == "UNICODE"


def test_the_result_parses_back_and_ends_segments_with_cr() -> None:
    text = fhir_to_hl7v2(bundle(PATIENT, SR)).to_er7()
    assert "\n" not in text and text.endswith("\r")
    assert Message.parse(text).get("PID-3.1") == "MRN1"


def test_a_message_bundle_and_a_tolerated_bare_entry_are_read() -> None:
    header = {"resourceType": "MessageHeader", "eventCoding": {"code": "x"}, "source": {"endpoint": "urn:x"}}
    data = bundle(header, PATIENT, kind="message")
    data["entry"].append(dict(encounter("IMP")))  # a resource written straight into entry
    assert fhir_to_hl7v2(data).get("MSH-9.2") == "A01"


def test_a_deleted_entry_is_not_sent() -> None:
    data = bundle(PATIENT, SR)
    data["entry"][1]["request"] = {"method": "DELETE", "url": "ServiceRequest/1"}
    assert fhir_to_hl7v2(data).get("MSH-9.1") == "ADT"


@pytest.mark.parametrize(("data", "location"), [
    ([], "resourceType"),
    ({"resourceType": "Bundle", "type": "nonsense"}, "Bundle.type"),
    ({"resourceType": "Bundle", "type": "batch", "entry": ["x"]}, "Bundle.entry[0]"),
    ({"resourceType": "Bundle", "type": "batch", "entry": [{"resource": {"id": "1"}}]},
     "Bundle.entry[0].resource.resourceType"),
    ({"resourceType": "Practitioner"}, "Bundle.entry"),
])
def test_input_that_is_not_mappable_names_where(data: object, location: str) -> None:
    with pytest.raises(TransformError) as info:
        fhir_to_hl7v2(data)  # type: ignore[arg-type]
    assert info.value.location == location


def test_an_order_whose_subject_does_not_resolve_names_the_element_and_no_value() -> None:
    lost = dict(SR, subject={"reference": "Patient/secret-name"})
    with pytest.raises(TransformError) as info:
        fhir_to_hl7v2(bundle(PATIENT, lost))
    assert info.value.location == "Bundle.entry[1].resource.subject"
    assert "secret-name" not in str(info.value)


def test_two_patients_cannot_share_one_message() -> None:
    other = dict(PATIENT, id="p2")
    with pytest.raises(TransformError) as info:
        fhir_to_hl7v2(bundle(PATIENT, other))
    assert info.value.location == "Bundle.entry[1].resource"


def test_a_merged_away_patient_does_not_count_as_a_second_patient() -> None:
    old = dict(PATIENT, id="p0", active=False, link=[{"type": "replaced-by", "other": {"reference": "Patient/p1"}}],
               identifier=[{"system": "urn:oid:1.2.3.4", "value": "OLD"}])
    assert fhir_to_hl7v2(bundle(old, PATIENT)).get("PID-3.1") == "MRN1"


def test_with_several_patients_the_encounter_subject_is_the_adt_patient() -> None:
    other = dict(PATIENT, id="p2", identifier=[{"value": "OTHER"}])
    assert fhir_to_hl7v2(bundle(other, PATIENT, encounter("AMB"))).get("PID-3.1") == "MRN1"


def test_results_for_two_patients_are_refused_at_the_second_subject() -> None:
    other = dict(PATIENT, id="p2")
    obs2 = dict(OBS, subject={"reference": "Patient/p2"})
    with pytest.raises(TransformError) as info:
        fhir_to_hl7v2(bundle(PATIENT, other, OBS, obs2))
    assert info.value.location == "Bundle.entry[3].resource.subject"


def test_a_patient_without_identifiers_cannot_fill_pid_3() -> None:
    with pytest.raises(TransformError) as info:
        fhir_to_hl7v2({"resourceType": "Patient", "name": [{"family": "X"}]})
    assert info.value.location == "Patient.identifier"


@pytest.mark.parametrize("broken", [
    dict(PATIENT, address=[{"line": 5}]),
    dict(PATIENT, contained=7),
    bundle(PATIENT, dict(OBS, category=[{"coding": 3}])),
])
def test_malformed_shapes_deep_inside_become_a_transform_error(broken: dict) -> None:
    with pytest.raises(TransformError) as info:
        fhir_to_hl7v2(broken)
    assert info.value.location in ("Patient", "Bundle")


def test_the_registered_step_turns_a_fhir_payload_into_an_hl7v2_payload(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from hl7bridge.transforms.payload import Payload
    from hl7bridge.transforms.registry import build_step

    step = build_step("fhir_to_hl7v2", {"message_type": "ORM^O01", "version": 2.4}, tmp_path)
    out = step(Payload("fhir", bundle(PATIENT, SR)))
    assert out.kind == "hl7v2"
    assert out.data.get("MSH-9") == "ORM^O01^ORM_O01" and out.data.get("MSH-12") == "2.4"
    assert out.to_bytes().startswith(b"MSH|^~\\&|HL7BRIDGE|")


def test_a_report_based_on_a_care_plan_still_maps() -> None:
    report = {"resourceType": "DiagnosticReport", "status": "final", "subject": {"reference": "Patient/p1"},
              "code": {"coding": [{"system": "http://loinc.org", "code": "24323-8"}]},
              "basedOn": [{"reference": "CarePlan/c1"}, {"reference": "urn:uuid:00000000-0000-0000-0000-000000000002"}]}
    plan = {"resourceType": "CarePlan", "id": "c1", "status": "active", "intent": "plan",
            "subject": {"reference": "Patient/p1"}}
    sr = dict(SR, identifier=[{"system": "urn:oid:1.2", "value": "PLACER-1"}])
    message = fhir_to_hl7v2(bundle(PATIENT, plan, sr, report))
    assert message.get("OBR-2.1") == "PLACER-1"


def test_a_conditional_reference_resolves_by_identifier() -> None:
    order = dict(SR, subject={"reference": "Patient?identifier=urn:oid:1.2.3.4%7CMRN1"})
    anonymous = {k: v for k, v in PATIENT.items() if k != "id"}
    assert fhir_to_hl7v2(bundle(anonymous, order)).get("PID-3.1") == "MRN1"


def test_an_ambiguous_conditional_reference_does_not_resolve() -> None:
    order = dict(SR, subject={"reference": "Patient?identifier=MRN1"})
    twin = dict(PATIENT, id="p2", identifier=[{"system": "urn:oid:9.9", "value": "MRN1"}])
    with pytest.raises(TransformError) as info:
        fhir_to_hl7v2(bundle(PATIENT, twin, order))
    assert info.value.location == "Bundle.entry[2].resource.subject"


def test_content_with_its_own_v2_message_is_not_silently_sent_as_an_adt() -> None:
    shot = {"resourceType": "Immunization", "status": "completed", "patient": {"reference": "Patient/p1"},
            "vaccineCode": {"coding": [{"system": "http://hl7.org/fhir/sid/cvx", "code": "08"}]},
            "occurrenceDateTime": "2024-01-01"}
    with pytest.raises(TransformError) as info:
        fhir_to_hl7v2(bundle(PATIENT, shot))
    assert info.value.location == "Bundle.entry[1].resource.resourceType"
    assert fhir_to_hl7v2(bundle(PATIENT, shot), message_type="ADT^A08").get("PID-3.1") == "MRN1"


def test_observations_beside_an_immunization_do_not_turn_it_into_an_oru() -> None:
    shot = {"resourceType": "Immunization", "status": "completed", "patient": {"reference": "Patient/p1"},
            "vaccineCode": {"text": "x"}, "occurrenceDateTime": "2024-01-01"}
    with pytest.raises(TransformError) as info:
        fhir_to_hl7v2(bundle(PATIENT, OBS, shot))
    assert info.value.location == "Bundle.entry[2].resource.resourceType"
    report = {"resourceType": "DiagnosticReport", "status": "final", "subject": {"reference": "Patient/p1"},
              "code": {"text": "panel"}}
    assert fhir_to_hl7v2(bundle(PATIENT, report, shot)).get("MSH-9.1") == "ORU"
