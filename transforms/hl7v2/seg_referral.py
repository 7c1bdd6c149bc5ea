"""REF / RRI referrals: RF1 -> ServiceRequest, PRD -> PractitionerRole, AUT -> ClaimResponse.

The IG has no RF1, PRD or AUT map; the mapping below follows the HL7 v2 field definitions
(tables 0280, 0283, 0286) and the FHIR elements a referral team reads.  The referral is the
ServiceRequest the PRD providers attach to: the referring provider (PRD-1 ``RP``) is its
requester, the referred-to provider (``RT``) a performer.
"""

from __future__ import annotations

from hl7bridge.transforms.fhir.profiles import profiled
from hl7bridge.transforms.hl7v2.codes import THO, V2
from hl7bridge.transforms.hl7v2.context import Ctx, practitioner_key
from hl7bridge.transforms.hl7v2.datatypes import Comps, authority_system, cwe, date_of, dtm, ei, xad, xpn, xtn
from hl7bridge.transforms.hl7v2.message import Segment
from hl7bridge.transforms.hl7v2.seg_timing import PRIORITY

__all__ = ["referral", "provider", "authorization"]

_SNOMED = "http://snomed.info/sct"
_REFERRAL = {"system": _SNOMED, "code": "3457005", "display": "Patient referral"}
# HL7 table 0283 (referral status) -> ServiceRequest.status; a cancel event (I14) revokes.
_STATUS = {"A": "active", "P": "active", "R": "revoked", "E": "revoked"}
_CANCEL_EVENTS = frozenset(("I14",))
_UNITS = "urn:hl7bridge:codesystem:authorization-treatments"


def referral(ctx: Ctx, seg: Segment) -> None:
    """RF1 -> the referral ServiceRequest (US Core)."""
    res = profiled({"resourceType": "ServiceRequest"}, "us-core-servicerequest")
    idents = [i for i in (ei(ctx.first(seg, n), ctx.enc, ctx.sender_system) for n in (6, 11)) if i]
    if idents:
        res["identifier"] = idents
    status = "revoked" if ctx.event in _CANCEL_EVENTS else _STATUS.get(ctx.leaf(seg, 1), "unknown")
    res["status"], res["intent"] = status, "order"
    res["category"] = [{"coding": [dict(_REFERRAL)]}]
    kind = cwe(ctx.first(seg, 3), ctx.enc)  # RF1-3 referral type (table 0281)
    if kind:
        res["category"].append(kind)
    res["code"] = {"coding": [dict(_REFERRAL)]}
    priority = PRIORITY.get(ctx.leaf(seg, 2))
    if priority:
        res["priority"] = priority
    ctx.subject(res)
    if ctx.encounter:
        res["encounter"] = {"reference": ctx.encounter}
    _dates(ctx, seg, res)
    reason = cwe(ctx.first(seg, 10), ctx.enc) or ({"text": ctx.leaf(seg, 14)} if ctx.leaf(seg, 14) else None)
    if reason:
        res["reasonCode"] = [reason]
    where = cwe(ctx.first(seg, 5), ctx.enc)  # RF1-5 referral category (table 0284): inpatient, outpatient ...
    if where:
        res["locationCode"] = [where]
    performers = [r for r in (ctx.organization(ctx.first(seg, 19)) if ctx.first(seg, 19) else None,
                              ctx.practitioner(ctx.first(seg, 20)) if ctx.first(seg, 20) else None) if r]
    if performers:
        res["performer"] = [{"reference": r} for r in performers]
    if ctx.leaf(seg, 24):
        res["note"] = [{"text": ctx.leaf(seg, 24)}]
    ident = idents[0] if idents else None
    key = (f"ServiceRequest|{ident.get('system', '')}|{ident['value']}" if ident
           else f"ServiceRequest|{ctx.patient_key}|referral|{res.get('authoredOn', '')}")
    ref = ctx.bundle.add(res, key, ident)
    ctx.group = {"referral": res, "referral_ref": ref}
    ctx.last = res


