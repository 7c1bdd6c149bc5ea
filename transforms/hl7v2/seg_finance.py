"""IN1, GT1 and FT1 to Coverage, RelatedPerson (guarantor) and ChargeItem."""

from __future__ import annotations

from hl7bridge.engine.errors import ParseError
from hl7bridge.transforms.fhir.profiles import profiled
from hl7bridge.transforms.hl7v2.codes import THO, V2, lookup, system_uri
from hl7bridge.transforms.hl7v2.context import Ctx
from hl7bridge.transforms.hl7v2.datatypes import Comps, cwe, cx, date_of, dtm, number, xad, xpn, xtn
from hl7bridge.transforms.hl7v2.message import Segment
from hl7bridge.transforms.hl7v2.seg_related import insured

__all__ = ["coverage", "guarantor", "charge"]

# HL7 table 0063 (relationship) -> FHIR subscriber-relationship.
_SUBSCRIBER = {"SEL": "self", "SPO": "spouse", "DOM": "common", "CHD": "child", "PAR": "parent",
               "MTH": "parent", "FTH": "parent", "EME": "other", "FND": "other", "OTH": "other"}


def coverage(ctx: Ctx, seg: Segment) -> None:
    """IN1 -> Coverage (US Core when the subscriber relationship is known) with its payor Organization."""
    payor, payor_key = _payor(ctx, seg)
    if payor is None:
        raise ParseError("IN1 names no insurance company (IN1-3 / IN1-4)", location="IN1-3", hl7_code=101)
    res: dict = {"resourceType": "Coverage", "status": "active"}
    member = ctx.leaf(seg, 36) or ctx.leaf(seg, 49)
    plan = Comps(ctx.first(seg, 2), ctx.enc)
    idents = []
    if member:
        idents.append({"system": ctx.sender_system + ":member", "value": member,
                       "type": {"coding": [{"system": V2 + "0203", "code": "MB"}]}})
        res["subscriberId"] = member
    if plan.c(1):  # IG: IN1-2 (plan id, CWE) -> identifier
        idents.append({"system": system_uri(plan.c(3)) or ctx.sender_system + ":plan", "value": plan.c(1)})
    if idents:
        res["identifier"] = idents
    plan_type = ctx.leaf(seg, 15)
    if plan_type:
        res["type"] = {"coding": [{"system": V2 + "0086", "code": plan_type}]}
    ctx.subject(res, "beneficiary")
    relation = _SUBSCRIBER.get(ctx.leaf(seg, 17))
    if relation:
        res["relationship"] = {"coding": [{"system": THO + "subscriber-relationship", "code": relation}]}
        role = lookup("Relationship", ctx.leaf(seg, 17))  # IG: the Relationship map, v3 RoleCode
        if role:
            res["relationship"]["coding"].append({"system": role[2], "code": role[0]})
        profiled(res, "us-core-coverage")
    holder = _policy_holder(ctx, seg)
    if holder:
        res["policyHolder"] = {"reference": holder}
    start, end = dtm(ctx.leaf(seg, 12), ctx.tz, "IN1-12"), dtm(ctx.leaf(seg, 13), ctx.tz, "IN1-13")
    if start or end:
        res["period"] = {k: v for k, v in (("start", start), ("end", end)) if v}
    res["payor"] = [{"reference": payor}]
    subscriber = insured(ctx, seg)
    if subscriber:
        res["subscriber"] = {"reference": subscriber}
    elif ctx.leaf(seg, 17) == "SEL" and ctx.patient:
        res["subscriber"] = {"reference": ctx.patient}
    classes = []
    for value, name, kind in ((ctx.leaf(seg, 8), ctx.leaf(seg, 9), "group"), (plan.c(1), plan.c(2), "plan")):
        if value:
            entry = {"type": {"coding": [{"system": THO + "coverage-class", "code": kind}]}, "value": value}
            if name:
                entry["name"] = name
            classes.append(entry)
    if classes:
        res["class"] = classes
    ident = idents[0] if idents else None
    ctx.bundle.add(res, f"Coverage|{ctx.patient_key}|{payor_key}|{member}|{plan.c(1)}", ident)
    ctx.last = res


def _payor(ctx: Ctx, seg: Segment) -> tuple[str | None, str]:
    company = Comps(ctx.first(seg, 3), ctx.enc)
    name = ctx.leaf(seg, 4)
    if not company.c(1) and not name:
        return None, ""
    org: dict = {"resourceType": "Organization", "active": True}
    ident = None
    if company.c(1):
        ident = cx(ctx.first(seg, 3), ctx.enc, ctx.sender_system)
        org["identifier"] = [ident]
    if name:
        org["name"] = name
        profiled(org, "us-core-organization")
    addresses = [a for a in (xad(r, ctx.enc) for r in ctx.reps(seg, 5)) if a]
    if addresses:
        org["address"] = addresses
    key = f"Organization|{ident.get('system', '')}|{ident['value']}" if ident else f"Organization|name|{name}"
    return ctx.bundle.add(org, key, ident, create_only=True), key


