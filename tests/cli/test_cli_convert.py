"""`hl7bridge convert`: offline conversions for analysts, exit 0 with output or 1 with a positioned error."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from hl7bridge.cli import EXIT_FAILURE, EXIT_OK, main

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def test_hl7v2_converts_to_a_fhir_bundle_and_back_to_hl7v2_and_to_a_ccd(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["convert", str(FIXTURES / "hl7v2" / "adt_a01.hl7"), "--to", "fhir"])
    assert result.exit_code == EXIT_OK
    bundle = json.loads(result.output)
    assert bundle["resourceType"] == "Bundle" and any(e["resource"]["resourceType"] == "Patient" for e in bundle["entry"])
    path = tmp_path / "bundle.json"
    path.write_text(result.output)
    back = CliRunner().invoke(main, ["convert", str(path), "--to", "hl7v2"])
    assert back.exit_code == EXIT_OK and back.output.startswith("MSH|") and "\nPID|" in back.output
    ccd = CliRunner().invoke(main, ["convert", str(path), "--to", "ccda"])
    assert ccd.exit_code == EXIT_OK and "<ClinicalDocument" in ccd.output


def test_a_ccda_document_converts_to_fhir() -> None:
    result = CliRunner().invoke(main, ["convert", str(FIXTURES / "ccda" / "hl7_ccd_r21.xml"), "--to", "fhir"])
    assert result.exit_code == EXIT_OK and json.loads(result.output)["type"] == "document"


def test_a_bad_file_exits_1_with_a_position_and_no_content(tmp_path: Path) -> None:
    bad = tmp_path / "bad.hl7"
    bad.write_bytes(b"MSH|^~\\&|A|B|C|D|2024||ADT^A01|X1|P|2.5.1\rPID|1||SECRETID^^^H^MR||SECRETNAME||NOTADATE\r")
    result = CliRunner().invoke(main, ["convert", str(bad), "--to", "fhir"])  # output holds stderr too
    assert result.exit_code == EXIT_FAILURE
    assert "PID" in result.output and "SECRETNAME" not in result.output and "NOTADATE" not in result.output
