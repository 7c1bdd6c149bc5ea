"""A failing expectation is reported at its own file:line with a diff, and the run fails."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from hl7bridge.channels.testing import run_channel_tests
from hl7bridge.cli import main

CONFIG = """\
channels:
  adt:
    source: {type: mllp, listen: "127.0.0.1:2575"}
    filter: {message_types: [ADT]}
    destinations:
      svc: {type: http, endpoint: "http://localhost:9/fhir", retry: {max_attempts: 3}}
      lis: {type: mllp, endpoint: "127.0.0.1:9", ack_rules: {AE: dead_letter}}
      paused: {type: file, directory: out, enabled: false}
"""

ADT = "MSH|^~\\&|EHR|HOSP|BR|HOSP|20250101||ADT^A01|C1|P|2.5.1\rPID|1||MRN1^^^HOSP^MR||ZULU^YANKEE\r"


def setup(tmp_path: Path, tests: str) -> tuple[Path, Path]:
    config = tmp_path / "channels.yaml"
    config.write_text(CONFIG, encoding="utf-8")
    (tmp_path / "adt.hl7").write_bytes(ADT.encode())
    test_file = tmp_path / "adt.test.yaml"
    test_file.write_text(tests, encoding="utf-8")
    return config, test_file


def line_of(text: str, needle: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), start=1) if needle in line)


def run(config: Path, path: Path | None = None) -> tuple[bool, list[str]]:
    lines: list[str] = []
    ok = run_channel_tests(str(path) if path else None, str(config), echo=lines.append)
    return ok, lines


FIELD_MISMATCH = """\
channel: adt
cases:
  - name: right family name
    file: adt.hl7
    expect:
      destinations:
        svc: {hl7_fields: {"PID-5.1": ZULU}}
  - name: wrong family name
    file: adt.hl7
    expect:
      ack: AA
      destinations:
        svc:
          outcome: delivered
          hl7_fields:
            "PID-3.1": MRN1
            "PID-5.1": XRAY
"""


def test_a_wrong_hl7_field_is_reported_at_its_line_with_a_diff(tmp_path: Path) -> None:
    config, test_file = setup(tmp_path, FIELD_MISMATCH)
    ok, lines = run(config)
    assert not ok
    assert lines[0] == "test adt: right family name ... passed"
    assert lines[1] == "test adt: wrong family name ... FAILED"
    where = f"{test_file}:{line_of(FIELD_MISMATCH, 'XRAY')}: destinations.svc.hl7_fields.PID-5.1"
    assert lines[2].strip() == where
    assert [line.strip() for line in lines[3:8]] == ["--- expected", "+++ actual", "@@ -1 +1 @@",
                                                     "-PID-5.1: XRAY", "+PID-5.1: ZULU"]
    assert lines[-1] == "1 passed, 1 failed"


def test_the_cli_exits_1_when_a_case_fails(tmp_path: Path) -> None:
    config, test_file = setup(tmp_path, FIELD_MISMATCH)
    result = CliRunner().invoke(main, ["test", str(test_file), "--config", str(config)])
    assert result.exit_code == 1
    assert "wrong family name ... FAILED" in result.output and "1 passed, 1 failed" in result.output


SEVERAL = """\
channel: adt
cases:
  - name: several wrong expectations
    file: adt.hl7
    destinations:
      svc: {status: 503}
      lis: {ack: AE}
    expect:
      ack: AE
      filtered: true
      destinations:
        svc: {outcome: delivered}
        lis: {outcome: retry}
        paused: {outcome: delivered}
