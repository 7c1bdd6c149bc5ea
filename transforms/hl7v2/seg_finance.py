"""IN1, GT1 and FT1 to Coverage, RelatedPerson (guarantor) and ChargeItem."""

from __future__ import annotations

from hl7bridge.engine.errors import ParseError
from hl7bridge.transforms.fhir.profiles import DATA_ABSENT, profiled
from hl7bridge.transforms.hl7v2.codes import LOCAL_BASE, THO, V2, lookup, system_uri
from hl7bridge.transforms.hl7v2.context import Ctx
from hl7bridge.transforms.hl7v2.datatypes import Comps, cwe, cx, date_of, dtm, number, put_time, xad, xpn, xtn
from hl7bridge.transforms.hl7v2.message import Segment
from hl7bridge.transforms.hl7v2.seg_patient import bcp47_language
from hl7bridge.transforms.hl7v2.seg_related import insured

__all__ = ["coverage", "guarantor", "charge", "finish_charges"]

_ID_TYPE = LOCAL_BASE + "codesystem:identifier-type"  # identifier kinds HL7 table 0203 lacks (policy, transaction)
# IN1-15 plan types that are FHIR Coverage.type codes (v3 ActCode, the coverage-type value set).
_ACT_COVERAGE = {"HMO", "PPO", "POS", "EPO", "DENTAL", "DISEASE", "DRUGPOL", "HIP", "LTC", "MCPOL", "MENTPOL",
                 "SUBPOL", "VISPOL", "EHCPOL", "HSAPOL", "AUTOPOL", "COL", "UNINSMOT", "PUBLICPOL", "DENTPRG",
                 "DISEASEPRG", "CANPRG", "ENDRENAL", "HIVAIDS", "MANDPOL", "MENTPRG", "SAFNET", "SUBPRG", "SUBSIDIZ",
                 "SUBSIDMC", "SUBSIDFFS", "WRKCOMP", "PUBLICPOL", "FLEXP", "MCPOL", "RETIRE", "DIS"}

# HL7 table 0063 (relationship) -> FHIR subscriber-relationship.
_SUBSCRIBER = {"SEL": "self", "SPO": "spouse", "DOM": "common", "CHD": "child", "PAR": "parent",
               "MTH": "parent", "FTH": "parent", "EME": "other", "FND": "other", "OTH": "other"}


def coverage(ctx: Ctx, seg: Segment) -> None:
    """IN1 -> Coverage (US Core when the subscriber relationship is known) with its payor Organization."""
    payor, payor_key = _payor(ctx, seg)
    payor_key = payor_key or f"IN1-1|{ctx.leaf(seg, 1)}"  # no company: the set id keeps two such IN1s apart
    res: dict = {"resourceType": "Coverage", "status": "active"}
    policy, subscriber_id = ctx.leaf(seg, 36), ctx.leaf(seg, 49)
    plan = Comps(ctx.first(seg, 2), ctx.enc)
    idents = []
    if policy:  # IN1-36 policy number: the business identifier the Coverage is upserted by
        idents.append({"system": ctx.sender_system + ":policy", "value": policy,
                       "type": {"coding": [{"system": _ID_TYPE, "code": "PLN", "display": "Policy number"}]}})
    if subscriber_id or policy:  # IG IN1-49 -> subscriberId
        res["subscriberId"] = subscriber_id or policy
    insured_id = ctx.identifier(ctx.first(seg, 49)) if subscriber_id else None
    if insured_id:  # IN1-49 insured's id (CX): the subscriber number unless CX-5 says otherwise
        insured_id.setdefault("type", {"coding": [{"system": V2 + "0203", "code": "SN"}]})
        idents.append(insured_id)
    idents += _programme_ids(ctx, _following(ctx, seg, "IN2"))
    # The upsert key is a number of this insured's; a plan id is shared by every member of the plan.
    ident = idents[0] if idents else None
    if plan.c(1):  # IG: IN1-2 (plan id, CWE) -> identifier
        idents.append({"system": system_uri(plan.c(3)) or ctx.sender_system + ":plan", "value": plan.c(1)})
    if idents:
        res["identifier"] = idents
    plan_type = _plan_type(ctx, ctx.first(seg, 15))
    if plan_type:
        res["type"] = plan_type
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
    # Coverage.payor is 1..*: an IN1 naming no company (IN1-3 and IN1-4 empty; both are required in v2 but
    # real feeds omit them) keeps its Coverage with the payor marked unknown rather than failing the message,
    # since an Organization with neither name nor identifier would break FHIR's org-1.
    res["payor"] = [{"reference": payor} if payor else {"extension": [{"url": DATA_ABSENT, "valueCode": "unknown"}]}]
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
    cost = _deductible(ctx, seg)
    if cost:
        res["costToBeneficiary"] = [cost]
    ref = ctx.bundle.add(res, f"Coverage|{ctx.patient_key}|{payor_key}|{policy or subscriber_id}|{plan.c(1)}", ident)
    account = _account(ctx)
    if account is not None:  # the visit's account is billed to this coverage (IN1-22: its priority)
        entry: dict = {"coverage": {"reference": ref}}
        rank = ctx.leaf(seg, 22)
        if rank.isdigit() and int(rank) > 0:
            entry["priority"] = int(rank)
        account.setdefault("coverage", []).append(entry)
    ctx.last = res