def guarantor(ctx: Ctx, seg: Segment) -> None:
    """GT1 -> RelatedPerson (the guarantor) unless the guarantor is the patient (GT1-11 SEL)."""
    if not ctx.patient or ctx.leaf(seg, 11) == "SEL":
        return
    names = [n for n in (xpn(r, ctx.enc) for r in ctx.reps(seg, 3)) if n]
    if not names:
        return
    res = profiled({"resourceType": "RelatedPerson", "active": True}, "us-core-relatedperson")
    res["patient"] = {"reference": ctx.patient}
    res["name"] = names
    relation = lookup("Relationship", ctx.leaf(seg, 11))
    res["relationship"] = [{"coding": [{"system": V2 + "0131", "code": "GT", "display": "Guarantor"}]}]
    if relation:
        res["relationship"].append({"coding": [{"system": relation[2], "code": relation[0]}]})
    addresses = [a for a in (xad(r, ctx.enc) for r in ctx.reps(seg, 5)) if a]
    if addresses:
        res["address"] = addresses
    telecom = [t for t in (xtn(r, ctx.enc) for r in ctx.reps(seg, 6) + ctx.reps(seg, 7)) if t]
    if telecom:
        res["telecom"] = telecom
    born = dtm(ctx.leaf(seg, 8), ctx.tz, "GT1-8")
    if born:
        res["birthDate"] = date_of(born)
    sex = lookup("AdministrativeSex", ctx.leaf(seg, 9))
    if sex:
        res["gender"] = sex[0]
    family = names[0].get("family", "")
    ctx.bundle.add(res, f"RelatedPerson|{ctx.patient_key}|guarantor|{family}|{ctx.leaf(seg, 2)}")
    ctx.last = res


def _policy_holder(ctx: Ctx, seg: Segment) -> str | None:
    """IG IN1-11 (XON) is the policy holder Organization, IN1-10 (CX, insured's group employer id) its identifier."""
    employer = ctx.identifier(ctx.first(seg, 10)) if ctx.first(seg, 10) else None
    holder = ctx.organization(ctx.first(seg, 11)) if ctx.first(seg, 11) else None
    if holder is None and employer is not None:
        org = {"resourceType": "Organization", "active": True, "identifier": [employer]}
        return ctx.bundle.add(org, f"Organization|{employer.get('system', '')}|{employer['value']}", employer,
                              create_only=True)
    org = next((e["resource"] for e in ctx.bundle.entries if e["fullUrl"] == holder), None) if employer else None
    if org is not None and employer["value"] not in [i.get("value") for i in org.get("identifier", [])]:
        org.setdefault("identifier", []).append(employer)
    return holder


def charge(ctx: Ctx, seg: Segment) -> None:
    """FT1 -> ChargeItem (billable), priced with FT1-11 and linked to the patient and encounter."""
    code = cwe(ctx.first(seg, 7), ctx.enc)
    if code is None:
        raise ParseError("required field FT1-7 (transaction code) is empty", location="FT1-7", hl7_code=101)
    res: dict = {"resourceType": "ChargeItem", "status": "billable", "code": code}
    ident = None
    transaction = ctx.leaf(seg, 2) or ctx.leaf(seg, 3)
    if transaction:
        ident = {"system": ctx.sender_system + ":transaction", "value": transaction}
        res["identifier"] = [ident]
    ctx.subject(res)
    if ctx.encounter:
        res["context"] = {"reference": ctx.encounter}
    when = Comps(ctx.first(seg, 4), ctx.enc)
    start, end = dtm(when.c(1), ctx.tz, "FT1-4"), dtm(when.c(2), ctx.tz, "FT1-4")
    if start and end:
        res["occurrencePeriod"] = {"start": start, "end": end}
    elif start:
        res["occurrenceDateTime"] = start
    posted = dtm(ctx.leaf(seg, 5), ctx.tz, "FT1-5")
    if posted:
        res["enteredDate"] = posted  # FT1-5 posting date: when the charge was entered
    if ctx.account:
        res["account"] = [{"reference": ctx.account}]
    quantity = ctx.leaf(seg, 10)
    if quantity:
        res["quantity"] = {"value": number(quantity, "FT1-10")}
    amount = Comps(ctx.first(seg, 11), ctx.enc)
    money = amount.subs(1)
    if money and money[0]:
        price: dict = {"value": number(money[0], "FT1-11")}
        if len(money) > 1 and money[1]:
            price["currency"] = money[1]
        res["priceOverride"] = price
    performers = [r for r in (ctx.practitioner(x) for x in ctx.reps(seg, 20)) if r]
    if performers:
        res["performer"] = [{"actor": {"reference": r}} for r in performers]
    reasons = [c for c in (cwe(r, ctx.enc) for r in ctx.reps(seg, 19)) if c]
    if reasons:
        res["reason"] = reasons
    _charge_parties(ctx, seg, res)
    label = code.get("coding", [{}])[0].get("code", "")
    ctx.bundle.add(res, f"ChargeItem|{ctx.patient_key}|{transaction}|{label}|{start}|{ctx.leaf(seg, 1)}", ident)
    ctx.group["charge"] = res  # a PR1 in the same financial group is the service charged for
    ctx.last = res


def _charge_parties(ctx: Ctx, seg: Segment, res: dict) -> None:
    """FT1-13 department -> costCenter, FT1-32 / FT1-33 performing / ordering facility, FT1-24 enterer.

    The IG has no FT1 map; these follow the FT1 field definitions onto ChargeItem's own elements.
    """
    department = Comps(ctx.first(seg, 13), ctx.enc)
    if department.c(1) or department.c(2):
        org: dict = {"resourceType": "Organization", "active": True, "name": department.c(2) or department.c(1)}
        if department.c(1):
            org["identifier"] = [{"system": ctx.sender_system + ":department", "value": department.c(1)}]
        res["costCenter"] = {"reference": ctx.bundle.add(org, f"Organization|department|{department.c(1)}",
                                                        (org.get("identifier") or [None])[0], create_only=True)}
    for n, key in ((32, "performingOrganization"), (33, "requestingOrganization")):
        ref = ctx.organization(ctx.first(seg, n)) if ctx.first(seg, n) else None
        if ref:
            res[key] = {"reference": ref}
    enterer = ctx.practitioner(ctx.first(seg, 24)) if ctx.first(seg, 24) else None
    if enterer:
        res["enterer"] = {"reference": enterer}
