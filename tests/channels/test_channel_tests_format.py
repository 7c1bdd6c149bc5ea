"""Problems in a test file (or the config) are reported with file:line:col before anything runs."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from hl7bridge.channels.load import load_config
from hl7bridge.channels.testing import run_channel_tests
from hl7bridge.channels.testing_spec import read_test_file
from hl7bridge.cli import main
from hl7bridge.engine.errors import ConfigErrors

CONFIG = """\
channels:
  adt:
    source: {type: mllp, listen: "127.0.0.1:2575"}
    destinations:
      patient_service: {type: file, directory: out}
"""
ADT = b"MSH|^~\\&|EHR|HOSP|BR|HOSP|20250101||ADT^A01|C1|P|2.5.1\rPID|1||MRN1\r"


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "channels.yaml").write_text(CONFIG, encoding="utf-8")
    (tmp_path / "adt.hl7").write_bytes(ADT)
    return tmp_path


def errors_of(folder: Path, text: str) -> list[str]:
    path = folder / "x.test.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigErrors) as caught:
        read_test_file(path, load_config(folder / "channels.yaml"))
    return [e.render().replace(f"{path}:", "") for e in caught.value.errors]


def test_unknown_keys_are_reported_at_their_line_and_column_with_a_suggestion(folder: Path) -> None:
    errors = errors_of(folder, """\
channel: adt
cases:
  - name: typo
    file: adt.hl7
    expekt: {ack: AA}
  - name: more typos
    file: adt.hl7
    expect:
      ack: AA
      destinations:
        patient_service: {outcom: delivered, hl7_field: {"PID-3": MRN1}}
""")
    assert errors == [
        "5:5 error [unknown-key] unknown key 'expekt' in a case (did you mean 'expect'?)",
        "11:27 error [unknown-key] unknown key 'outcom' in destinations.patient_service (did you mean 'outcome'?)",
        "11:46 error [unknown-key] unknown key 'hl7_field' in destinations.patient_service "
        "(did you mean 'hl7_fields'?)",
    ]


def test_unknown_channel_and_destination_names_suggest_the_known_ones(folder: Path) -> None:
    assert errors_of(folder, "channel: adx\ncases:\n  - {name: a, file: adt.hl7}\n") == [
        "1:10 error [unknown-channel] the config has no channel 'adx' (did you mean 'adt'?)"]
    errors = errors_of(folder, """\
channel: adt
cases:
  - name: a
    file: adt.hl7
    destinations:
      patient_servce: {status: 503}
    expect:
      destinations:
        archive: {outcome: delivered}
""")
    assert errors == [
        "6:7 error [unknown-destination] the channel has no destination 'patient_servce' "
        "(did you mean 'patient_service'?)",
        "9:9 error [unknown-destination] the channel has no destination 'archive' (destinations: patient_service)",
    ]


def test_inputs_and_values_are_checked(folder: Path) -> None:
    errors = errors_of(folder, """\
channel: adt
cases:
  - name: no input
  - name: two inputs
    file: adt.hl7
    message: "MSH|^~\\\\&|A"
  - name: missing fixture
    file: nowhere.hl7
  - name: bad values
    file: adt.hl7
    destinations:
      patient_service: {status: 999, ack: AE}
    expect:
      ack: OK
      filtered: maybe
      destinations:
        patient_service: {outcome: sent, hl7_fields: {"pid-3": MRN1}, payload_equals_file: gone.hl7}