"""


def test_each_failing_expectation_gets_its_own_line_in_file_order(tmp_path: Path) -> None:
    config, test_file = setup(tmp_path, SEVERAL)
    ok, lines = run(config)
    assert not ok
    reported = [line.strip() for line in lines if line.strip().startswith(str(test_file))]
    expected = [(line_of(SEVERAL, "      ack: AE"), "ack"), (line_of(SEVERAL, "filtered: true"), "filtered"),
                (line_of(SEVERAL, "svc: {outcome"), "destinations.svc.outcome"),
                (line_of(SEVERAL, "lis: {outcome"), "destinations.lis.outcome"),
                (line_of(SEVERAL, "paused: {outcome"), "destinations.paused")]
    assert reported == [f"{test_file}:{n}: {what}" for n, what in expected]
    text = "\n".join(lines)
    assert "-delivered\n    +retry" in text  # 503 retries
    assert "-retry\n    +dead_letter" in text  # the destination's ack_rules make AE permanent
    assert "+no delivery: destination is disabled" in text


UNEXPECTED = """\
channel: adt
cases:
  - name: header cannot be read
    message: "MSH|^~\\\\&|EHR|HOSP|BR|HOSP|20250101||ADT^A01||P|2.5.1"
    expect:
      ack: AR
  - name: header cannot be read, as expected
    message: "MSH|^~\\\\&|EHR|HOSP|BR|HOSP|20250101||ADT^A01||P|2.5.1"
    expect:
      ack: AR
      error: {location: MSH-10, code: 101, reason: control id}
  - name: wrong error expected
    message: "MSH|^~\\\\&|EHR|HOSP|BR|HOSP|20250101||ADT^A01||P|2.5.1"
    expect:
      error: MSH-9
"""


def test_an_error_nobody_expected_fails_the_case_at_its_name(tmp_path: Path) -> None:
    config, test_file = setup(tmp_path, UNEXPECTED)
    ok, lines = run(config)
    assert not ok
    assert lines[0].endswith("header cannot be read ... FAILED")
    assert lines[1].strip().startswith(f"{test_file}:3: unexpected error")
    assert "+location: MSH-10" in "\n".join(lines[2:9])
    assert "header cannot be read, as expected ... passed" in "\n".join(lines)
    wrong = lines.index("test adt: wrong error expected ... FAILED")
    assert lines[wrong + 1].strip() == f"{test_file}:{line_of(UNEXPECTED, 'error: MSH-9')}: error"
    assert [line.strip() for line in lines[wrong + 5:wrong + 7]] == ["-location: MSH-9", "+location: MSH-10"]


PAYLOAD = """\
channel: adt
cases:
  - name: payload differs from the file
    file: adt.hl7
    expect:
      destinations:
        svc: {payload_equals_file: expected.hl7}
"""


def test_a_payload_file_mismatch_shows_a_segment_diff(tmp_path: Path) -> None:
    config, test_file = setup(tmp_path, PAYLOAD)
    # LF segment ends in the expected file compare equal to CR ends; only PID differs.
    (tmp_path / "expected.hl7").write_text(ADT.replace("\r", "\n").replace("YANKEE", "WHISKEY"), encoding="utf-8")
    ok, lines = run(config, test_file)
    assert not ok
    assert lines[1].strip() == f"{test_file}:7: destinations.svc.payload_equals_file"
    body = [line.strip() for line in lines[2:]]
    assert "-PID|1||MRN1^^^HOSP^MR||ZULU^WHISKEY" in body and "+PID|1||MRN1^^^HOSP^MR||ZULU^YANKEE" in body
    assert not any(line.startswith(("-MSH", "+MSH")) for line in body)


FILTERED_THEN_PAYLOAD = """\
channel: adt
cases:
  - name: an ORU is filtered, so there is nothing to check
    message: "MSH|^~\\\\&|LIS|HOSP|BR|HOSP|20250101||ORU^R01|C2|P|2.5.1"
    expect:
      filtered: false
      destinations:
        svc: {outcome: delivered}
"""


def test_expectations_on_a_filtered_message_say_it_was_filtered(tmp_path: Path) -> None:
    config, test_file = setup(tmp_path, FILTERED_THEN_PAYLOAD)
    ok, lines = run(config)
    assert not ok
    text = "\n".join(line.strip() for line in lines)
    assert f"{test_file}:6: filtered\n--- expected\n+++ actual\n@@ -1 +1 @@\n-filtered: false\n+filtered: true" in text
    assert f"{test_file}:8: destinations.svc\n" in text and "+no delivery: filtered: true" in text
