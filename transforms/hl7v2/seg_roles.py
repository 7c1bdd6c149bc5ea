"""ROL to PractitionerRole (IG ROL[Encounter-PractitionerRole], ROL[Patient-GeneralPractitioner])."""

from __future__ import annotations

from hl7bridge.transforms.fhir.profiles import profiled
from hl7bridge.transforms.hl7v2.context import Ctx
from hl7bridge.transforms.hl7v2.datatypes import cwe, dtm, xtn
from hl7bridge.transforms.hl7v2.message import Segment

__all__ = ["role"]


def role(ctx: Ctx, seg: Segment) -> None:
    """ROL -> PractitionerRole, attached to what the ROL follows (patient, encounter or procedure)."""
    person = ctx.practitioner(ctx.first(seg, 4)) if ctx.first(seg, 4) else None
    if person is None:
        return
    res = profiled({"resourceType": "PractitionerRole"}, "us-core-practitionerrole")
    res["practitioner"] = {"reference": person}
    code = cwe(ctx.first(seg, 3), ctx.enc)
    if code:
        res["code"] = [code]
    start, end = dtm(ctx.leaf(seg, 5), ctx.tz, "ROL-5"), dtm(ctx.leaf(seg, 6), ctx.tz, "ROL-6")
    if start or end:
        res["period"] = {k: v for k, v in (("start", start), ("end", end)) if v}
    specialties = [c for c in (cwe(r, ctx.enc) for r in ctx.reps(seg, 9)) if c]
    if specialties:
        res["specialty"] = specialties
    points = [t for t in (xtn(r, ctx.enc) for r in ctx.reps(seg, 12)) if t]
    if points:
        res["telecom"] = points
    places = [r for r in (ctx.location(p) for p in ctx.reps(seg, 13)) if r]
    if places:
        res["location"] = [{"reference": r} for r in places]
    org = ctx.organization(ctx.first(seg, 14)) if ctx.first(seg, 14) else None
    if org:
        res["organization"] = {"reference": org}
    role_code = code.get("coding", [{}])[0].get("code", "") if code else ""
    ref = ctx.bundle.add(res, f"PractitionerRole|{ctx.bundle.key_of(person)}|{role_code}|{start}")
    _attach(ctx, ref, role_code)


def _attach(ctx: Ctx, ref: str, role_code: str) -> None:
    target = ctx.last
    if target is None:
        return
    kind = target["resourceType"]
    if kind == "Patient" and role_code == "PP":
        target.setdefault("generalPractitioner", []).append({"reference": ref})
    elif kind == "Encounter":
        target.setdefault("participant", []).append({"individual": {"reference": ref}})
    elif kind == "Procedure":
        target.setdefault("performer", []).append({"actor": {"reference": ref}})
