"""ROL and PRT to PractitionerRole (IG ROL[Encounter-PractitionerRole], ROL[Patient-GeneralPractitioner],
PRT[PractitionerRole])."""

from __future__ import annotations

from hl7bridge.transforms.fhir.profiles import profiled
from hl7bridge.transforms.hl7v2.codes import lookup
from hl7bridge.transforms.hl7v2.context import Ctx
from hl7bridge.transforms.hl7v2.datatypes import cwe, dtm, xtn
from hl7bridge.transforms.hl7v2.message import Segment
from hl7bridge.transforms.hl7v2.seg_device import participant_device

__all__ = ["role", "participation", "finish_participants"]


def role(ctx: Ctx, seg: Segment) -> None:
    """ROL -> PractitionerRole, attached to what the ROL follows (patient, encounter or procedure)."""
    person = ctx.practitioner(ctx.first(seg, 4)) if ctx.first(seg, 4) else None
    if person is None:
        return
    res: dict = {"resourceType": "PractitionerRole"}
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
    if points:  # US Core only with contact details (pd-1: telecom or endpoint)
        profiled(res, "us-core-practitionerrole")["telecom"] = points
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
    """PRT -> what takes part in the resource the PRT follows (IG message maps): PRT-5 a
    PractitionerRole (PRT[PractitionerRole]), PRT-10 a Device (PRT[Device]); without a person the
    organisation and location themselves (after OBX: PRT[Observation-Location])."""
    target = _target(ctx, seg)
    kind = target["resourceType"] if target is not None else ""
    device = participant_device(ctx, seg) if kind in _DEVICE_USERS else None
    person = ctx.practitioner(ctx.first(seg, 5)) if ctx.first(seg, 5) else None
    if person is None and kind in _NO_ROLE_WITHOUT_PERSON:
        _attach_parts(ctx, seg, target, device)
        return
    role = _participant_role(ctx, seg, person)
    if role is not None:
        if target is not None and target.get("_pending") and target["resourceType"] == "DocumentReference":
            target.setdefault("author", []).append({"reference": role})
        elif target is not None and target is not ctx.last:
            _attach_order(target, role, ctx.leaf(seg, 4) == "OP")
        else:
            _attach_participant(ctx, role, ctx.leaf(seg, 4) == "OP")
    if device and target is not None:
        _attach_device(target, device)


# Resources a PRT Device takes part in (IG: Observation.device; Microsoft as the guide elsewhere).
_DEVICE_USERS = frozenset(("Observation", "Procedure", "ServiceRequest", "MedicationRequest", "ChargeItem",
                           "DocumentReference"))
# Where a PRT without a person names the organisation / location / device directly, not a role.
_NO_ROLE_WITHOUT_PERSON = frozenset(("Observation", "Procedure", "ServiceRequest", "MedicationRequest",
                                     "ChargeItem", "DocumentReference"))
_ORDER_KINDS = ("ServiceRequest", "MedicationRequest")


def _target(ctx: Ctx, seg: Segment) -> dict | None:
    """The resource the PRT belongs to: a PRT right after ORC waits for the order that ORC starts
    (``finish_participants`` hands it over), unless the ORC followed its OBR and the order exists."""
    previous, following = _neighbours(ctx, seg)
    if previous == "ORC" and isinstance(ctx.group.get("sr"), dict):
        return ctx.group["sr"]  # OUL: an ORC its OBR already took (seg_orders.orc); the order is built
    if previous == "ORC" or following == "TXA":  # ORU / OUL ORDER_DOCUMENT: OBX, PRT, then the TXA
        kind = "DocumentReference" if following == "TXA" else "ServiceRequest"
        holder: dict = {"resourceType": kind, "_pending": True}
        ctx.pending_participants.append((holder, len(ctx.bundle.entries), ctx.group.get("orc")))
        return holder
    return ctx.last


def _neighbours(ctx: Ctx, seg: Segment) -> tuple[str, str]:
    """The names of the nearest segments before and after ``seg`` other than PRT / NTE."""
    previous, found = "", False
    for s in ctx.msg:
        if s is seg:
            found = True
        elif s.name not in ("PRT", "NTE"):
            if found:
                return previous, s.name
            previous = s.name
    return previous, ""


def finish_participants(ctx: Ctx) -> None:
    """Hand the PRTs that followed an ORC to the order that ORC started (the first ServiceRequest /
    MedicationRequest added after them whose identifiers carry the ORC's placer or filler number), and
    those before a TXA to its DocumentReference (authors)."""
    entries = ctx.bundle.entries
    for holder, mark, orc in ctx.pending_participants:
        if holder["resourceType"] == "DocumentReference":
            document = next((e["resource"] for e in entries[mark:] if e["resource"]["resourceType"] == "DocumentReference"),
                            None)
            for entry in holder.get("author", []) if document is not None else []:
                if entry not in document.setdefault("author", []):
                    document["author"].append(entry)
            continue
        numbers = {ctx.leaf(orc, n) for n in (2, 3) if orc is not None and ctx.leaf(orc, n)}
        order = next((e["resource"] for e in entries[mark:] if e["resource"]["resourceType"] in _ORDER_KINDS
                      and (not numbers or numbers & {i.get("value") for i in e["resource"].get("identifier", [])})),
                     None)
        if order is None:
            continue
        if "requester" in holder:
            if order["resourceType"] == "ServiceRequest" and "requester" not in order:
                order["requester"] = holder["requester"]
            else:
                holder.setdefault("supportingInfo", []).insert(0, holder["requester"])
        for entry in holder.get("supportingInfo", []):
            _attach_order(order, entry["reference"], False)


