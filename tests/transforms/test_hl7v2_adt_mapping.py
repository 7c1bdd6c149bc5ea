"""ADT / BAR segments the IG has no map for (DB1, IN2, ACC, PDA), mapped onto Patient, RelatedPerson,
Observation, Procedure and Location; synthetic messages only."""

from __future__ import annotations

from functools import partial

from hl7bridge.transforms.hl7v2_to_fhir import hl7v2_to_fhir
from hl7v2_builders import msg as _msg, of_type

msg = partial(_msg, facility="HOSP")

PID = "PID|1||PAT-1^^^HOSP&1.2.3&ISO^MR||Testperson^Alex||19800101|F"
PV1 = "PV1|1|I|WARD-A^R-1^B-1^HOSP|||||||||||||||||V-1^^^HOSP^VN"
V2_0203 = "http://terminology.hl7.org/CodeSystem/v2-0203"


def field_list(name: str, values: dict[int, str]) -> str:
    fields = [""] * (max(values) + 1)
    for n, value in values.items():
        fields[n] = value
    return name + "|".join(fields)


def types_by_value(resource: dict) -> dict[str, str]:
    return {i["value"]: i.get("type", {}).get("coding", [{}])[0].get("code", "") for i in resource["identifier"]}


def test_db1_for_the_patient_adds_its_identifier() -> None:
    db1 = "DB1|1|PT|DIS-9^^^HOSP&1.2.3&ISO^MR^^20200101^20201231|Y"
    patient = of_type(hl7v2_to_fhir(msg("ADT^A01", PID, db1), strict=True), "Patient")[0]
    added = next(i for i in patient["identifier"] if i["value"] == "DIS-9")
    assert added["system"] == "urn:oid:1.2.3"
    assert added["type"]["coding"][0]["code"] == "MR"
    assert added["period"] == {"start": "2020-01-01", "end": "2020-12-31"}


def test_db1_for_someone_else_is_not_the_patients() -> None:
    db1 = "DB1|1|GT|DIS-9^^^HOSP^MR|Y"
    patient = of_type(hl7v2_to_fhir(msg("ADT^A01", PID, db1)), "Patient")[0]
    assert "DIS-9" not in types_by_value(patient)


def test_db1_repeating_the_same_identifier_adds_it_once() -> None:
    db1 = "DB1|1|PT|PAT-1^^^HOSP&1.2.3&ISO^MR"
    patient = of_type(hl7v2_to_fhir(msg("ADT^A01", PID, db1)), "Patient")[0]
    assert [i["value"] for i in patient["identifier"]].count("PAT-1") == 1


IN1_SPOUSE = "IN1|1|PLAN-1^Plan|PAYER-1^^^HOSP|Example Payer||||||||||||Spouse^Sam|SPO^Spouse|19790202"


def test_in2_programme_numbers_go_to_the_patient() -> None:
    in2 = field_list("IN2", {6: "MCARE-1", 8: "MCAID-2", 10: "MIL-3", 61: "MEM-4^^^PLAN&2.9&ISO"})
    bundle = hl7v2_to_fhir(msg("ADT^A01", PID, IN1_SPOUSE, in2), strict=True)
    patient = of_type(bundle, "Patient")[0]
    kinds = types_by_value(patient)
    assert kinds["MCARE-1"] == "MC" and kinds["MCAID-2"] == "MA" and kinds["MIL-3"] == "MI"
    assert kinds["MEM-4"] == "MB"  # member number; no CX-5 given
    medicare = next(i for i in patient["identifier"] if i["value"] == "MCARE-1")
    assert medicare["system"] == "http://hl7.org/fhir/sid/us-medicare"


def test_in2_insured_details_go_to_the_subscriber() -> None:
    in2 = field_list("IN2", {1: "EMP-5^^^^EI", 2: "999-00-0001", 34: "spa^Spanish^HL70296", 63: "^PRN^PH^^1^555^0100000"})
    bundle = hl7v2_to_fhir(msg("ADT^A01", PID, IN1_SPOUSE, in2), strict=True)
    coverage = of_type(bundle, "Coverage")[0]
    subscriber = next(e["resource"] for e in bundle["entry"] if e["fullUrl"] == coverage["subscriber"]["reference"])
    assert subscriber["resourceType"] == "RelatedPerson"
    kinds = types_by_value(subscriber)
    assert kinds == {"EMP-5": "EI", "999-00-0001": "SS"}
    assert next(i for i in subscriber["identifier"] if i["value"] == "999-00-0001")["system"] == \
        "http://hl7.org/fhir/sid/us-ssn"
    assert subscriber["communication"][0]["language"]["coding"][0] == \
        {"system": "urn:ietf:bcp:47", "code": "es", "display": "Spanish"}
    assert subscriber["telecom"] == [{"system": "phone", "value": "+1 (555) 0100000", "use": "home"}]


