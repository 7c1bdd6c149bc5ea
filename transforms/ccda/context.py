"""State of one C-CDA to FHIR conversion: resources made so far, deterministic ids, narrative text.

Ids are UUIDv5 of the document's identity plus the resource's own key (its first identifier, or
its element path), so converting the same document twice gives the same ids, and an entry seen
in two sections (same ``id``) becomes one resource.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import Any

from hl7bridge.transforms.ccda.cda import Element, find_all, local_path, text_of

_NAMESPACE = uuid.UUID("7b0f3c1e-5b55-4f33-9a52-2f3d1c0e8a11")

PROFILE = "http://hl7.org/fhir/us/core/StructureDefinition/"


class Context:
    """Collects resources for one document; ``add`` returns the reference to use."""

    def __init__(self, root: Element, raw: bytes) -> None:
        self.root = root
        self.raw = raw
        self.doc_key = hashlib.sha256(raw).hexdigest()
        self.resources: list[dict[str, Any]] = []
        self._by_key: dict[str, dict[str, Any]] = {}
        self._narrative = {el.get("ID"): el for el in find_all(root, "//*[@ID]")}
        self.patient_ref: dict[str, str] | None = None

    def narrative(self, reference: str) -> str | None:
        """Text of the narrative element a ``<reference value="#id"/>`` points at."""
        return text_of(self._narrative.get(reference.lstrip("#")))

    def key_for(self, resource: dict[str, Any], element: Element | None, identifier: dict[str, Any] | None) -> str:
        """Same identifier and same content -> same resource (an entry repeated in two sections).

        Content is part of the key because senders reuse one id for different entries (two
        weights measured on different days under one id are two Observations, not one).
        """
        resource_type = resource["resourceType"]
        if identifier and identifier.get("value"):
            digest = hashlib.sha256(json.dumps(resource, sort_keys=True).encode()).hexdigest()[:16]
            return f"{resource_type}|{identifier.get('system', '')}|{identifier['value']}|{digest}"
        return f"{resource_type}|{local_path(element) if element is not None else ''}"

    def add(self, resource: dict[str, Any], element: Element | None = None, *, key: str | None = None) -> dict[str, str]:
        """Adds a resource (or finds the one already made for the same key) and returns a Reference."""
        idents = resource.get("identifier")
        first = idents[0] if isinstance(idents, list) and idents else None
        key = key or self.key_for(resource, element, first)
        if key in self._by_key:
            return reference(self._by_key[key])
        resource["id"] = str(uuid.uuid5(_NAMESPACE, f"{self.doc_key}|{key}"))
        self._by_key[key] = resource
        self.resources.append(resource)
        return reference(resource)


def reference(resource: dict[str, Any]) -> dict[str, str]:
    return {"reference": f"urn:uuid:{resource['id']}"}


def profiled(resource: dict[str, Any], *profiles: str) -> dict[str, Any]:
    """Puts US Core profile canonicals in meta.profile (first keys of the dict for readability)."""
    head = {"resourceType": resource.pop("resourceType")}
    if profiles:
        head["meta"] = {"profile": [PROFILE + p for p in profiles]}
    return {**head, **resource}
