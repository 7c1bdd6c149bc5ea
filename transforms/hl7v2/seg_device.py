"""PRT-10 and OBX-18 to Device (IG PRT[Device], OBX[Observation] OBX-18)."""

from __future__ import annotations

from hl7bridge.transforms.hl7v2.context import Ctx
from hl7bridge.transforms.hl7v2.datatypes import Comps, authority_system, cwe, dtm, ei
from hl7bridge.transforms.hl7v2.message import Segment

__all__ = ["participant_device", "equipment_authorities"]

V2_0301 = "http://terminology.hl7.org/CodeSystem/v2-0301"


def _typed(ctx: Ctx, text: str) -> dict | None:
    """EI -> Identifier; EI.4 (table 0301) types it, as the IG's EI[Identifier-System] row 4 does."""
    ident = ei(text, ctx.enc, ctx.sender_system)
    kind = Comps(text, ctx.enc).c(4) if text else ""
    if ident is None:
        f = Comps(text, ctx.enc) if text else None
        system = authority_system(f.c(2), f.c(3), kind) if f and f.c(3) else ""
        if not system:
            return None
        ident = {"system": system}  # IG EI[Identifier-Extension]: the authority without a value
    if kind:
        ident["type"] = {"coding": [{"system": V2_0301, "code": kind}]}
    return ident


def participant_device(ctx: Ctx, seg: Segment) -> str | None:
    """PRT with PRT-10 (or PRT-16) valued -> Device (IG PRT[Device]); returns its reference."""
    idents = [i for i in (_typed(ctx, r) for r in ctx.reps(seg, 10)) if i]
    udi = Comps(ctx.first(seg, 16), ctx.enc)
    if not idents and not udi.c(1):
        return None
    res: dict = {"resourceType": "Device"}
    if idents:
        res["identifier"] = idents
    if udi.c(1):  # IG PRT-16 -> udiCarrier (EI[Device-udiCarrier]); its authority issues the UDI
        carrier = {"deviceIdentifier": udi.c(1)}
        issuer = authority_system(udi.c(2), udi.c(3), udi.c(4))
        if issuer:
            carrier["issuer"] = issuer
        res["udiCarrier"] = [carrier]
    if ctx.leaf(seg, 2) == "D":  # IG message maps: a deleted participation -> inactive
        res["status"] = "inactive"
    for n, key in ((17, "manufactureDate"), (18, "expirationDate")):
        when = dtm(ctx.leaf(seg, n), ctx.tz, f"PRT-{n}")
        if when:
            res[key] = when
    for n, key in ((19, "lotNumber"), (20, "serialNumber")):
        if ctx.leaf(seg, n):
            res[key] = ctx.leaf(seg, n)
    donation = ctx.leaf(seg, 21)
    if donation:
        res["distinctIdentifier"] = donation
    kind = cwe(ctx.first(seg, 22), ctx.enc)
    if kind:
        res["type"] = kind
    first = next((i for i in idents if i.get("value")), None)
    if first is not None:
        return ctx.bundle.add(res, f"Device|{first.get('system', '')}|{first['value']}", first, create_only=True)
    return ctx.bundle.add(res, f"Device|udi|{udi.c(1)}")


def equipment_authorities(ctx: Ctx, seg: Segment, observation: dict | None) -> None:
    """OBX-18 repetitions that name only an assigning authority (no EI.1) join the Device the
    Observation already references (IG OBX-18: one device, EI[Identifier-Extension])."""
    ref = (observation or {}).get("device", {}).get("reference")
    if not ref:
        return
    device = ctx.bundle.resource_of(ref)
    if device is None:
        return
    for rep in ctx.reps(seg, 18):
        if Comps(rep, ctx.enc).c(1):
            continue
        ident = _typed(ctx, rep)
        if ident and ident not in device.setdefault("identifier", []):
            device["identifier"].append(ident)
