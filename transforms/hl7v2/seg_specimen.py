"""SPM -> Specimen (IG SPM[Specimen]) and SAC -> its container."""

from __future__ import annotations

from hl7bridge.transforms.fhir.profiles import absent, profiled
from hl7bridge.transforms.hl7v2 import seg_lab
from hl7bridge.transforms.hl7v2.codes import V2, lookup
from hl7bridge.transforms.hl7v2.context import Ctx
from hl7bridge.transforms.hl7v2.datatypes import Comps, cwe, dtm, ei, put_time
from hl7bridge.transforms.hl7v2.message import Segment
from hl7bridge.transforms.hl7v2.seg_order_datatypes import cq, eip_part, mapped_concept

__all__ = ["spm", "sac"]

_SPECIAL_HANDLING = "http://hl7.org/fhir/StructureDefinition/specimen-specialHandling"


def spm(ctx: Ctx, seg: Segment) -> None:
    """SPM -> Specimen (US Core), referenced from the current request, report and results (IG SPM[Specimen])."""
    res = profiled({"resourceType": "Specimen"}, "us-core-specimen")
    f = Comps(ctx.first(seg, 2), ctx.enc)
    # IG EIP[Identifier-Placer/FillerAssignedIdentifier]: SPM-2's parts are typed PGN / FGN.
    idents = [i for i in (eip_part(ctx, f.subs(1), "PGN"), eip_part(ctx, f.subs(2), "FGN")) if i]
    idents += [i for i in (ctx.identifier(r) for r in ctx.reps(seg, 31)) if i]
    shipment = ei(ctx.first(seg, 32), ctx.enc, ctx.sender_system)
    if shipment:
        shipment["type"] = {"coding": [{"system": V2 + "0203", "code": "SHIP"}]}
        idents.append(shipment)
    if idents:
        res["identifier"] = idents
    accession = ctx.identifier(ctx.first(seg, 30))
    if accession:
        res["accessionIdentifier"] = accession
    res["type"] = _specimen_type(ctx, ctx.first(seg, 4)) or absent()
    ctx.subject(res, required=False)
    parents = [p for p in (_parent_specimen(ctx, r) for r in ctx.reps(seg, 3)) if p]
    if parents:
        res["parent"] = [{"reference": p} for p in parents]
    _spm_collection(ctx, seg, res)
    received = dtm(ctx.leaf(seg, 18), ctx.tz, "SPM-18")
    if received:
        res["receivedTime"] = received
    conditions = [c for c in (mapped_concept(ctx, r, "SpecimenCondition") for r in ctx.reps(seg, 24)) if c]
    if conditions:
        res["condition"] = conditions
    container = _spm_container(ctx, seg)
    if container:
        res["container"] = [container]
    if ctx.leaf(seg, 14):
        res["note"] = [{"text": ctx.leaf(seg, 14)}]
    available = lookup("YesNoIndicator[AvailabilityStatus]", ctx.leaf(seg, 20))
    if available:
        res["status"] = available[0]
    owner = ctx.group.get("dr_key") or ctx.group.get("sr_key") or ""
    ident = next((i for i in idents if i.get("system")), None)
    key = f"Specimen|{ident.get('system', '')}|{ident['value']}" if ident else f"Specimen|{owner}|{ctx.leaf(seg, 1)}"
    ref = ctx.bundle.add(res, key, ident)
    if seg_lab.specimen_encloses_orders(ctx):
        ctx.group = {}  # OUL_R22 / R23: a new SPECIMEN group, whose orders follow it (seg_lab.enclosing_specimen)
    for holder in ("sr", "dr"):
        target = ctx.group.get(holder)
        if isinstance(target, dict):
            target.setdefault("specimen", []).append({"reference": ref})
    ctx.group["specimen_ref"] = ref
    ctx.group["specimen"] = res
    ctx.last = res