def _participant_role(ctx: Ctx, seg: Segment, person: str | None) -> str | None:
    org = ctx.organization(ctx.first(seg, 8)) if ctx.first(seg, 8) else None
    places = [r for r in (ctx.location(p) for p in ctx.reps(seg, 9)) if r]
    if person is None and org is None and not places:
        return None  # a device (PRT-10) or nothing: no PractitionerRole
    res: dict = {"resourceType": "PractitionerRole"}
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
    if points:  # US Core only with contact details (pd-1: telecom or endpoint)
        profiled(res, "us-core-practitionerrole")["telecom"] = points
    role_code = code.get("coding", [{}])[0].get("code", "") if code else ""
    who = ctx.bundle.key_of(person or org or places[0])
    return ctx.bundle.add(res, f"PractitionerRole|prt|{who}|{role_code}|{ctx.bundle.key_of(org or '')}|{start}")


def _attach_parts(ctx: Ctx, seg: Segment, target: dict, device: str | None) -> None:
    """A PRT without a person: the organisation, location and device themselves."""
    kind = target["resourceType"]
    org = ctx.organization(ctx.first(seg, 8)) if ctx.first(seg, 8) else None
    places = [r for r in (ctx.location(p) for p in ctx.reps(seg, 9)) if r]
    if kind == "Observation":  # IG PRT[Observation-Location]: PRT-9 as the event-location extension
        for place in places[:1]:
            target.setdefault("extension", []).append(
                {"url": "http://hl7.org/fhir/StructureDefinition/event-location", "valueReference": {"reference": place}})
        if org:
            target.setdefault("performer", []).append({"reference": org})
    elif kind == "Procedure":
        if places and "location" not in target:
            target["location"] = {"reference": places[0]}
    elif kind in _ORDER_KINDS:
        if org:
            _attach_order(target, org, False)
    elif kind == "ChargeItem" and org:
        target.setdefault("performer", []).append({"actor": {"reference": org}})
    elif kind == "DocumentReference" and org:
        target.setdefault("author", []).append({"reference": org})
    if device:
        _attach_device(target, device)


def _attach_order(target: dict, ref: str, ordering: bool) -> None:
    """IG ORC / OBR PRT: the ordering provider (OP) is the requester; other participants support the order."""
    if ordering and target["resourceType"] == "ServiceRequest" and "requester" not in target:
        target["requester"] = {"reference": ref}
        return
    key = "supportingInformation" if target["resourceType"] == "MedicationRequest" else "supportingInfo"
    entry = {"reference": ref}
    if entry not in target.setdefault(key, []):
        target[key].append(entry)


def _attach_device(target: dict, device: str) -> None:
    kind = target["resourceType"]
    if kind == "Observation":
        target.setdefault("device", {"reference": device})
    elif kind in ("Procedure", "ChargeItem"):
        target.setdefault("performer", []).append({"actor": {"reference": device}})
    elif kind == "DocumentReference":
        target.setdefault("author", []).append({"reference": device})
    elif kind in _ORDER_KINDS:
        _attach_order(target, device, False)


def _participation(ctx: Ctx, text: str) -> dict | None:
    """PRT-4 through the IG Participation map (HL7 table 0912) when it names a FHIR role."""
    concept = cwe(text, ctx.enc)
    for coding in (concept or {}).get("coding", []):
        mapped = lookup("Participation", coding.get("code", ""))
        if mapped:
            return {"coding": [{"system": mapped[2], "code": mapped[0], "display": mapped[1]}]}
    return concept


def _attach_participant(ctx: Ctx, ref: str, ordering: bool = False) -> None:
    """IG message maps: where the PRT sits decides what the PractitionerRole takes part in."""
    target = ctx.last
    if target is None:
        return
    kind = target["resourceType"]
    if kind in ("Encounter", "Patient", "Procedure"):
        _attach(ctx, ref, "PP")
    elif kind in ("Observation", "DiagnosticReport"):
        target.setdefault("performer", []).append({"reference": ref})
    elif kind in _ORDER_KINDS:
        _attach_order(target, ref, ordering)
    elif kind == "ChargeItem":
        target.setdefault("performer", []).append({"actor": {"reference": ref}})
    elif kind == "DocumentReference":
        target.setdefault("author", []).append({"reference": ref})
    elif kind == "Specimen":
        target.setdefault("collection", {}).setdefault("collector", {"reference": ref})
    elif kind == "Immunization":
        target.setdefault("performer", []).append({"actor": {"reference": ref}})
