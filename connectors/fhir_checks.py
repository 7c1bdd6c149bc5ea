"""What the HTTP source needs to know about a posted FHIR resource or C-CDA document.

``validate_resource`` runs the fhir.resources R4B models (R4B matches R4 on the resources we
take; see design.md) and reports element paths with a generic reason: pydantic's messages and
inputs are never passed on, so no posted value can reach a reply or a log.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from hl7bridge.engine.intake import Document

REASONS = {"missing": "required element missing", "extra_forbidden": "unknown element",
           "string_type": "must be a string", "list_type": "must be an array", "bool_type": "must be a boolean",
           "int_type": "must be an integer", "decimal_type": "must be a number", "dict_type": "must be an object",
           "model_type": "must be an object", "enum": "code not allowed", "literal_error": "code not allowed"}


@dataclass(slots=True)
class Described:
    resource_types: set[str] = field(default_factory=set)
    bundle_type: str = ""
    patient_id: str = ""


def describe(resource: dict[str, Any]) -> Described:
    info = Described({resource["resourceType"]})
    if resource["resourceType"] == "Bundle":
        info.bundle_type = str(resource.get("type", ""))
        for entry in resource.get("entry") or []:
            inner = entry.get("resource") if isinstance(entry, dict) else None
            if isinstance(inner, dict) and isinstance(inner.get("resourceType"), str):
                info.resource_types.add(inner["resourceType"])
                if inner["resourceType"] == "Patient" and not info.patient_id:
                    info.patient_id = _first_identifier(inner)
    elif resource["resourceType"] == "Patient":
        info.patient_id = _first_identifier(resource)
    return info


def _first_identifier(patient: dict[str, Any]) -> str:
    for identifier in patient.get("identifier") or []:
        if isinstance(identifier, dict) and identifier.get("value"):
            return str(identifier["value"])[:64]
    return ""


def validate_resource(resource: dict[str, Any]) -> list[tuple[str, str]]:
    """[(element path, reason)] for a resource that does not validate; [] when it does."""
    from fhir.resources.R4B import get_fhir_model_class

    try:
        model = get_fhir_model_class(resource["resourceType"])
    except KeyError:
        return [("resourceType", "unknown resource type")]
    try:
        model.model_validate(resource)
    except ValidationError as exc:
        return [(_path(resource["resourceType"], err["loc"]), REASONS.get(err["type"], "invalid value"))
                for err in exc.errors()]
    except (ValueError, TypeError):
        return [(resource["resourceType"], "invalid resource")]
    return []


def _path(root: str, loc: tuple[Any, ...]) -> str:
    text = root
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else f".{part}"
    return text


CDA_NS = "{urn:hl7-org:v3}"


def describe_ccda(root: Any, body: bytes, correlation_id: str | None) -> Document | None:
    if root.tag != f"{CDA_NS}ClinicalDocument":
        return None
    doc_id = root.find(f"{CDA_NS}id")
    control = ""
    if doc_id is not None:
        control = (doc_id.get("extension") or doc_id.get("root") or "")[:64]
    patient = root.find(f"{CDA_NS}recordTarget/{CDA_NS}patientRole/{CDA_NS}id")
    code = root.find(f"{CDA_NS}code")
    return Document(body, "application/xml", message_type="CCDA",
                    trigger_event=(code.get("code") or "")[:16] if code is not None else "", control_id=control,
                    patient_id=(patient.get("extension") or "")[:64] if patient is not None else "",
                    correlation_id=correlation_id)