def _following(ctx: Ctx, seg: Segment, name: str) -> Segment | None:
    """The segment after ``seg`` when it is a ``name`` segment (IN1 then its IN2, FT1 then PR1), passing over
    the PRT participations (v2.7+) that belong to ``seg`` itself."""
    segments = ctx.msg.segments()
    for i, other in enumerate(segments):
        if other is seg:
            after = next((s for s in segments[i + 1:] if s.name != "PRT"), None)
            return after if after is not None and after.name == name else None
    return None


# IN2 numbers the payer programmes give the patient (no IG map): field, identifier type, system.
_PROGRAMMES = ((6, "MC", "http://hl7.org/fhir/sid/us-medicare"), (8, "MA", "urn:hl7bridge:id:us-medicaid"))


def _programme_ids(ctx: Ctx, in2: Segment | None) -> list[dict]:
    """IN2-6 Medicare and IN2-8 Medicaid numbers and IN2-61 member numbers identify the Coverage too."""
    if in2 is None:
        return []
    out = []
    for n, code, system in _PROGRAMMES:
        value = ctx.leaf(in2, n)
        if value:
            out.append({"system": system, "value": value, "type": {"coding": [{"system": V2 + "0203", "code": code}]}})
    for rep in ctx.reps(in2, 61):
        member = ctx.identifier(rep)
        if member:
            member.setdefault("type", {"coding": [{"system": V2 + "0203", "code": "MB"}]})
            out.append(member)
    return out


def _plan_type(ctx: Ctx, text: str) -> dict | None:
    """IN1-15 plan type (IG: CWE, PlanId map empty): v3 ActCode when it is a FHIR coverage type, else table 0086."""
    concept = cwe(text, ctx.enc)
    if concept is None:
        return None
    first = concept.get("coding", [{}])[0]
    code = first.get("code", "")
    if not code:
        return concept
    mapped = {"system": THO + "v3-ActCode" if code in _ACT_COVERAGE else V2 + "0086", "code": code}
    if first.get("display"):
        mapped["display"] = first["display"]
    out: dict = {"coding": [mapped]}
    if concept.get("text"):
        out["text"] = concept["text"]
    return out


def _deductible(ctx: Ctx, seg: Segment) -> dict | None:
    """IN1-37 policy deductible (CP: amount&currency ^ price type) -> costToBeneficiary."""
    price = Comps(ctx.first(seg, 37), ctx.enc)
    money = price.subs(1)
    try:  # secondary to the coverage: a feed's non-numeric deductible is left out, not fatal
        amount = number(money[0], "IN1-37") if money and money[0] else None
    except ParseError:
        amount = None
    if amount is None:
        return None
    value: dict = {"value": amount}
    if len(money) > 1 and money[1]:
        value["currency"] = money[1]
    codings = [{"system": THO + "coverage-copay-type", "code": "deductible", "display": "Deductible"}]
    if price.c(2):  # HL7 table 0205 price type
        codings.append({"system": V2 + "0205", "code": price.c(2)})
    return {"type": {"coding": codings}, "valueMoney": value}


def _account(ctx: Ctx) -> dict | None:
    """The Account resource PID-18 gave, if any."""
    if not ctx.account:
        return None
    return ctx.bundle.resource_of(ctx.account)


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
    phones = [t for t in (xtn(r, ctx.enc) for r in ctx.reps(seg, 7)) if t]
    if phones:  # IN1-7 insurance company phone (no IG row)
        org["telecom"] = phones
    contacts = [{"name": n} for n in (xpn(r, ctx.enc) for r in ctx.reps(seg, 6)) if n]
    if contacts:  # IN1-6 insurance company contact person (no IG row)
        org["contact"] = contacts
    key = f"Organization|{ident.get('system', '')}|{ident['value']}" if ident else f"Organization|name|{name}"
    return ctx.bundle.add(org, key, ident, create_only=True), key


