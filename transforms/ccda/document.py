"""Document-level resources: Composition, DocumentReference (the original, base64), the
encompassingEncounter as an Encounter, and the document type the header declares."""

from __future__ import annotations

import base64
from typing import Any

from hl7bridge.engine.errors import TransformError
from hl7bridge.transforms.ccda import datatypes as dt
from hl7bridge.transforms.ccda.cda import attr, find, find_all, has_template, text_of
from hl7bridge.transforms.ccda.common import required_concept
from hl7bridge.transforms.ccda.context import Context, profiled
from hl7bridge.transforms.ccda.header import authors, organization, practitioner
from hl7bridge.transforms.ccda.procedures import encounter_class, encounter_status

D = "2.16.840.1.113883.10.20.22.1."
# Document templates, most specific first (every one of them also declares the US Realm Header).
DOCUMENT_TYPES: list[tuple[str, str]] = [
    (D + "2", "ccd"), (D + "8", "discharge_summary"), (D + "14", "referral_note"), (D + "9", "progress_note"),
    (D + "4", "consultation_note"), (D + "3", "history_and_physical"), (D + "7", "operative_note"),
    (D + "6", "procedure_note"), (D + "13", "transfer_summary"), (D + "15", "care_plan"),
    (D + "5", "diagnostic_imaging_report"), (D + "10", "unstructured_document"),
]
FORMAT_SYSTEM = "http://ihe.net/fhir/ihe.formatcode.fhir/CodeSystem/formatcode"
DOC_CATEGORY = {"system": "http://hl7.org/fhir/us/core/CodeSystem/us-core-documentreference-category",
                "code": "clinical-note", "display": "Clinical Note"}


def document_type(ctx: Context) -> str:
    """``ccd``, ``discharge_summary``... from the header templates; ``unknown`` when none matches."""
    return next((name for oid, name in DOCUMENT_TYPES if has_template(ctx.root, oid)), "unknown")


def is_r21(ctx: Context) -> bool:
    return any(t.get("extension") for t in find_all(ctx.root, "cda:templateId"))


def header_encounter(ctx: Context) -> dict[str, str] | None:
    enc = find(ctx.root, "cda:componentOf/cda:encompassingEncounter")
    if enc is None:
        return None
    period = dt.period(find(enc, "cda:effectiveTime"))
    people = [practitioner(ctx, e) for e in find_all(enc, "cda:encounterParticipant/cda:assignedEntity")
              + find_all(enc, "cda:responsibleParty/cda:assignedEntity")]
    resource = {
        "resourceType": "Encounter",
        "identifier": dt.identifiers(find_all(enc, "cda:id")),
        "status": encounter_status(enc, period),
        "class": encounter_class(find(enc, "cda:code")),
        "type": [required_concept(ctx, enc)],  # 1..* in US Core; the header's code is optional in CDA
        "subject": ctx.patient_ref,
        "participant": [{"individual": p} for p in people if p],
        "period": period,
        "hospitalization": {"dischargeDisposition": dt.concept(find(enc, "cda:dischargeDispositionCode"))},
    }
    return ctx.add(profiled(dt.compact(resource), "us-core-encounter"), enc)


def _attesters(ctx: Context) -> list[dict[str, Any]]:
    result = []
    for path, mode in (("cda:legalAuthenticator", "legal"), ("cda:authenticator", "professional")):
        for auth in find_all(ctx.root, path):
            party = practitioner(ctx, find(auth, "cda:assignedEntity"))
            result.append(dt.compact({"mode": mode, "time": dt.ts_of(find(auth, "cda:time")), "party": party}))
    return result


def composition(ctx: Context, sections: list[dict[str, Any]], encounter: dict[str, str] | None,
                author_refs: list[dict[str, str]], custodian: dict[str, str] | None) -> dict[str, Any]:
    doc_code = dt.concept(find(ctx.root, "cda:code"))
    title = text_of(ctx.root, "cda:title") or (doc_code or {}).get("text") or "Clinical document"
    events = [dt.compact({"code": [dt.concept(find(e, "cda:code"))], "period": dt.period(find(e, "cda:effectiveTime"))})
              for e in find_all(ctx.root, "cda:documentationOf/cda:serviceEvent")]
    resource = dt.compact({
        "resourceType": "Composition",
        "identifier": dt.identifier(find(ctx.root, "cda:id")),
        "status": "final",
        "type": doc_code or {"extension": [dt.absent(attr(ctx.root, "cda:code", "nullFlavor"))]},
        "subject": ctx.patient_ref,
        "encounter": encounter,
        "date": dt.ts_of(find(ctx.root, "cda:effectiveTime")),
        "author": author_refs or ([custodian] if custodian else [{"display": "unknown"}]),
        "title": title,
        "confidentiality": attr(ctx.root, "cda:confidentialityCode", "code"),
        "attester": _attesters(ctx),
        "custodian": custodian,
        "event": events,
        "section": sections,
    })
    if not resource.get("date"):
        # Composition.date is 1..1 and a clinical document's time cannot be made up.
        raise TransformError("document has no valid effectiveTime", location="/ClinicalDocument/effectiveTime")
    resource = profiled(resource)
    ctx.add(resource, ctx.root, key="Composition")
    return resource


def document_reference(ctx: Context, author_refs: list[dict[str, str]], custodian: dict[str, str] | None,
                       encounter: dict[str, str] | None) -> dict[str, str]:
    structured = find(ctx.root, "cda:component/cda:structuredBody") is not None
    version = "2.1" if is_r21(ctx) else "1.1"
    fmt = f"urn:hl7-org:sdwg:ccda-{'structuredBody' if structured else 'nonXMLBody'}:{version}"
    resource = dt.compact({
        "resourceType": "DocumentReference",
        "masterIdentifier": dt.identifier(find(ctx.root, "cda:id")),
        "identifier": dt.identifiers(find_all(ctx.root, "cda:setId")),
        "status": "current",
        "type": dt.concept(find(ctx.root, "cda:code")) or {"text": "Clinical document"},
        "category": [{"coding": [DOC_CATEGORY]}],
        "subject": ctx.patient_ref,
        "author": author_refs,
        "custodian": custodian,
        "description": text_of(ctx.root, "cda:title"),
        "content": [{
            "attachment": {"contentType": "application/xml", "data": base64.b64encode(ctx.raw).decode("ascii"),
                           "title": text_of(ctx.root, "cda:title")},
            "format": {"system": FORMAT_SYSTEM, "code": fmt},
        }],
        "context": {"encounter": [encounter] if encounter else [],
                    "period": dt.period(find(ctx.root, "cda:documentationOf/cda:serviceEvent/cda:effectiveTime"))},
    })
    return ctx.add(profiled(resource, "us-core-documentreference"), ctx.root, key="DocumentReference")


def header_resources(ctx: Context) -> tuple[list[dict[str, str]], dict[str, str] | None]:
    """Authors (Practitioners) and the custodian Organization."""
    author_refs = authors(ctx, ctx.root)
    org = find(ctx.root, "cda:custodian/cda:assignedCustodian/cda:representedCustodianOrganization")
    return author_refs, organization(ctx, org) if org is not None else None
