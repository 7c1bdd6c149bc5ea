"""Medication resources and pharmacy helpers shared by RXO / RXE / RXD (and RXC, CDO).

The IG maps the give / dispense code onto a Medication the order references (RXO[MedicationRequest]:
``medication(Medication.code)``, ``medicationReference(Medication.ingredient...)``); RXC components
become ingredients that reference a Medication of their own (code and amount).  Each order or
dispense owns its Medication, keyed by the owner, so two orders never share a mutable resource.
"""

from __future__ import annotations

import json

from hl7bridge.transforms.fhir.profiles import profiled
from hl7bridge.transforms.hl7v2.codes import LOCAL_BASE, system_uri
from hl7bridge.transforms.hl7v2.context import Ctx
from hl7bridge.transforms.hl7v2.datatypes import Comps, cwe, number, xad, xtn
from hl7bridge.transforms.hl7v2.message import Segment

__all__ = ["unit_fields", "quantity", "cq_quantity", "per_day", "medication", "component", "pharmacy",
           "cumulative_dose", "PRESCRIPTION_TYPE"]

UCUM = "http://unitsofmeasure.org"
# No v2 table 0203 code means "prescription number"; a local code says exactly that.
PRESCRIPTION_TYPE = {"coding": [{"system": LOCAL_BASE + "codesystem:identifier-type", "code": "PRN",
                                 "display": "Prescription Number"}]}


def unit_fields(code: str, text: str, system_name: str) -> dict:
    """Units (CWE parts) -> Quantity unit / system / code; a code without a known system stays text only."""
    out: dict = {}
    label = text or code
    if label:
        out["unit"] = label
    system = UCUM if system_name.upper() in ("UCUM", "ANS+") else system_uri(system_name)
    if code and system:
        out.update(system=system, code=code)
    return out


def quantity(ctx: Ctx, value: str, units: str, loc: str) -> dict | None:
    """NM value + CWE units field -> Quantity (IG: CWE[Code] when the unit is coded, else CWE[String])."""
    if not value:
        return None
    out: dict = {"value": number(value, loc)}
    if units:
        f = Comps(units, ctx.enc)
        out.update(unit_fields(f.c(1), f.c(2), f.c(3)))
    return out


def cq_quantity(ctx: Ctx, text: str, loc: str) -> dict | None:
    """CQ (quantity ^ units as subcomponents) -> Quantity (IG CQ[Quantity])."""
    if not text:
        return None
    f = Comps(text, ctx.enc)
    if not f.c(1):
        return None
    out: dict = {"value": number(f.c(1), loc)}
    subs = f.subs(2) + ["", "", ""]
    out.update(unit_fields(subs[0], subs[1], subs[2]))
    return out


def per_day(numerator: dict) -> dict:
    """A total daily dose as a Ratio per 1 day (IG RXO-23 / RXE-19: denominator 1 ``d``)."""
    return {"numerator": numerator, "denominator": {"value": 1, "unit": "d", "system": UCUM, "code": "d"}}


def medication(ctx: Ctx, owner_key: str, code: dict, form: dict | None = None) -> str:
    """A Medication owned by one order / dispense; RXC segments that follow add its ingredients."""
    res: dict = profiled({"resourceType": "Medication", "code": code}, "us-core-medication")
    if form:
        res["form"] = form
    ref = ctx.bundle.add(res, f"Medication|{owner_key}")
    ctx.group["med"] = res
    return ref


def component(ctx: Ctx, seg: Segment) -> None:
    """RXC -> an ingredient of the current Medication: a Medication for the component (RXC-2 code,
    RXC-3/4 amount), strength RXC-5/6 per RXC-8/9 (else per 1)."""
    owner = ctx.group.get("med")
    code = cwe(ctx.first(seg, 2), ctx.enc)
    if not isinstance(owner, dict) or code is None:
        return
    item: dict = profiled({"resourceType": "Medication", "code": code}, "us-core-medication")
    amount = quantity(ctx, ctx.leaf(seg, 3), ctx.first(seg, 4), "RXC-3")
    if amount:
        item["amount"] = {"numerator": amount, "denominator": {"value": 1}}
    key = "Medication|component|" + json.dumps(item, sort_keys=True)
    ingredient: dict = {"itemReference": {"reference": ctx.bundle.add(item, key)}}
    strength = quantity(ctx, ctx.leaf(seg, 5), ctx.first(seg, 6), "RXC-5")
    if strength:
        per = quantity(ctx, ctx.leaf(seg, 8), ctx.first(seg, 9), "RXC-8") or {"value": 1}
        ingredient["strength"] = {"numerator": strength, "denominator": per}
    owner.setdefault("ingredient", []).append(ingredient)


def pharmacy(ctx: Ctx, seg: Segment, name_n: int, address_n: int, phone_n: int) -> str | None:
    """Dispensing pharmacy (CWE[Organization]: .1 identifier, .2 / .9 name, .3 system), its address and phone."""
    address = xad(ctx.first(seg, address_n), ctx.enc) if ctx.first(seg, address_n) else None
    phones = [p for p in (xtn(r, ctx.enc) for r in ctx.reps(seg, phone_n)) if p]
    return ctx.organization_cwe(ctx.first(seg, name_n), address=address, telecom=phones)


# CDO-4 interval units (HL7 ISO+ / ANS+ / UCUM spellings) -> UCUM units of time.
_INTERVAL_UNITS = {"s": "s", "min": "min", "h": "h", "hr": "h", "d": "d", "day": "d", "w": "wk", "wk": "wk",
                   "m": "mo", "mo": "mo", "month": "mo", "y": "a", "yr": "a", "a": "a"}


def cumulative_dose(ctx: Ctx, seg: Segment) -> None:
    """CDO-3 cumulative dosage limit: over the patient's lifetime (CDO-4 empty or ``PL``) -> maxDosePerLifetime,
    else per CDO-4 interval -> maxDosePerPeriod (on a Dosage of its own when the first has a daily maximum)."""
    target = ctx.group.get("dosed")
    limit = cq_quantity(ctx, ctx.first(seg, 3), "CDO-3")
    if not isinstance(target, dict) or limit is None:
        return
    interval = Comps(ctx.first(seg, 4), ctx.enc)
    units = interval.subs(2) + ["", ""]
    unit = units[0] or units[1]
    dosages = target.setdefault("dosageInstruction", [{}])
    if unit in ("", "PL") and not interval.c(1):
        dosages[0].setdefault("maxDosePerLifetime", limit)
        return
    per: dict = {"value": number(interval.c(1), "CDO-4") if interval.c(1) else 1}
    ucum = _INTERVAL_UNITS.get(unit.lower())
    per.update({"unit": ucum, "system": UCUM, "code": ucum} if ucum else {"unit": unit} if unit else {})
    ratio = {"numerator": limit, "denominator": per}
    if "maxDosePerPeriod" in dosages[0]:
        dosages.append({"maxDosePerPeriod": ratio})
    else:
        dosages[0]["maxDosePerPeriod"] = ratio