def test_in2_after_a_self_insured_in1_leaves_related_persons_alone() -> None:
    in1 = "IN1|1|PLAN-1^Plan|PAYER-1^^^HOSP|Example Payer||||||||||||Testperson^Alex|SEL^Self"
    in2 = field_list("IN2", {2: "999-00-0001", 6: "MCARE-1"})
    bundle = hl7v2_to_fhir(msg("ADT^A01", PID, in1, in2), strict=True)
    assert of_type(bundle, "RelatedPerson") == []
    assert "MCARE-1" in types_by_value(of_type(bundle, "Patient")[0])


ACC = ("ACC|20240101120000|MV^Motor vehicle^HL70050|Main St crossing||Y|N|DR-1^Doctor^Dana^^^^^^HOSP|Car crash||Y|"
       "1 Main St^^Town^ST^00000||ACC-77")


def test_acc_becomes_an_injury_observation_with_its_place() -> None:
    bundle = hl7v2_to_fhir(msg("ADT^A01", PID, PV1, ACC), strict=True)
    obs = next(o for o in of_type(bundle, "Observation") if o["code"]["coding"][0]["code"] == "11374-6")
    assert obs["status"] == "final"
    assert obs["identifier"][0]["value"] == "ACC-77"
    assert obs["effectiveDateTime"] == "2024-01-01T12:00:00-05:00"
    assert obs["valueString"] == "Car crash"
    assert obs["category"][0]["coding"][0]["code"] == "MV"
    assert obs["encounter"]["reference"] == next(e["fullUrl"] for e in bundle["entry"]
                                                 if e["resource"]["resourceType"] == "Encounter")
    flags = {c["code"]["coding"][0]["code"]: c["valueCodeableConcept"]["coding"][0]["code"] for c in obs["component"]}
    assert flags == {"AJRI": "Y", "ADI": "N", "PNI": "Y"}
    by_url = {e["fullUrl"]: e["resource"] for e in bundle["entry"]}
    place = by_url[obs["extension"][0]["valueReference"]["reference"]]
    assert place["name"] == "Main St crossing" and place["address"]["city"] == "Town"
    assert by_url[obs["performer"][0]["reference"]]["name"][0]["family"] == "Doctor"


def test_acc_without_a_patient_makes_nothing() -> None:
    bundle = hl7v2_to_fhir(msg("ADT^A01", PV1, ACC))
    assert not [o for o in of_type(bundle, "Observation") if o["code"]["coding"][0]["code"] == "11374-6"]


PDA = ("PDA|I21.9^Acute myocardial infarction^I10|ICU^R-9^B-9^HOSP|Y|20240105101500|DR-2^Certifier^Cory|Y|"
       "20240106080000^20240106093000|DR-3^Examiner^Eli|N")


def test_pda_gives_cause_of_death_certification_and_autopsy() -> None:
    bundle = hl7v2_to_fhir(msg("ADT^A03", PID, PV1, PDA), strict=True)
    cause = of_type(bundle, "Condition")[0]
    assert cause["code"]["coding"][0]["code"] == "I21.9"
    procedures = {p["code"]["coding"][0]["code"]: p for p in of_type(bundle, "Procedure")}
    assert procedures["death-certification"]["performedDateTime"] == "2024-01-05T10:15:00-05:00"
    assert procedures["autopsy-performed"]["performedPeriod"] == {"start": "2024-01-06T08:00:00-05:00",
                                                                  "end": "2024-01-06T09:30:00-05:00"}
    by_url = {e["fullUrl"]: e["resource"] for e in bundle["entry"]}
    certifier = by_url[procedures["death-certification"]["performer"][0]["actor"]["reference"]]
    assert certifier["name"][0]["family"] == "Certifier"
    answers = {o["code"]["coding"][0]["code"]: o["valueCodeableConcept"]["coding"][0]["code"]
               for o in of_type(bundle, "Observation")}
    assert answers == {"death-certificate": "Y", "autopsy": "Y", "coroner": "N"}
    encounter = of_type(bundle, "Encounter")[0]
    died_in = [by_url[loc["location"]["reference"]] for loc in encounter["location"] if loc["status"] == "completed"]
    assert [place["name"] for place in died_in] == ["B-9"]


def test_pda_without_autopsy_makes_no_autopsy_procedure() -> None:
    pda = "PDA|||N||||||"
    bundle = hl7v2_to_fhir(msg("ADT^A03", PID, pda), strict=True)
    assert of_type(bundle, "Procedure") == []
    assert [o["valueCodeableConcept"]["coding"][0]["code"] for o in of_type(bundle, "Observation")] == ["N"]


def _status(event: str, pv1_45: str) -> str:
    pv1 = field_list("PV1", {1: "1", 2: "I", 19: "V-1^^^HOSP^VN", 45: pv1_45})
    return of_type(hl7v2_to_fhir(msg(f"ADT^{event}", PID, pv1)), "Encounter")[0]["status"]


def test_the_event_says_where_the_encounter_stands_before_pv1_45() -> None:
    assert _status("A13", "20240103") == "in-progress"  # discharge cancelled, PV1-45 still sent
    assert _status("A11", "20240103") == "cancelled"
    assert _status("A15", "") == "in-progress" and _status("A16", "") == "in-progress"
    assert _status("A08", "20240103") == "finished" and _status("A08", "") == "in-progress"
