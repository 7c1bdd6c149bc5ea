"""JSON payload expectations on converting channels, FHIR sources, and the pure helpers."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from hl7bridge.channels.testing import run_channel_tests
from hl7bridge.channels.testing_match import contains, project
from hl7bridge.channels.testing_run import delivery_outcome
from hl7bridge.channels.testing_spec import MockResponse

CONFIG = """\
channels:
  adt_fhir:
    source: {type: mllp, listen: "127.0.0.1:2575"}
    steps: [hl7v2_to_fhir]
    destinations:
      patient_service: {type: http, endpoint: "http://localhost:9/fhir"}
  fhir_in:
    source: {type: http, path: /fhir, format: fhir}
    destinations:
      archive: {type: file, directory: out}
"""
ADT = ("MSH|^~\\&|EHR|HOSP|BR|HOSP|20250101||ADT^A01|C1|P|2.5.1\r"
       "PID|1||MRN1^^^HOSP^MR||ZULU^YANKEE||19700101|F\r")

TESTS = """\
channel: adt_fhir
cases:
  - name: the Patient is in the bundle
    file: adt.hl7
    expect:
      ack: AA
      destinations:
        patient_service:
          outcome: delivered
          payload_contains_json:
            resourceType: Bundle
            entry:
              - resource: {resourceType: Patient, gender: female, name: [{family: ZULU}]}
  - name: the wrong gender
    file: adt.hl7
    expect:
      destinations:
        patient_service:
          payload_contains_json: {entry: [{resource: {resourceType: Patient, gender: male}}]}
  - name: field paths need an HL7v2 payload
    file: adt.hl7
    expect:
      destinations:
        patient_service: {hl7_fields: {"PID-5.1": ZULU}}
"""

FHIR_TESTS = """\
channel: fhir_in
cases:
  - name: a FHIR resource passes through, with no HL7 ACK
    message: '{"resourceType": "Patient", "id": "p1", "active": true}'
    expect:
      destinations:
        archive: {payload_contains_json: {resourceType: Patient, active: true}}
  - name: an ACK cannot be expected from an HTTP source
    message: '{"resourceType": "Patient"}'
    expect:
      ack: AA
  - name: JSON that does not parse is an error
    message: '{"resourceType": '
    expect:
      error: {reason: cannot be read as fhir}
"""


def run(tmp_path: Path, tests: str) -> tuple[bool, list[str], Path]:
    (tmp_path / "channels.yaml").write_text(CONFIG, encoding="utf-8")
    (tmp_path / "adt.hl7").write_bytes(ADT.encode())
    test_file = tmp_path / "t.test.yaml"
    test_file.write_text(tests, encoding="utf-8")
    lines: list[str] = []
    ok = run_channel_tests(str(test_file), str(tmp_path / "channels.yaml"), echo=lines.append)
    return ok, lines, test_file


def test_json_subset_expectations_on_a_converted_bundle(tmp_path: Path) -> None:
    ok, lines, test_file = run(tmp_path, TESTS)
    assert not ok
    assert lines[0] == "test adt_fhir: the Patient is in the bundle ... passed"
    assert lines[1] == "test adt_fhir: the wrong gender ... FAILED"
    assert lines[2].strip() == f"{test_file}:19: destinations.patient_service.payload_contains_json"
    end = lines.index("test adt_fhir: field paths need an HL7v2 payload ... FAILED")
    body = [line.replace(" ", "") for line in lines[3:end]]
    # The diff shows the closest actual entry, cut to the keys the analyst asked about.
    assert '-"gender":"male",' in body and '+"gender":"female",' in body
    assert not any("identifier" in line for line in body)
    assert lines[-3].strip() == "-an HL7v2 payload" and lines[-2].strip() == "+a fhir payload"
    assert lines[-1] == "1 passed, 2 failed"


def test_a_fhir_source_runs_without_an_ack(tmp_path: Path) -> None:
    ok, lines, test_file = run(tmp_path, FHIR_TESTS)
    assert not ok
    assert lines[0] == "test fhir_in: a FHIR resource passes through, with no HL7 ACK ... passed"
    assert lines[1] == "test fhir_in: an ACK cannot be expected from an HTTP source ... FAILED"
    assert lines[2].strip() == f"{test_file}:11: ack"
    assert "+no ACK: the channel's source does not take HL7v2" in [line.strip() for line in lines]
    assert lines[-2] == "test fhir_in: JSON that does not parse is an error ... passed"


def test_contains_is_a_subset_match_with_lists_in_any_order() -> None:
    actual = {"a": 1, "b": [{"x": 1, "y": 2}, {"x": 3}], "c": True}
    assert contains(actual, {"b": [{"x": 3}, {"y": 2}]})
    assert contains(actual, {"c": True, "a": 1})
    assert not contains(actual, {"a": True})  # 1 is not true
    assert not contains(actual, {"b": [{"x": 4}]})
    assert not contains(actual, {"d": None})


def test_project_keeps_only_the_expected_shape_and_the_closest_items() -> None:
    actual = {"a": 1, "b": [{"x": 1, "y": 2, "z": 9}, {"x": 3, "y": 4}], "c": "drop"}
    assert project(actual, {"b": [{"x": 3, "y": 5}]}) == {"b": [{"x": 3, "y": 4}]}
    assert project(actual, {"a": 2, "missing": 1}) == {"a": 1}


def test_delivery_outcomes_follow_the_engine_retry_rules() -> None:
    http = SimpleNamespace(type="http", retry=SimpleNamespace(max_attempts=3), ack_rules={})
    mllp = SimpleNamespace(type="mllp", retry=SimpleNamespace(max_attempts=3), ack_rules={"AE": "dead_letter"})
    assert delivery_outcome(http, None) == "delivered"
    assert delivery_outcome(http, MockResponse(status=201)) == "delivered"
    assert delivery_outcome(http, MockResponse(status=429)) == "retry"
    assert delivery_outcome(http, MockResponse(status=503, attempt=3)) == "dead_letter"
    assert delivery_outcome(http, MockResponse(status=404)) == "dead_letter"
    assert delivery_outcome(http, MockResponse(ack="AE")) == "retry"
    assert delivery_outcome(mllp, MockResponse(ack="AE")) == "dead_letter"
    assert delivery_outcome(mllp, MockResponse(ack="timeout")) == "retry"
    assert delivery_outcome(mllp, MockResponse(ack="CA")) == "delivered"
