"""Channels with mapping steps: field steps and python mapping code run in tests as in the engine."""

from __future__ import annotations

from pathlib import Path

import pytest

from hl7bridge.channels.testing import run_channel_tests

CONFIG = """\
channels:
  adt:
    source: {type: mllp, listen: "127.0.0.1:2575"}
    steps:
      - set: {path: MSH-5, value: PATIENTSVC}
      - map: {path: PID-8, table: {F: female, M: male}, default: unknown}
      - python: {module}:{function}
    destinations:
      svc: {type: http, endpoint: "http://localhost:9/fhir"}
"""
ADT = "MSH|^~\\&|EHR|HOSP|BR|HOSP|20250101||ADT^A01|C1|P|2.5.1\rPID|1||MRN1^^^HOSP^MR||ZULU^YANKEE||19700101|F\r"
MAPPING = '''\
def tag(payload):
    payload.data.set("PID-3[1].5", "MR")

def broken(payload):
    raise RuntimeError("bug")

def refuse(payload):
    raise KeyError("PV1")
'''
TESTS = """\
channel: adt
cases:
  - name: the steps ran
    file: adt.hl7
    expect:
      ack: AA
      destinations:
        svc: {hl7_fields: {"MSH-5": PATIENTSVC, "PID-8": female, "PID-3.1": MRN1}}
"""


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> Path:
    module = f"site_mapping_{request.node.name[:40]}"
    (tmp_path / f"{module}.py").write_text(MAPPING, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / "adt.hl7").write_bytes(ADT.encode())
    (tmp_path / "module").write_text(module, encoding="utf-8")
    return tmp_path


def run(folder: Path, function: str, tests: str) -> tuple[bool, list[str]]:
    module = (folder / "module").read_text(encoding="utf-8")
    (folder / "channels.yaml").write_text(CONFIG.replace("{module}", module).replace("{function}", function))
    (folder / "t.test.yaml").write_text(tests, encoding="utf-8")
    lines: list[str] = []
    return run_channel_tests(str(folder / "t.test.yaml"), str(folder / "channels.yaml"), echo=lines.append), lines


def test_field_steps_and_python_mapping_code_change_the_payload(folder: Path) -> None:
    ok, lines = run(folder, "tag", TESTS.replace('"PID-3.1": MRN1', '"PID-3.5": MR'))
    assert ok, lines
    assert lines == ["test adt: the steps ran ... passed", "1 passed, 0 failed"]


def test_mapping_code_that_refuses_a_message_is_an_expected_error(folder: Path) -> None:
    tests = TESTS.replace("""      destinations:
        svc: {hl7_fields: {"MSH-5": PATIENTSVC, "PID-8": female, "PID-3.1": MRN1}}
""", """      error: {reason: failed (KeyError)}
      filtered: false
""")
    ok, lines = run(folder, "refuse", tests)
    assert not ok  # filtered: false is not true of a message that errored
    assert lines[1].strip().endswith("t.test.yaml:8: filtered")
    assert "+errored (neither filtered nor passed)" in [line.strip() for line in lines]
    ok, lines = run(folder, "refuse", tests.replace("      filtered: false\n", ""))
    assert ok, lines


def test_a_bug_in_mapping_code_fails_the_case(folder: Path) -> None:
    ok, lines = run(folder, "broken", TESTS)
    assert not ok
    assert lines[0] == "test adt: the steps ran ... FAILED"
    assert lines[1].strip().endswith("t.test.yaml:3: a step failed")
    assert "+RuntimeError raised in a step" in [line.strip() for line in lines]


def test_mapping_code_that_cannot_be_imported_makes_the_file_invalid(folder: Path) -> None:
    ok, lines = run(folder, "missing_function", TESTS)
    assert not ok
    assert lines[0].startswith(f"{folder / 't.test.yaml'}:1:1 error [python-step] the channel's steps cannot be built")
    assert lines[-1] == "0 passed, 0 failed, 1 invalid test file(s)"