def guarantor(ctx: Ctx, seg: Segment) -> None:
    """GT1 -> the Account's guarantor: the patient (GT1-11 SEL) or a RelatedPerson; GT1-13/14 its period."""
    if not ctx.patient:
        return
    organization = ctx.organization(ctx.first(seg, 21)) if ctx.first(seg, 21) else None
    if organization:  # GT1-21: the guarantor is an organisation
        party: str | None = organization
    else:
        party = ctx.patient if ctx.leaf(seg, 11) == "SEL" else _guarantor_person(ctx, seg)
    account = _account(ctx)
    if party is None or account is None:
        return
    entry: dict = {"party": {"reference": party}}
    start, end = dtm(ctx.leaf(seg, 13), ctx.tz, "GT1-13"), dtm(ctx.leaf(seg, 14), ctx.tz, "GT1-14")
    if start or end:
        entry["period"] = {k: v for k, v in (("start", start), ("end", end)) if v}
    account.setdefault("guarantor", []).append(entry)


def _guarantor_person(ctx: Ctx, seg: Segment) -> str | None:
    """GT1 naming someone other than the patient -> RelatedPerson (relationship GT)."""
    names = [n for n in (xpn(r, ctx.enc) for r in ctx.reps(seg, 3)) if n]
    if not names:
        return None
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
    _guarantor_ids(ctx, seg, res)
    language = cwe(ctx.first(seg, 36), ctx.enc)
    if language:  # GT1-36 primary language
        bcp47_language(language)
        res["communication"] = [{"language": language, "preferred": True}]
    family = names[0].get("family", "")
    ref = ctx.bundle.add(res, f"RelatedPerson|{ctx.patient_key}|guarantor|{family}|{ctx.leaf(seg, 2)}")
    ctx.last = res
    return ref


def _add_identifier(res: dict, ident: dict | None) -> None:
    """Append ``ident`` unless an identifier with the same system and value is there already."""
    if not ident:
        return
    idents = res.setdefault("identifier", [])
    if all((i.get("system"), i.get("value")) != (ident.get("system"), ident.get("value")) for i in idents):
        idents.append(ident)


def _guarantor_ids(ctx: Ctx, seg: Segment, res: dict) -> None:
    """GT1-2 guarantor numbers, GT1-12 SSN and GT1-19 employee ids identify the guarantor."""
    for rep in ctx.reps(seg, 2):
        _add_identifier(res, ctx.identifier(rep))
    ssn = ctx.leaf(seg, 12)
    if ssn:
        _add_identifier(res, {"system": "http://hl7.org/fhir/sid/us-ssn", "value": ssn,
                             "type": {"coding": [{"system": V2 + "0203", "code": "SS"}]}})
    for rep in ctx.reps(seg, 19):
        _add_identifier(res, ctx.identifier(rep))


def _policy_holder(ctx: Ctx, seg: Segment) -> str | None:
    """IG IN1-11 (XON) is the policy holder Organization, IN1-10 (CX, insured's group employer id) its identifier."""
    employer = ctx.identifier(ctx.first(seg, 10)) if ctx.first(seg, 10) else None
    holder = ctx.organization(ctx.first(seg, 11)) if ctx.first(seg, 11) else None
    if holder is None and employer is not None:
        org = {"resourceType": "Organization", "active": True, "identifier": [employer]}
        return ctx.bundle.add(org, f"Organization|{employer.get('system', '')}|{employer['value']}", employer,
                              create_only=True)
    org = ctx.bundle.resource_of(holder) if employer else None
    if org is not None and employer["value"] not in [i.get("value") for i in org.get("identifier", [])]:
        org.setdefault("identifier", []).append(employer)
    return holder


def charge(ctx: Ctx, seg: Segment) -> None:
    """FT1 -> ChargeItem (billable), priced with FT1-11 and linked to the patient and encounter."""
    code = cwe(ctx.first(seg, 7), ctx.enc)
    if code is None:
        raise ParseError("required field FT1-7 (transaction code) is empty", location="FT1-7", hl7_code=101)
    # FT1-6 CG (a charge) is billable; a credit, payment or adjustment (table 0017) is no charge state we know.
    res: dict = {"resourceType": "ChargeItem", "status": "billable" if ctx.leaf(seg, 6) == "CG" else "unknown",
                 "code": code}
    ident = None
    transaction = ctx.leaf(seg, 2) or ctx.leaf(seg, 3)
    if transaction:
        ident = {"system": ctx.sender_system + ":transaction", "value": transaction,
                 "type": {"coding": [{"system": _ID_TYPE, "code": "TID", "display": "Transaction id"}]}}
        res["identifier"] = [ident]
    ctx.subject(res)
    if ctx.encounter:
        res["context"] = {"reference": ctx.encounter}
    when = Comps(ctx.first(seg, 4), ctx.enc)
    start, end = dtm(when.c(1), ctx.tz, "FT1-4"), dtm(when.c(2), ctx.tz, "FT1-4")
    put_time(res, "occurrence", start, end)
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
    product = _product(ctx, seg)
    if product:
        res["productReference"] = {"reference": product}
    if _following(ctx, seg, "PR1") is None:  # no PR1 describes the service: FT1-25 names it
        service = _charged_procedure(ctx, seg, start)
        if service:
            res["service"] = [{"reference": service}]
    drug = cwe(ctx.first(seg, 29), ctx.enc)
    if drug and "productReference" not in res:  # FT1-29 NDC of the drug or supply charged
        res["productCodeableConcept"] = drug
    ctx.bundle.add(res, _charge_key(ctx, seg, code, start), ident)
    ctx.group["charge"] = res  # a PR1 in the same financial group is the service charged for
    ctx.last = res