def _dates(ctx: Ctx, seg: Segment, res: dict) -> None:
    """RF1-9 process date (else RF1-7) authoredOn; RF1-7 / RF1-8 effective .. expiration the occurrence."""
    start, end = dtm(ctx.leaf(seg, 7), ctx.tz, "RF1-7"), dtm(ctx.leaf(seg, 8), ctx.tz, "RF1-8")
    processed = dtm(ctx.leaf(seg, 9), ctx.tz, "RF1-9")
    if processed or start:
        res["authoredOn"] = processed or start
    if start or end:
        res["occurrencePeriod"] = {k: v for k, v in (("start", start), ("end", end)) if v}


def provider(ctx: Ctx, seg: Segment) -> None:
    """PRD -> PractitionerRole (role PRD-1, period PRD-8/9, location PRD-4, organisation PRD-10..13)."""
    person = _practitioner(ctx, seg)
    code = cwe(ctx.first(seg, 1), ctx.enc)
    # no US Core claim: the role has no telecom or endpoint (pd-1); PRD-5 is the Practitioner's telecom
    role: dict = {"resourceType": "PractitionerRole"}
    if person:
        role["practitioner"] = {"reference": person}
    if code:
        for coding in code.get("coding", []):
            if coding.get("system", "").endswith("v2-0286") or "system" not in coding:
                coding["system"] = V2 + "0286"
        role["code"] = [code]
    period = {k: v for k, v in (("start", dtm(ctx.leaf(seg, 8), ctx.tz, "PRD-8")),
                                ("end", dtm(ctx.leaf(seg, 9), ctx.tz, "PRD-9"))) if v}
    if period:
        role["period"] = period
    place = ctx.location(ctx.first(seg, 4)) if ctx.first(seg, 4) else None
    if place:
        role["location"] = [{"reference": place}]
    org = _organization(ctx, seg)
    if org:
        role["organization"] = {"reference": org}
    if not person and not org:
        return
    key = f"PractitionerRole|prd|{ctx.bundle.key_of(person) if person else ''}|{ctx.leaf(seg, 1)}|{org or ''}"
    ref = ctx.bundle.add(role, key)
    _attach(ctx, ctx.leaf(seg, 1), ref)


def _attach(ctx: Ctx, role_code: str, ref: str) -> None:
    """Referring provider -> requester; referred-to (and consulting) provider -> performer."""
    res = ctx.group.get("referral")
    if not isinstance(res, dict):
        return
    if role_code == "RP" and "requester" not in res:
        res["requester"] = {"reference": ref}
    elif role_code in ("RT", "CP"):
        res.setdefault("performer", []).append({"reference": ref})


def _practitioner(ctx: Ctx, seg: Segment) -> str | None:
    """PRD-2 name, PRD-3 address, PRD-5 telecom, PRD-7 provider identifiers (PLN) -> Practitioner."""
    names = [n for n in (xpn(r, ctx.enc) for r in ctx.reps(seg, 2)) if n]
    idents = [i for i in (_pln(ctx, r) for r in ctx.reps(seg, 7)) if i]
    if not names and not idents:
        return None
    res: dict = {"resourceType": "Practitioner"}
    if idents:
        res["identifier"] = idents
    if names:
        res["name"] = names
    telecom = [t for t in (xtn(r, ctx.enc) for r in ctx.reps(seg, 5)) if t]
    if telecom:
        res["telecom"] = telecom
    address = [a for a in (xad(r, ctx.enc) for r in ctx.reps(seg, 3)) if a]
    if address:
        res["address"] = address
    if idents and names and names[0].get("family"):
        profiled(res, "us-core-practitioner")
    ident = idents[0] if idents else None
    name = names[0] if names else {}
    return ctx.bundle.add(res, practitioner_key(ident, name), ident, create_only=True)


