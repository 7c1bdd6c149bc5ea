"""ROL and PRT to PractitionerRole (IG ROL[Encounter-PractitionerRole], ROL[Patient-GeneralPractitioner],
PRT[PractitionerRole])."""

from __future__ import annotations

from hl7bridge.transforms.fhir.profiles import profiled
from hl7bridge.transforms.hl7v2.codes import lookup
from hl7bridge.transforms.hl7v2.context import Ctx
from hl7bridge.transforms.hl7v2.datatypes import cwe, dtm, xtn
from hl7bridge.transforms.hl7v2.message import Segment

__all__ = ["role", "participation"]


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


def participation(ctx: Ctx, seg: Segment) -> None:
    """PRT -> PractitionerRole (person, organisation or location taking part), attached like ROL."""
    person = ctx.practitioner(ctx.first(seg, 5)) if ctx.first(seg, 5) else None
    org = ctx.organization(ctx.first(seg, 8)) if ctx.first(seg, 8) else None
    places = [r for r in (ctx.location(p) for p in ctx.reps(seg, 9)) if r]
    if person is None and org is None and not places:
        return  # a device (PRT-10) or nothing: no PractitionerRole
    res = profiled({"resourceType": "PractitionerRole"}, "us-core-practitionerrole")
    if person:
        res["practitioner"] = {"reference": person}
    code = _participation(ctx, ctx.first(seg, 4))
    if code:
        res["code"] = [code]
    specialties = [c for c in (cwe(r, ctx.enc) for r in ctx.reps(seg, 6)) if c]
    if specialties:
        res["specialty"] = specialties
    if org:
        res["organization"] = {"reference": org}
    if places:
        res["location"] = [{"reference": r} for r in places]
    start, end = dtm(ctx.leaf(seg, 11), ctx.tz, "PRT-11"), dtm(ctx.leaf(seg, 12), ctx.tz, "PRT-12")
    if start or end:
        res["period"] = {k: v for k, v in (("start", start), ("end", end)) if v}
    points = [t for t in (xtn(r, ctx.enc) for r in ctx.reps(seg, 15)) if t]
    if points:
        res["telecom"] = points
    role_code = code.get("coding", [{}])[0].get("code", "") if code else ""
    who = ctx.bundle.key_of(person or org or places[0])
    ref = ctx.bundle.add(res, f"PractitionerRole|prt|{who}|{role_code}|{ctx.bundle.key_of(org or '')}|{start}")
    _attach_participant(ctx, ref)


def _participation(ctx: Ctx, text: str) -> dict | None:
    """PRT-4 through the IG Participation map (HL7 table 0912) when it names a FHIR role."""
    concept = cwe(text, ctx.enc)
    for coding in (concept or {}).get("coding", []):
        mapped = lookup("Participation", coding.get("code", ""))
        if mapped:
            return {"coding": [{"system": mapped[2], "code": mapped[0], "display": mapped[1]}]}
    return concept


def _attach_participant(ctx: Ctx, ref: str) -> None:
    """IG message maps: where the PRT sits decides what the PractitionerRole takes part in."""
    target = ctx.last
    if target is None:
        return
    kind = target["resourceType"]
    if kind in ("Encounter", "Patient", "Procedure"):
        _attach(ctx, ref, "PP")
    elif kind in ("Observation", "DiagnosticReport"):
        target.setdefault("performer", []).append({"reference": ref})
    elif kind == "ServiceRequest" and "requester" not in target:
        target["requester"] = {"reference": ref}
    elif kind == "Specimen":
        target.setdefault("collection", {}).setdefault("collector", {"reference": ref})
    elif kind == "Immunization":
        target.setdefault("performer", []).append({"actor": {"reference": ref}})