def _charge_key(ctx: Ctx, seg: Segment, code: dict, start: str | None) -> str:
    label = code.get("coding", [{}])[0].get("code", "")
    return f"ChargeItem|{ctx.patient_key}|{ctx.leaf(seg, 2) or ctx.leaf(seg, 3)}|{label}|{start}|{ctx.leaf(seg, 1)}"


def _charged_procedure(ctx: Ctx, seg: Segment, performed: str | None) -> str | None:
    """FT1-25 procedure code (FT1-26 modifiers) -> the Procedure the charge is for (US Core when dated)."""
    code = cwe(ctx.first(seg, 25), ctx.enc)
    if code is None or not ctx.patient:
        return None
    res: dict = {"resourceType": "Procedure", "status": "unknown", "code": code, "subject": {"reference": ctx.patient}}
    if ctx.encounter:
        res["encounter"] = {"reference": ctx.encounter}
    if performed:
        res["performedDateTime"] = performed
        profiled(res, "us-core-procedure")
    label = code.get("coding", [{}])[0].get("code", code.get("text", ""))
    return ctx.bundle.add(res, f"Procedure|{ctx.patient_key}|{label}|{performed or ''}")


def _product(ctx: Ctx, seg: Segment) -> str | None:
    """FT1-34 item number (FT1-35 model number) -> the Device charged for."""
    item = Comps(ctx.first(seg, 34), ctx.enc)
    if not item.c(1):
        return None
    ident = {"system": system_uri(item.c(3)) or ctx.sender_system + ":item", "value": item.c(1)}
    res: dict = {"resourceType": "Device", "identifier": [ident]}
    if item.c(2):
        res["deviceName"] = [{"name": item.c(2), "type": "other"}]
    model = ctx.leaf(seg, 35)
    if model:
        res["modelNumber"] = model
    return ctx.bundle.add(res, f"Device|{ident['system']}|{ident['value']}", ident, create_only=True)


def finish_charges(ctx: Ctx) -> None:
    """Once the message is read: each ChargeItem is supported by its orders and diagnoses, and the
    results reported are services charged (DFT / BAR carry them before or after the FT1s)."""
    charges = ctx.bundle.resources("ChargeItem")
    if not charges:
        return
    by_type: dict[str, list[str]] = {}
    for entry in ctx.bundle.entries:
        kind = entry["resource"]["resourceType"]
        if kind in ("ServiceRequest", "MedicationRequest", "Condition", "Observation"):
            by_type.setdefault(kind, []).append(entry["fullUrl"])
    support = by_type.get("ServiceRequest", []) + by_type.get("MedicationRequest", []) + by_type.get("Condition", [])
    _billed_accounts(ctx)
    for res in charges:
        have = {r["reference"] for r in res.get("supportingInformation", []) + res.get("service", [])}
        extra = [{"reference": r} for r in support if r not in have]
        if extra:
            res.setdefault("supportingInformation", []).extend(extra)
        results = [{"reference": r} for r in by_type.get("Observation", []) if r not in have]
        if results:
            res.setdefault("service", []).extend(results)


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


def _billed_accounts(ctx: Ctx) -> None:
    """A BLG in an FT1's order group names another account the charge is billed to (BLG-3)."""
    charge = None
    for seg in ctx.msg.segments():
        if seg.name == "FT1":
            code = cwe(ctx.first(seg, 7), ctx.enc)
            start = dtm(Comps(ctx.first(seg, 4), ctx.enc).c(1), ctx.tz, "FT1-4")
            url = ctx.bundle.ref(_charge_key(ctx, seg, code, start)) if code else None
            charge = ctx.bundle.resource_of(url)
        elif seg.name == "ORC":
            charge = None
        elif seg.name == "BLG" and charge is not None and ctx.first(seg, 3):
            ident = ctx.identifier(ctx.first(seg, 3))
            url = ctx.bundle.ref(f"Account|{ident.get('system', '')}|{ident['value']}") if ident else None
            if url and {"reference": url} not in charge.get("account", []):
                charge.setdefault("account", []).append({"reference": url})
