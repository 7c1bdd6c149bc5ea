"""ODS -> NutritionOrder; RQD (+ RQ1) -> SupplyRequest.  The IG maps neither; ORC opens their groups."""

from __future__ import annotations

from hl7bridge.engine.errors import ParseError
from hl7bridge.transforms.hl7v2.codes import V2
from hl7bridge.transforms.hl7v2.context import Ctx
from hl7bridge.transforms.hl7v2.datatypes import Comps, cwe, dtm, ei
from hl7bridge.transforms.hl7v2.message import Segment
from hl7bridge.transforms.hl7v2.seg_order_datatypes import cq
from hl7bridge.transforms.hl7v2.seg_order_identity import order_identifiers, order_key, order_requester, order_status

__all__ = ["diet", "requisition", "supplier"]

_DIET_KINDS = {"D": "oralDiet", "S": "supplement", "P": "preference"}  # ODS-1, HL7 table 0159
_SUPPLY_STATUS = {"revoked": "cancelled", "on-hold": "suspended", "active": "active", "completed": "completed",
                  "draft": "draft", "entered-in-error": "entered-in-error"}


def _order_time(ctx: Ctx, orc_seg: Segment | None) -> str | None:
    """ORC-9, else the message time (MSH-7): when the order was placed."""
    when = dtm(ctx.leaf(orc_seg, 9), ctx.tz, "ORC-9") if orc_seg is not None else None
    if when:
        return when
    try:  # MSH-7 only gives a default here: a malformed one is reported (or not) by the header's reader
        return dtm(ctx.msg.get("MSH-7.1") or "", ctx.tz, "MSH-7")
    except ParseError:
        return None


def diet(ctx: Ctx, seg: Segment) -> None:
    """ODS (+ the pending ORC) -> NutritionOrder.  No IG map (ORM_O01 names ODS only without a PID);
    ODS-1 (table 0159) picks oral diet, supplement or food preference for the ODS-3 codes, ODS-4 the text."""
    orc_seg = ctx.group.get("orc") if not ctx.group.get("detail") else None
    orc_seg = orc_seg if isinstance(orc_seg, Segment) else None
    codes = [c for c in (cwe(r, ctx.enc) for r in ctx.reps(seg, 3)) if c]
    text = "\n".join(ctx.enc.unescape(r) for r in ctx.reps(seg, 4))
    if not codes and not text:
        return
    idents = order_identifiers(ctx, orc_seg, None)
    res: dict = {"resourceType": "NutritionOrder"}
    if idents:
        res["identifier"] = idents
    status = order_status(ctx, orc_seg, "active")
    res["status"] = status if status in ("draft", "active", "on-hold", "revoked", "completed",
                                         "entered-in-error") else "unknown"
    res["intent"] = "order"
    ctx.subject(res, "patient")
    if ctx.encounter:
        res["encounter"] = {"reference": ctx.encounter}
    when = _order_time(ctx, orc_seg)
    if not when:
        return  # NutritionOrder.dateTime is required
    res["dateTime"] = when
    orderer = order_requester(ctx, orc_seg)
    if orderer:
        res["orderer"] = {"reference": orderer}
    allergies = [{"reference": e["fullUrl"]} for e in ctx.bundle.entries
                 if e["resource"]["resourceType"] == "AllergyIntolerance"]
    if allergies:
        res["allergyIntolerance"] = allergies
    kind = _DIET_KINDS.get(ctx.leaf(seg, 1), "preference")
    if kind == "oralDiet":
        res["oralDiet"] = {k: v for k, v in (("type", codes), ("instruction", text)) if v}
    elif kind == "supplement":
        res["supplement"] = [{"type": c, **({"instruction": text} if text else {})} for c in codes] or \
            [{"instruction": text}]
    else:
        if codes:
            res["foodPreferenceModifier"] = codes
        if text:
            res["note"] = [{"text": text}]
    annotation = Comps(ctx.first(orc_seg, 7), ctx.enc).c(8) if orc_seg is not None else ""
    if annotation:  # TQ.8 text of ORC-7
        res.setdefault("note", []).insert(0, {"text": annotation})
    key, ident = order_key(ctx, "NutritionOrder", idents, f"{ctx.leaf(seg, 1)}|{res['dateTime']}")
    ctx.group = {"orc": orc_seg, "detail": seg, "nutrition": res}
    ctx.bundle.add(res, key, ident)
    ctx.last = res


