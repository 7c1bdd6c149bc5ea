"""Every HL7v2 message in ../shared/corpora converts to a valid Bundle or fails with a specific error.

All 581 messages are run (no sampling): Microsoft FHIR-Converter's 139 samples, LinuxForHealth's
435 test messages and the IG's 7 benchmark messages.  Each Bundle is validated with
fhir.resources (R4B) and checked against US Core 6.1, its invariants included (a resource claims a
profile only where it meets them: docs/us-core-invariants.md); the counts are printed.
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

import pytest

from hl7bridge.engine.errors import ParseError, TransformError
from hl7bridge.transforms.fhir.uscore import checker_for
from hl7bridge.transforms.hl7v2.message import Message
from hl7bridge.transforms.hl7v2_to_fhir import hl7v2_to_fhir

CORPORA = Path(__file__).resolve().parents[3] / "shared" / "corpora"
SOURCES = {
    "microsoft": ("microsoft-fhir-converter/samples/Hl7v2", "*.hl7", 139),
    "linuxforhealth": ("linuxforhealth-messages", "*.hl7", 435),
    "ig-benchmark": ("hl7-v2-to-fhir/benchmark-messages", "*.hl7", 7),
}
pytestmark = pytest.mark.corpus


def _corpus(name: str) -> list[Path]:
    folder, pattern, _ = SOURCES[name]
    path = CORPORA / folder
    if not path.is_dir():
        if os.environ.get("CI") == "true":
            pytest.fail(f"corpus missing: {path}")
        pytest.skip(f"corpus not found at {path} (clone ../shared to run)")
    return sorted(path.rglob(pattern))


@pytest.mark.parametrize("name", sorted(SOURCES))
def test_every_message_converts_or_fails_specifically(name: str) -> None:
    files = _corpus(name)
    assert len(files) == SOURCES[name][2]
    checker = checker_for(CORPORA)
    converted, crashes, us_core = 0, [], []
    errors: Counter = Counter()
    for path in files:
        try:
            bundle = hl7v2_to_fhir(path.read_bytes(), strict=True)
        except (ParseError, TransformError) as exc:
            assert exc.location, f"{path.name}: error without a location"
            errors[f"{type(exc).__name__} {exc.location}"] += 1
            continue
        except Exception as exc:  # noqa: BLE001 - the point is to count them
            crashes.append(f"{path.name}: {type(exc).__name__}")
            continue
        converted += 1
        if checker is not None:
            us_core += [f"{path.name} {issue}" for issue in checker.check_bundle(bundle)]
    print(f"\n{name}: {len(files)} messages, {converted} Bundles, {sum(errors.values())} specific errors, "
          f"{len(crashes)} crashes, {len(us_core)} US Core issues")
    for reason, count in errors.most_common():
        print(f"  {count:4}  {reason}")
    for issue, count in Counter(i.split(" ", 2)[2].split(" at ")[0] for i in us_core).most_common():
        print(f"  {count:4}  US Core {issue}")
    assert crashes == []
    assert us_core == []


def test_bundle_counts_do_not_regress() -> None:
    """A floor under today's numbers (400 of 581 convert), so a mapping change that breaks many shows."""
    total = 0
    for name in SOURCES:
        for path in _corpus(name):
            try:
                hl7v2_to_fhir(path.read_bytes())
                total += 1
            except (ParseError, TransformError):
                pass
    assert total >= 395


@pytest.mark.parametrize("name", sorted(SOURCES))
def test_parse_and_re_encode_keeps_every_segment(name: str) -> None:
    for path in _corpus(name):
        try:
            msg = Message.parse(path.read_bytes(), require_header=False)
        except ParseError:
            continue
        again = Message.parse(msg.to_er7(), require_header=False)
        assert [s.raw for s in again] == [s.raw for s in msg], path.name
