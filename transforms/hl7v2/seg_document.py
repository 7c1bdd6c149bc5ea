"""TXA and its OBX content to DocumentReference (IG TXA[DocumentReference], OBX[DocumentReference])."""

from __future__ import annotations

import base64

from hl7bridge.transforms.fhir.profiles import profiled
from hl7bridge.transforms.hl7v2.context import Ctx
from hl7bridge.transforms.hl7v2.datatypes import cwe, dtm, ed_attachment, ei, instant
from hl7bridge.transforms.hl7v2.message import Segment

__all__ = ["document", "document_content", "finish_document"]

_DOC_STATUS = {"AU": "final", "LA": "final", "DO": "preliminary", "DI": "preliminary", "IP": "preliminary",
               "IN": "preliminary", "PA": "preliminary"}
_CATEGORY = "http://hl7.org/fhir/us/core/CodeSystem/us-core-documentreference-category"
_NULL = "http://terminology.hl7.org/CodeSystem/v3-NullFlavor"
_V2 = "http://terminology.hl7.org/CodeSystem/v2-"
_CONFIDENTIALITY = {"V": ("Very restricted", "V"), "R": ("Restricted", "R"), "U": ("Usual control", "N")}  # table 0272
_V3_CONFIDENTIALITY = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality"
_RESULT_MESSAGES = frozenset(("ORU", "OUL"))


def document(ctx: Ctx, seg: Segment) -> None:
    """TXA -> DocumentReference (US Core); OBX segments that follow add its content."""
    res = profiled({"resourceType": "DocumentReference"}, "us-core-documentreference")
    unique = ei(ctx.first(seg, 12), ctx.enc, ctx.sender_system)
    if unique:
        res["masterIdentifier"] = unique
    res["status"] = "entered-in-error" if ctx.event == "T11" else "current"
    doc_status = _DOC_STATUS.get(ctx.leaf(seg, 17))
    if doc_status:
        res["docStatus"] = doc_status
    res["type"] = _type(ctx, seg)
    res["category"] = [{"coding": [{"system": _CATEGORY, "code": "clinical-note", "display": "Clinical Note"}]}]
    ctx.subject(res, required=False)
    when = instant(dtm(ctx.leaf(seg, 6), ctx.tz, "TXA-6"))  # IG: TXA-6 transcription date
    if when:
        res["date"] = when
    file_name = ctx.leaf(seg, 16)
    if file_name:
        res["identifier"] = [{"system": ctx.sender_system + ":document-file", "value": file_name}]
    description = ctx.leaf(seg, 25)
    if description:
        res["description"] = description
    authors = [r for r in (ctx.practitioner(x) for x in ctx.reps(seg, 9)) if r]  # IG: TXA-9 originator
    if authors:
        res["author"] = [{"reference": r} for r in dict.fromkeys(authors)]
    authenticator = ctx.practitioner(ctx.first(seg, 10)) if ctx.first(seg, 10) else None
    if authenticator:
        res["authenticator"] = {"reference": authenticator}
    _labels(ctx, seg, res)
    context: dict = {}
    if ctx.encounter:
        context["encounter"] = [{"reference": ctx.encounter}]
    activity = dtm(ctx.leaf(seg, 4), ctx.tz, "TXA-4")
    if activity:
        context["period"] = {"start": activity}
    related = _related_orders(ctx)
    if related:
        context["related"] = [{"reference": r} for r in related]
    if context:
        res["context"] = context
    res["content"] = []
    created = dtm(ctx.leaf(seg, 6), ctx.tz, "TXA-6")
    if created:
        res["_creation"] = created  # finish_document puts it on every attachment
    key = (f"DocumentReference|{unique.get('system', '')}|{unique['value']}" if unique
           else f"DocumentReference|{ctx.patient_key}|{ctx.leaf(seg, 4)}|{ctx.leaf(seg, 2)}")
    ctx.bundle.add(res, key, unique)  # the identifier search parameter covers masterIdentifier
    ctx.last = res
    if ctx.msg.message_type in _RESULT_MESSAGES:
        return  # ORDER_DOCUMENT: the OBX results that follow still belong to the report
    ctx.group = {"doc": res, "doc_text": [], "owner_key": key}


