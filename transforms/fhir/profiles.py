"""Canonical URLs the transforms put in ``meta.profile`` and extensions."""

from __future__ import annotations

US_CORE = "http://hl7.org/fhir/us/core/StructureDefinition/"
FHIR_EXT = "http://hl7.org/fhir/StructureDefinition/"
DATA_ABSENT = FHIR_EXT + "data-absent-reason"


def profiled(resource: dict, name: str) -> dict:
    """Declare the US Core profile ``name`` (e.g. ``us-core-patient``) on ``resource``."""
    resource["meta"] = {"profile": [US_CORE + name]}
    return resource


def absent(reason: str = "unknown") -> dict:
    """A CodeableConcept / HumanName that only says why the value is missing."""
    return {"extension": [{"url": DATA_ABSENT, "valueCode": reason}]}
