"""RXD (pharmacy dispense) -> MedicationDispense (US Core).

The IG has no RXD sheet; the fields follow the RXO[MedicationRequest] sheet's choices (a Medication
for the code, CWE[Organization]-style pharmacy, CQ total daily dose per day) and what a pharmacy
service expects of a dispense record: what, how much, when, by whom, where, for which prescription.
"""

from __future__ import annotations

from hl7bridge.engine.errors import ParseError
from hl7bridge.transforms.fhir.profiles import profiled
from hl7bridge.transforms.hl7v2 import seg_medication
from hl7bridge.transforms.hl7v2.codes import V2
from hl7bridge.transforms.hl7v2.context import Ctx
from hl7bridge.transforms.hl7v2.datatypes import Comps, cwe, dtm, xad
from hl7bridge.transforms.hl7v2.message import Segment

__all__ = ["dispense"]


def dispense(ctx: Ctx, seg: Segment) -> None:
    """RXD -> MedicationDispense for the order of the current ORC group (its RXE, else RXO, request)."""
    code = cwe(ctx.first(seg, 2), ctx.enc)
    if code is None:
        raise ParseError("required field RXD-2 (dispense/give code) is empty", location="RXD-2", hl7_code=101)
    supplementary = [c for c in (cwe(r, ctx.enc) for r in ctx.reps(seg, 25)) if c]
    for extra in supplementary:
        code.setdefault("coding", []).extend(extra.get("coding", []))
    when = dtm(ctx.leaf(seg, 3), ctx.tz, "RXD-3")
    res = profiled({"resourceType": "MedicationDispense"}, "us-core-medicationdispense")
    res["status"] = "completed" if when else "unknown"  # RXD reports a dispense that took place
    owner = ctx.group.get("owner_key")
    first_code = code.get("coding", [{}])[0].get("code", "")
    key = f"MedicationDispense|{owner or ctx.patient_key}|{ctx.leaf(seg, 1)}|{first_code}|{when}"
    form = cwe(ctx.first(seg, 6), ctx.enc)
    res["medicationReference"] = {"reference": seg_medication.medication(ctx, key, code, form)}
    ctx.subject(res)
    if ctx.encounter:
        res["context"] = {"reference": ctx.encounter}
    _prescription(ctx, seg, res)
    kind = cwe(ctx.first(seg, 33), ctx.enc)
    if kind:
        for coding in kind.get("coding", []):
            coding.setdefault("system", V2 + "0484")
        res["type"] = kind
    amount = seg_medication.quantity(ctx, ctx.leaf(seg, 4), ctx.first(seg, 5), "RXD-4")
    if amount:
        res["quantity"] = amount
    if when:
        res["whenHandedOver"] = when
    _where_and_who(ctx, seg, res)
    notes = [ctx.enc.unescape(r) for r in ctx.reps(seg, 9)]
    if notes:
        res["note"] = [{"text": n} for n in notes if n]
    daily = seg_medication.cq_quantity(ctx, ctx.first(seg, 12), "RXD-12")
    if daily:
        res["dosageInstruction"] = [{"maxDosePerPeriod": seg_medication.per_day(daily)}]
    ctx.bundle.add(res, key)
    ctx.group["dosed"] = res
    ctx.last = res


def _prescription(ctx: Ctx, seg: Segment, res: dict) -> None:
    """RXD-7 prescription number; the group's MedicationRequest (the RXE's, else the RXO's) it fills."""
    number = ctx.leaf(seg, 7)
    request = ctx.group.get("mr")
    ref = ctx.bundle.ref(str(ctx.group.get("owner_key"))) if isinstance(request, dict) else None
    link: dict = {}
    if ref:
        link["reference"] = ref
    if number:
        link["identifier"] = {"system": ctx.sender_system, "value": number, "type": seg_medication.PRESCRIPTION_TYPE}
    if link:
        res["authorizingPrescription"] = [link]


def _where_and_who(ctx: Ctx, seg: Segment, res: dict) -> None:
    """RXD-10 dispensing provider -> performer; RXD-30 dispense-to pharmacy (+ RXD-31 address) -> location."""
    performers = [r for r in (ctx.practitioner(x) for x in ctx.reps(seg, 10)) if r]
    if performers:
        res["performer"] = [{"actor": {"reference": r}} for r in performers]
    place = Comps(ctx.first(seg, 30), ctx.enc)
    name = place.c(2) or place.c(9) or place.c(1)
    if not name:
        return
    loc: dict = profiled({"resourceType": "Location", "name": name, "mode": "instance"}, "us-core-location")
    if place.c(1):
        loc["identifier"] = [{"system": ctx.sender_system, "value": place.c(1)}]
    address = xad(ctx.first(seg, 31), ctx.enc) if ctx.first(seg, 31) else None
    if address:
        loc["address"] = address
    res["location"] = {"reference": ctx.bundle.add(loc, f"Location|pharmacy|{place.c(1)}|{name}")}