""")
    assert errors == [
        "3:5 error [missing-key] a case needs exactly one of 'file' or 'message' "
        "(file: fixtures/adt_a01.hl7, or message: | with the text)",
        "4:5 error [missing-key] a case needs exactly one of 'file' or 'message' "
        "(file: fixtures/adt_a01.hl7, or message: | with the text)",
        f"8:11 error [file-not-found] file: no file 'nowhere.hl7' beside the test file "
        f"(paths are relative to {folder.as_posix()}/)",
        "12:24 error [invalid-value] the mocked response of patient_service has both status and ack "
        "(status: for an HTTP answer, ack: for an HL7 ACK; keep one)",
        "14:12 error [invalid-value] 'OK' is not allowed in ack (expected one of: AA, AE, AR, CA, CE, CR, none)",
        "15:17 error [bad-type] filtered should be true or false (write true or false)",
        "17:36 error [invalid-value] 'sent' is not allowed in outcome (expected one of: delivered, retry, dead_letter)",
        "17:55 error [invalid-value] 'pid-3' is not an HL7 path (e.g. PID-5.1, PID-3[1].4, OBX[2]-5)",
        f"17:92 error [file-not-found] payload_equals_file: no file 'gone.hl7' beside the test file "
        f"(paths are relative to {folder.as_posix()}/)",
    ]


def test_missing_keys_duplicates_and_yaml_syntax(folder: Path) -> None:
    assert errors_of(folder, "cases: []\n") == [
        "1:1 error [missing-key] missing required key 'channel' in the test file (add channel: ...)"]
    assert errors_of(folder, "channel: adt\ncases: []\n") == [
        "2:8 error [bad-type] cases should be a list with at least one entry (lines starting '- ')"]
    assert errors_of(folder, "channel: adt\nchannel: adt\ncases:\n  - {name: a, file: adt.hl7}\n") == [
        "2:1 error [duplicate-key] duplicate key 'channel' (first defined at line 1; keep one)"]
    assert errors_of(folder, "channel: adt\ncases:\n  - name: [a\n")[0].startswith("4:1 error [yaml-syntax]")
    assert errors_of(folder, "channel: adt\ncases:\n  - {name: a, file: adt.hl7}\n  - {name: a, file: adt.hl7}\n") == [
        "4:12 error [duplicate-case] duplicate case name 'a' (first used at line 3; name each case apart)"]


def test_an_invalid_test_file_fails_the_run_but_the_others_still_run(folder: Path) -> None:
    (folder / "a.test.yaml").write_text("channel: adt\ncases:\n  - {name: fine, file: adt.hl7}\n")
    (folder / "b.test.yaml").write_text("channel: adt\ncases:\n  - {name: bad, file: adt.hl7, expekt: {}}\n")
    lines: list[str] = []
    assert run_channel_tests(None, str(folder / "channels.yaml"), echo=lines.append) is False
    assert lines == [
        "test adt: fine ... passed",
        f"{folder / 'b.test.yaml'}:3:32 error [unknown-key] unknown key 'expekt' in a case (did you mean 'expect'?)",
        "1 passed, 0 failed, 1 invalid test file(s)",
    ]


def test_an_invalid_config_is_reported_and_no_test_runs(folder: Path) -> None:
    (folder / "channels.yaml").write_text(CONFIG.replace("directory: out", "directry: out"), encoding="utf-8")
    (folder / "a.test.yaml").write_text("channel: adt\ncases:\n  - {name: fine, file: adt.hl7}\n")
    result = CliRunner().invoke(main, ["test", "--config", str(folder / "channels.yaml")])
    assert result.exit_code == 1
    assert f"{folder / 'channels.yaml'}:5:37 error [unknown-key]" in result.output
    assert "the config is invalid; no tests were run" in result.output
    assert "test adt" not in result.output


def test_a_folder_without_test_files_is_a_failure_not_a_silent_pass(folder: Path) -> None:
    result = CliRunner().invoke(main, ["test", str(folder), "--config", str(folder / "channels.yaml")])
    assert result.exit_code == 1
    assert f"no test files (*.test.yaml) found in {folder}" in result.output
    result = CliRunner().invoke(main, ["test", str(folder / "nowhere"), "--config", str(folder / "channels.yaml")])
    assert result.exit_code == 1
    assert f"{folder / 'nowhere'}: no such file or folder" in result.output