def _related_orders(ctx: Ctx) -> list[str]:
    """IG MDM_T02: DocumentReference.context.related = the ServiceRequests of the message (in a
    result message, the order of the current group)."""
    if ctx.msg.message_type in _RESULT_MESSAGES:
        current = ctx.group.get("sr_ref")
        return [current] if isinstance(current, str) else []
    return [e["fullUrl"] for e in ctx.bundle.entries if e["resource"]["resourceType"] == "ServiceRequest"]


def _labels(ctx: Ctx, seg: Segment, res: dict) -> None:
    """TXA-13 parent document (relatesTo), TXA-18 confidentiality (IG DocumentConfidentialityStatus),
    TXA-24 folder assignment (an extra category)."""
    parent = ei(ctx.first(seg, 13), ctx.enc, ctx.sender_system)
    if parent:
        code = "replaces" if ctx.event in ("T09", "T10") else "appends"
        res["relatesTo"] = [{"code": code, "target": {"type": "DocumentReference", "identifier": parent}}]
    label = _CONFIDENTIALITY.get(ctx.leaf(seg, 18))
    if label:  # the IG's table 0272 code, and its v3 Confidentiality twin for the R4 security-label binding
        res["securityLabel"] = [{"coding": [{"system": _V2 + "0272", "code": ctx.leaf(seg, 18), "display": label[0]},
                                            {"system": _V3_CONFIDENTIALITY, "code": label[1]}]}]
    folders = [c for c in (cwe(r, ctx.enc) for r in ctx.reps(seg, 24)) if c]
    res["category"].extend(folders)


def _type(ctx: Ctx, seg: Segment) -> dict:
    """TXA-2 document type; a non-LOINC code also carries NullFlavor UNK for the required US Core binding."""
    concept = cwe(ctx.first(seg, 2), ctx.enc) or {}
    codings = concept.get("coding", [])
    if not any(c.get("system") == "http://loinc.org" for c in codings):
        codings = codings + [{"system": _NULL, "code": "UNK", "display": "unknown"}]
    concept["coding"] = codings
    return concept


def document_content(ctx: Ctx, seg: Segment) -> bool:
    """OBX inside an MDM document: text lines gather into one text/plain attachment; ED is kept as sent."""
    res = ctx.group.get("doc")
    if not isinstance(res, dict):
        return False
    value_type = ctx.leaf(seg, 2)
    if value_type == "ED":
        attachment = ed_attachment(ctx.first(seg, 5), ctx.enc)
        if attachment:
            res["content"].append({"attachment": attachment})
        return True
    lines = [ctx.enc.unescape(r) for r in ctx.reps(seg, 5)]
    text_parts = ctx.group["doc_text"]
    assert isinstance(text_parts, list)
    text_parts.extend(lines)
    data = base64.b64encode("\n".join(text_parts).encode("utf-8")).decode("ascii")
    texts = [c for c in res["content"] if c.get("_text")]
    if texts:
        texts[0]["attachment"]["data"] = data
    else:
        res["content"].append({"_text": True, "attachment": {"contentType": "text/plain", "data": data}})
    return True


def finish_document(res: dict) -> None:
    """Drop helper marks; a document without content keeps a contentType-only attachment."""
    for entry in res["content"]:
        entry.pop("_text", None)
    if not res["content"]:
        res["content"] = [{"attachment": {"contentType": "text/plain"}}]
    created = res.pop("_creation", None)
    if created:  # TXA-6 origination: when the document (each attachment of it) was created
        for entry in res["content"]:
            entry["attachment"].setdefault("creation", created)

