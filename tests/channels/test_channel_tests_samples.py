"""The shipped sample config's channel tests pass, through the CLI, on a fresh clone."""

from __future__ import annotations

from pathlib import Path

import yaml
from click.testing import CliRunner

from hl7bridge.channels.load import load_config
from hl7bridge.cli import main

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "config" / "channels.yaml"


def test_hl7bridge_test_passes_on_the_sample_config_and_exits_0() -> None:
    result = CliRunner().invoke(main, ["test", "--config", str(CONFIG)])
    assert result.exit_code == 0, result.output
    assert "FAILED" not in result.output
    summary = result.output.strip().splitlines()[-1]
    passed = int(summary.split(" passed")[0])
    assert passed >= 14 and summary.endswith(" 0 failed")


def test_every_sample_channel_has_a_delivered_case_and_a_filtered_case() -> None:
    channels = set(load_config(CONFIG).channels)
    covered: dict[str, set[str]] = {}
    for file in (REPO / "config").glob("*.test.yaml"):
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
        for case in data["cases"]:
            expect = case.get("expect", {})
            kinds = covered.setdefault(data["channel"], set())
            if expect.get("filtered") is True:
                kinds.add("filtered")
            if any(d.get("outcome") == "delivered" for d in expect.get("destinations", {}).values()):
                kinds.add("delivered")
    assert set(covered) == channels
    assert all(kinds == {"filtered", "delivered"} for kinds in covered.values()), covered


def test_one_test_file_can_be_run_alone() -> None:
    result = CliRunner().invoke(main, ["test", str(REPO / "config" / "mdm_to_documents_service.test.yaml"),
                                       "--config", str(CONFIG)])
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert all(line.startswith("test mdm_to_documents_service: ") for line in lines[:-1])
    assert lines[-1] == f"{len(lines) - 1} passed, 0 failed"


def test_sample_fixtures_keep_their_carriage_returns() -> None:
    # .gitattributes marks *.hl7 -text; a checkout that turned CR into LF would still pass, but the
    # fixtures are meant to be the bytes an MLLP sender puts on the wire.
    for fixture in (REPO / "config" / "fixtures").glob("*.hl7"):
        assert b"\r" in fixture.read_bytes() and b"\n" not in fixture.read_bytes(), fixture.name
