"""TXA and its OBX content to DocumentReference (IG TXA[DocumentReference], OBX[DocumentReference]);
CON to Consent."""

from __future__ import annotations

import base64

from hl7bridge.transforms.fhir.profiles import profiled
from hl7bridge.transforms.hl7v2.context import Ctx
from hl7bridge.transforms.hl7v2.datatypes import cwe, dtm, ei, instant
from hl7bridge.transforms.hl7v2.message import Segment
from hl7bridge.transforms.hl7v2.seg_results import attachment_of

__all__ = ["document", "document_content", "finish_document", "consent"]

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
    # TXA-5 primary activity provider: no IG row; the person whose activity the document records is a
    # resource the document relates to (FHIR R4 context.related is Reference(Any))
    providers = [r for r in (ctx.practitioner(x) for x in ctx.reps(seg, 5)) if r]
    related = _related_orders(ctx) + list(dict.fromkeys(providers))
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
    """OBX inside an MDM document: text lines gather into one text/plain attachment; each ED / RP value
    is a content of its own (IG OBX[DocumentReference] rows 7 and 10)."""
    res = ctx.group.get("doc")
    if not isinstance(res, dict):
        return False
    value_type = ctx.leaf(seg, 2)
    if value_type in ("ED", "RP"):
        found = [a for a in (attachment_of(ctx, r, value_type) for r in ctx.reps(seg, 5)) if a]
        res["content"].extend({"attachment": a} for a in found)
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
    """Drop helper marks; a document without content keeps a contentType-only attachment, and then
    does not claim US Core (us-core-6: each attachment has its url or data)."""
    for entry in res["content"]:
        entry.pop("_text", None)
    if not res["content"]:
        res["content"] = [{"attachment": {"contentType": "text/plain"}}]
    if not all(e["attachment"].get("url") or e["attachment"].get("data") for e in res["content"]):
        res.pop("meta", None)
    created = res.pop("_creation", None)
    if created:  # TXA-6 origination: when the document (each attachment of it) was created
        for entry in res["content"]:
            entry["attachment"].setdefault("creation", created)



# CON (no IG segment map; MDM_T02 row 29 lists CON without a target): the HL7 v2.8 fields.
_CONSENT_STATUS = {"A": "active", "L": "active", "R": "rejected", "X": "inactive"}  # table 0498
_PRIVACY_TYPES = frozenset(("001", "003"))  # table 0496: release of information, privacy notice receipt
_SCOPE = "http://terminology.hl7.org/CodeSystem/consentscope"


def consent(ctx: Ctx, seg: Segment) -> None:
    """CON -> Consent: CON-2 category (and the scope: privacy for table 0496 001 / 003, else treatment),
    CON-5 / 6 consent text as policyRule, CON-11 status (table 0498), CON-13 decision time, CON-14 / 15
    the provision period, CON-25 self (table 0548 ``1``) makes the patient the performer."""
    kind = cwe(ctx.first(seg, 2), ctx.enc)
    text = " ".join(t for t in (ctx.enc.unescape(ctx.first(seg, 5)), ctx.enc.unescape(ctx.first(seg, 6))) if t)
    if kind is None or not ctx.patient:
        return
    res: dict = {"resourceType": "Consent", "status": _CONSENT_STATUS.get(ctx.leaf(seg, 11), "proposed")}
    privacy = ctx.leaf(seg, 2) in _PRIVACY_TYPES
    res["scope"] = {"coding": [{"system": _SCOPE, "code": "patient-privacy" if privacy else "treatment",
                                "display": "Privacy Consent" if privacy else "Treatment"}]}
    res["category"] = [kind]
    ctx.subject(res, "patient")
    decided = dtm(ctx.leaf(seg, 13), ctx.tz, "CON-13")
    if decided:
        res["dateTime"] = decided
    if ctx.leaf(seg, 25) in ("1", "SEL"):
        res["performer"] = [{"reference": ctx.patient}]
    form = ei(ctx.first(seg, 4), ctx.enc, ctx.sender_system)
    if form:
        res["identifier"] = [form]
    res["policyRule"] = {"text": text or (kind.get("text") or kind["coding"][0].get("display", ""))}
    if not res["policyRule"]["text"]:
        res["policyRule"] = {"coding": kind.get("coding", [])[:1]}
    period = {k: v for k, v in (("start", dtm(ctx.leaf(seg, 14), ctx.tz, "CON-14")),
                                ("end", dtm(ctx.leaf(seg, 15), ctx.tz, "CON-15"))) if v}
    if period:
        res["provision"] = {"period": period}
    ctx.bundle.add(res, f"Consent|{ctx.patient_key}|{ctx.leaf(seg, 2)}|{ctx.leaf(seg, 3)}|{ctx.leaf(seg, 1)}")
