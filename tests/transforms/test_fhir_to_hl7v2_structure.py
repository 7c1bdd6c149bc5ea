"""fhir_to_hl7v2 output checked against the HL7 message structures and datatypes with hl7apy (strict).

hl7apy is the project's optional strict validator.  Versions 2.4 to 2.5.1 are checked; 2.3 and
2.3.1 are not, because hl7apy's tables there disagree with the standard in ways that are not ours
(it reads ADT^A04 as an unknown structure in 2.3, and takes OBX-4, conditional, as required in
2.3.1); ORM^O01 is not, because hl7apy models its OBR/RQD/RQ1/RXO/ODS/ODT choice as all required.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hl7apy.consts import VALIDATION_LEVEL
from hl7apy.exceptions import HL7apyException
from hl7apy.parser import parse_message

from hl7bridge.transforms.fhir_to_hl7v2 import fhir_to_hl7v2
from hl7bridge.transforms.hl7v2_to_fhir import hl7v2_to_fhir

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "hl7v2"


@pytest.mark.parametrize("version", ["2.4", "2.5", "2.5.1"])
@pytest.mark.parametrize(("fixture", "message_type"), [
    ("adt_a01.hl7", None), ("adt_a01.hl7", "ADT^A08"), ("oru_r01_20obx.hl7", None),
    ("oru_r01_20obx.hl7", "OML^O21")])
def test_output_is_valid_for_its_version_structure(fixture: str, message_type: str | None, version: str) -> None:
    bundle = hl7v2_to_fhir((FIXTURES / fixture).read_bytes())
    for entry in bundle["entry"]:  # give orders a timing, so that TQ1 is placed and checked too
        if entry["resource"]["resourceType"] == "ServiceRequest":
            entry["resource"].update(priority="stat", occurrenceDateTime="2024-01-02T03:04:05Z")
    message = fhir_to_hl7v2(bundle, message_type=message_type, version=version)
    parsed = parse_message(message.to_er7(), validation_level=VALIDATION_LEVEL.STRICT, find_groups=True)
    assert parsed.validate() is True
    assert parsed.version == version
    assert bool(message.segments("TQ1")) == (version != "2.4" and fixture.startswith("oru"))


def test_the_strict_check_does_catch_a_wrong_datatype() -> None:
    bundle = hl7v2_to_fhir((FIXTURES / "adt_a01.hl7").read_bytes())
    text = fhir_to_hl7v2(bundle, version="2.5").to_er7().replace("PID|1|", "PID|one|", 1)
    with pytest.raises((ValueError, HL7apyException)):
        parse_message(text, validation_level=VALIDATION_LEVEL.STRICT, find_groups=True).validate()