def requisition(ctx: Ctx, seg: Segment) -> None:
    """RQD (+ the pending ORC, a later RQ1) -> SupplyRequest.  No IG map; RQD field definitions:
    RQD-4 / -2 / -3 item codes, RQD-5/6 quantity, RQD-9 deliver-to, RQD-10 date needed."""
    orc_seg = ctx.group.get("orc") if not ctx.group.get("detail") else None
    orc_seg = orc_seg if isinstance(orc_seg, Segment) else None
    codings = [c for n in (4, 2, 3) for c in (cwe(ctx.first(seg, n), ctx.enc) or {}).get("coding", [])]
    amount = Comps(ctx.first(seg, 5), ctx.enc).c(1)
    if not codings or not amount:
        return  # SupplyRequest.item and .quantity are required
    idents = order_identifiers(ctx, orc_seg, None)
    res: dict = {"resourceType": "SupplyRequest"}
    group = ei(ctx.first(orc_seg, 4), ctx.enc, ctx.sender_system) if orc_seg is not None else None
    if group:  # no requisition element on SupplyRequest: the placer group number as a PGN identifier
        group["type"] = {"coding": [{"system": V2 + "0203", "code": "PGN"}]}
    if idents or group:
        res["identifier"] = idents + ([group] if group else [])
    res["status"] = _SUPPLY_STATUS.get(order_status(ctx, orc_seg, "active"), "unknown")
    authored = _order_time(ctx, orc_seg) if orc_seg is not None and ctx.leaf(orc_seg, 9) else None
    if authored:
        res["authoredOn"] = authored
    requester = order_requester(ctx, orc_seg)
    if requester:
        res["requester"] = {"reference": requester}
    res["itemCodeableConcept"] = {"coding": codings}
    quantity = cq(ctx, amount) or {"value": 0}
    unit = cwe(ctx.first(seg, 6), ctx.enc)
    unit_coding = (unit or {}).get("coding", [{}])[0]
    if unit_coding.get("code"):
        quantity["code"] = unit_coding["code"]
        if unit_coding.get("system"):
            quantity["system"] = unit_coding["system"]
        quantity["unit"] = unit_coding.get("display", unit_coding["code"])
    res["quantity"] = quantity
    needed = dtm(ctx.leaf(seg, 10), ctx.tz, "RQD-10")
    if needed:
        res["occurrenceDateTime"] = needed
    to = Comps(ctx.first(seg, 9), ctx.enc)
    place = _department(ctx, to.c(1), to.c(2))
    if place:
        res["deliverTo"] = {"reference": place}
    key, ident = order_key(ctx, "SupplyRequest", res.get("identifier", []),
                      f"{codings[0].get('code', '')}|{ctx.leaf(seg, 1)}|{needed}")
    ctx.group = {"orc": orc_seg, "detail": seg, "supply": res}
    ctx.bundle.add(res, key, ident)
    ctx.last = None


def supplier(ctx: Ctx, seg: Segment) -> None:
    """RQ1 -> the current SupplyRequest's ``deliverFrom``: RQ1-4 vendor, else RQ1-2 manufacturer."""
    res = ctx.group.get("supply")
    if not isinstance(res, dict):
        return
    for n in (4, 2):
        f = Comps(ctx.first(seg, n), ctx.enc)
        ref = _department(ctx, f.c(1), f.c(2))
        if ref:
            res["deliverFrom"] = {"reference": ref}
            return


def _department(ctx: Ctx, code: str, name: str) -> str | None:
    """A CWE naming a department or firm (code ^ name) -> Organization (conditional create)."""
    if not code and not name:
        return None
    org: dict = {"resourceType": "Organization", "active": True}
    ident = {"system": ctx.sender_system + ":organization", "value": code} if code else None
    if ident:
        org["identifier"] = [ident]
    if name:
        org["name"] = name
    return ctx.bundle.add(org, f"Organization|{ident['system']}|{code}" if ident else f"Organization|name|{name}",
                          ident, create_only=True)
