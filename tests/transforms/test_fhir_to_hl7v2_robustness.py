"""fhir_to_hl7v2 on damaged input: every element of two real bundles replaced by a value of the wrong
shape must give a message or a TransformError, never another exception, and no error text may
carry a patient's name, identifier or birth date (invariant 5)."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path

import pytest

from hl7bridge.engine.errors import HL7BridgeError
from hl7bridge.transforms.fhir_to_hl7v2 import fhir_to_hl7v2
from hl7bridge.transforms.hl7v2_to_fhir import hl7v2_to_fhir

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "hl7v2"
WRONG_SHAPES = (None, 5, {})  # absent, a scalar where a structure belongs, a structure where text belongs


def element_paths(node: object, path: tuple = ()) -> Iterator[tuple]:
    """Paths to every element (every entry; the first two items of lists inside resources)."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield path + (key,)
            yield from element_paths(value, path + (key,))
    elif isinstance(node, list):
        for i, value in enumerate(node if len(path) == 1 else node[:2]):
            yield path + (i,)
            yield from element_paths(value, path + (i,))


def patient_values(bundle: dict) -> set[str]:
    found: set[str] = set()
    for entry in bundle["entry"]:
        res = entry["resource"]
        if res["resourceType"] == "Patient":
            for name in res.get("name", []):
                found.update([name.get("family", ""), *name.get("given", [])])
            found.update(i["value"] for i in res.get("identifier", []))
            found.add(res.get("birthDate", ""))
    return {v for v in found if len(v) >= 3}


@pytest.mark.parametrize("fixture", ["adt_a01.hl7", "oru_r01_20obx.hl7"])
def test_wrong_shapes_anywhere_give_a_message_or_a_clean_transform_error(fixture: str) -> None:
    bundle = hl7v2_to_fhir((FIXTURES / fixture).read_bytes())
    secrets = patient_values(bundle)
    cases = errors = 0
    for path in element_paths(bundle["entry"], ("entry",)):
        for wrong in WRONG_SHAPES:
            damaged = copy.deepcopy(bundle)
            node = damaged
            for key in path[:-1]:
                node = node[key]
            node[path[-1]] = wrong
            cases += 1
            try:
                fhir_to_hl7v2(damaged, control_id="X")
            except HL7BridgeError as exc:  # anything else fails the test by itself
                errors += 1
                assert not [s for s in secrets if s in str(exc)], path
    assert cases > 1000 and errors > 0