def _pln(ctx: Ctx, text: str) -> dict | None:
    """PLN (id ^ type (table 0338) ^ state ^ expiration) -> Identifier."""
    f = Comps(text, ctx.enc)
    if not f.c(1):
        return None
    ident: dict = {"system": authority_system(f.c(3), "", "") or ctx.sender_system, "value": f.c(1)}
    if f.c(2):
        ident["type"] = {"coding": [{"system": V2 + "0203", "code": f.c(2)}]}
    expires = date_of(dtm(f.c(4), ctx.tz, "PRD-7.4")) if f.c(4) else None
    if expires:
        ident["period"] = {"end": expires}
    return ident


def _organization(ctx: Ctx, seg: Segment) -> str | None:
    """PRD-10 provider organisation with its PRD-11 address and PRD-13 telecom."""
    ref = ctx.organization(ctx.first(seg, 10)) if ctx.first(seg, 10) else None
    if ref is None:
        return None
    org = ctx.bundle.resource_of(ref)
    if org is not None:
        address = [a for a in (xad(r, ctx.enc) for r in ctx.reps(seg, 11)) if a]
        telecom = [t for t in (xtn(r, ctx.enc) for r in ctx.reps(seg, 13)) if t]
        if address and "address" not in org:
            org["address"] = address
        if telecom and "telecom" not in org:
            org["telecom"] = telecom
    return ref


def authorization(ctx: Ctx, seg: Segment) -> None:
    """AUT -> ClaimResponse (a payer's pre-authorization): AUT-6 id, AUT-4/5 period, AUT-7 limit,
    AUT-8/9 requested / authorized treatments, AUT-10 process date, AUT-3 payer, AUT-28 comment."""
    created = dtm(ctx.leaf(seg, 10), ctx.tz, "AUT-10") or dtm(ctx.leaf(seg, 4), ctx.tz, "AUT-4")
    payer = ctx.organization(ctx.enc.escape(ctx.leaf(seg, 3))) if ctx.leaf(seg, 3) else None
    if not ctx.patient or not created or not payer:
        return  # ClaimResponse requires a patient, a creation date and an insurer
    res: dict = {"resourceType": "ClaimResponse", "status": "active",
                 "type": {"coding": [{"system": THO + "claim-type", "code": "institutional"}]},
                 "use": "preauthorization", "patient": {"reference": ctx.patient}, "created": created,
                 "insurer": {"reference": payer}, "outcome": "complete"}
    ident = ei(ctx.first(seg, 6), ctx.enc, ctx.sender_system)
    if ident:
        res["identifier"] = [ident]
    period = {k: v for k, v in (("start", dtm(ctx.leaf(seg, 4), ctx.tz, "AUT-4")),
                                ("end", dtm(ctx.leaf(seg, 5), ctx.tz, "AUT-5"))) if v}
    if period:
        res["preAuthPeriod"] = period
    counts = [(code, label, _count(ctx.leaf(seg, n))) for n, code, label in
              ((8, "RNT", "Requested Number of Treatments"), (9, "ANT", "Authorized Number of Treatments"))]
    adjudication = [{"category": {"coding": [{"system": _UNITS, "code": code, "display": label}]}, "value": value}
                    for code, label, value in counts if value is not None]
    if adjudication:
        res["item"] = [{"itemSequence": 1, "adjudication": adjudication}]
    limit = _count(Comps(ctx.first(seg, 7), ctx.enc).subs(1)[0] if ctx.first(seg, 7) else "")
    if limit is not None:
        res["total"] = [{"category": {"coding": [{"system": THO + "adjudication", "code": "benefit"}]},
                         "amount": {"value": limit}}]
    if ctx.leaf(seg, 28):
        res["processNote"] = [{"text": ctx.leaf(seg, 28)}]
    key = (f"ClaimResponse|{ident.get('system', '')}|{ident['value']}" if ident
           else f"ClaimResponse|{ctx.patient_key}|{ctx.leaf(seg, 2)}|{created}")
    ctx.bundle.add(res, key, ident)


def _count(text: str) -> int | float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return int(value) if value.is_integer() else value
