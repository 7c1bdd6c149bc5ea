"""C-CDA (R2.1 and R1.1) -> FHIR R4 Bundle, following the HL7 C-CDA on FHIR maps and US Core 6.1.

    ccda_to_fhir(document, bundle_type="document")   -> Bundle dict, Composition first
    ccda_to_fhir(document, bundle_type="transaction") -> Bundle dict of conditional upserts

The header gives Patient, Practitioner, Organization and Encounter; each structuredBody entry
goes to the mapping its template names (transforms/ccda/sections.py); the original document
travels as a base64 DocumentReference.  Output is plain JSON-ready dicts; ids are deterministic
(UUIDv5 of the document bytes and the resource's identity).  Errors: ParseError for XML that
cannot be read or is not a ClinicalDocument, TransformError for a document that cannot be
mapped; both carry an element path, never document content.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any
from urllib.parse import quote

from hl7bridge.engine.errors import HL7BridgeError, ParseError, TransformError
from hl7bridge.transforms.ccda import datatypes as dt
from hl7bridge.transforms.ccda.cda import V3, find
from hl7bridge.transforms.ccda.context import Context
from hl7bridge.transforms.ccda.document import composition, document_reference, header_encounter, header_resources
from hl7bridge.transforms.ccda.header import patient
from hl7bridge.transforms.ccda.sections import body_sections
from hl7bridge.transforms.xml_safety import parse_xml

BUNDLE_TYPES = ("document", "transaction")


def _parse(document: bytes | str) -> Context:
    raw = document.encode("utf-8") if isinstance(document, str) else document
    root = parse_xml(raw)
    if root.tag != f"{V3}ClinicalDocument":
        raise ParseError("root element is not a CDA ClinicalDocument", location="/")
    if find(root, "cda:recordTarget/cda:patientRole") is None:
        raise TransformError("document has no recordTarget/patientRole", location="/ClinicalDocument/recordTarget")
    return Context(root, raw)


def _timestamp(ctx: Context) -> str:
    """Bundle.timestamp is an instant: the document time when precise enough, else the assembly time."""
    value = dt.ts_of(find(ctx.root, "cda:effectiveTime"))
    if value and "T" in value:
        return value
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _conditional_url(resource: dict[str, Any]) -> str:
    idents = resource.get("identifier") or ([resource["masterIdentifier"]] if "masterIdentifier" in resource else [])
    first = idents[0] if isinstance(idents, list) and idents else None
    if first and first.get("system") and first.get("value"):
        token = quote(f"{first['system']}|{first['value']}", safe=":/|")
        return f"{resource['resourceType']}?identifier={token}"
    return f"{resource['resourceType']}/{resource['id']}"


def _entries(resources: list[dict[str, Any]], transaction: bool) -> list[dict[str, Any]]:
    entries = [{"fullUrl": f"urn:uuid:{r['id']}", "resource": r} for r in resources]
    if transaction:
        urls = [_conditional_url(r) for r in resources]
        # Two resources under one identifier (senders reuse ids) must not overwrite each other.
        shared = {u for u in urls if urls.count(u) > 1}
        for entry, url in zip(entries, urls):
            res = entry["resource"]
            entry["request"] = {"method": "PUT", "url": f"{res['resourceType']}/{res['id']}" if url in shared else url}
    return entries


def ccda_to_fhir(document: bytes | str, *, bundle_type: str = "document") -> dict:
    """Converts one C-CDA document into a FHIR R4 Bundle (plain dict)."""
    if bundle_type not in BUNDLE_TYPES:
        raise TransformError(f"bundle_type must be one of {', '.join(BUNDLE_TYPES)}", location="bundle_type")
    ctx = _parse(document)
    try:
        return _bundle(ctx, bundle_type)
    except HL7BridgeError:
        raise
    except Exception as exc:  # a mapping bug still answers with a location, never a bare exception
        raise TransformError(f"could not map document ({type(exc).__name__})", location="/ClinicalDocument") from exc


def _bundle(ctx: Context, bundle_type: str) -> dict[str, Any]:
    patient(ctx)
    author_refs, custodian = header_resources(ctx)
    encounter = header_encounter(ctx)
    sections = body_sections(ctx)
    document_reference(ctx, author_refs, custodian, encounter)
    transaction = bundle_type == "transaction"
    resources = [r for r in ctx.resources if r["resourceType"] != "Composition"]
    if not transaction:
        resources.insert(0, composition(ctx, sections, encounter, author_refs, custodian))
    bundle: dict[str, Any] = {"resourceType": "Bundle", "type": bundle_type}
    if not transaction:
        bundle["identifier"] = dt.identifier(find(ctx.root, "cda:id")) or {"system": "urn:ietf:rfc:3986",
                                                                            "value": f"urn:uuid:{resources[0]['id']}"}
        bundle["timestamp"] = _timestamp(ctx)
    bundle["entry"] = _entries(resources, transaction)
    return bundle