def _spm_collection(ctx: Ctx, seg: Segment, res: dict) -> None:
    """SPM-7 method, -8 body site, -12 amount, -15 special handling, -17 collection time."""
    collection: dict = {}
    collected = Comps(ctx.first(seg, 17), ctx.enc)
    start, end = dtm(collected.c(1), ctx.tz, "SPM-17"), dtm(collected.c(2), ctx.tz, "SPM-17")
    put_time(collection, "collected", start, end)
    method = mapped_concept(ctx, ctx.first(seg, 7), "SpecimenCollectionMethod")
    if method:
        collection["method"] = method
    site = cwe(ctx.first(seg, 8), ctx.enc)
    if site:
        collection["bodySite"] = site
    amount = cq(ctx, ctx.first(seg, 12))
    if amount:
        collection["quantity"] = amount
    handling = [c for c in (cwe(r, ctx.enc) for r in ctx.reps(seg, 15)) if c]
    if handling:  # the IG leaves SPM-15 open; FHIR's core extension on Specimen.collection fits it
        collection["extension"] = [{"url": _SPECIAL_HANDLING, "valueCodeableConcept": c} for c in handling]
    if collection:
        res["collection"] = collection


def _spm_container(ctx: Ctx, seg: Segment) -> dict:
    """SPM-6 additive (Additive/Preservative map) and SPM-27 container type -> Specimen.container."""
    container: dict = {}
    additive = mapped_concept(ctx, ctx.first(seg, 6), "AdditivePreservative")
    if additive:
        container["additiveCodeableConcept"] = additive
    kind = cwe(ctx.first(seg, 27), ctx.enc)
    if kind:
        container["type"] = kind
    return container


def _parent_specimen(ctx: Ctx, text: str) -> str | None:
    """IG SPM-3: a parent specimen named by its placer / filler ids (EIP), referenced from ``parent``."""
    f = Comps(text, ctx.enc)
    idents = [i for i in (eip_part(ctx, f.subs(1), "PGN"), eip_part(ctx, f.subs(2), "FGN")) if i]
    if not idents:
        return None
    res = profiled({"resourceType": "Specimen", "identifier": idents, "type": absent()}, "us-core-specimen")
    ctx.subject(res, required=False)
    ident = idents[0]
    return ctx.bundle.add(res, f"Specimen|{ident.get('system', '')}|{ident['value']}", ident, create_only=True)


def _specimen_type(ctx: Ctx, text: str) -> dict | None:
    """SPM-4 through the IG SpecimenType map (HL7 table 0487) when it names no other system."""
    concept = cwe(text, ctx.enc)
    if concept:
        for i, coding in enumerate(concept.get("coding", [])):
            mapped = None if "system" in coding else lookup("SpecimenType", coding.get("code", ""))
            if mapped:
                concept["coding"][i] = {"system": mapped[2], "code": mapped[0], "display": mapped[1]}
    return concept


def sac(ctx: Ctx, seg: Segment) -> None:
    """SAC -> the container of the specimen it follows: SAC-3 container id, SAC-21/24 capacity,
    SAC-22 available volume; SAC-2 the accession id when SPM gave none (the IG has no SAC map)."""
    res = ctx.group.get("specimen")
    if not isinstance(res, dict):
        return
    container = (res.get("container") or [{}])[0]
    ident = ei(ctx.first(seg, 3), ctx.enc, ctx.sender_system)
    if ident:
        container["identifier"] = [ident]
    unit = cwe(ctx.first(seg, 24), ctx.enc)
    unit_text = (unit or {}).get("coding", [{}])[0].get("code") or (unit or {}).get("text", "")
    for n, key in ((21, "capacity"), (22, "specimenQuantity")):
        quantity = cq(ctx, ctx.leaf(seg, n))
        if quantity:
            if unit_text:
                quantity["unit"] = unit_text
            container[key] = quantity
    if container:
        res["container"] = [container] + res.get("container", [])[1:]
    accession = ei(ctx.first(seg, 2), ctx.enc, ctx.sender_system)
    if accession and "accessionIdentifier" not in res:
        res["accessionIdentifier"] = accession
