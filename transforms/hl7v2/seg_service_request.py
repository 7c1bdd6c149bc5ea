"""ORC + OBR -> ServiceRequest (IG ORC[ServiceRequest], OBR[ServiceRequest])."""

from __future__ import annotations

from hl7bridge.transforms.fhir.profiles import profiled
from hl7bridge.transforms.hl7v2.codes import V2
from hl7bridge.transforms.hl7v2.context import Ctx
from hl7bridge.transforms.hl7v2.datatypes import Comps, cwe, cx, dtm, ei
from hl7bridge.transforms.hl7v2.message import Segment
from hl7bridge.transforms.hl7v2.seg_order_datatypes import eip_part, mapped_concept
from hl7bridge.transforms.hl7v2.seg_order_identity import RESULT_MESSAGES, order_key, order_requester, order_status
from hl7bridge.transforms.hl7v2.seg_timing import PRIORITY, apply_tq

__all__ = ["service_request"]


def service_request(ctx: Ctx, orc_seg: Segment | None, seg: Segment, code: dict,
                    idents: list[dict]) -> tuple[str, dict]:
    """The ServiceRequest of an OBR (with its ORC, if any), added to the bundle: its reference and the resource."""
    res = profiled({"resourceType": "ServiceRequest"}, "us-core-servicerequest")
    idents = idents + _alternate_placer_numbers(ctx, seg)
    if idents:
        res["identifier"] = idents
    res["status"] = order_status(ctx, orc_seg, "completed" if ctx.msg.message_type in RESULT_MESSAGES else
                                 ("unknown" if orc_seg is not None and ctx.leaf(orc_seg, 1) else "active"))
    res["intent"] = "order"
    res["code"] = code
    ctx.subject(res)
    if ctx.encounter:
        res["encounter"] = {"reference": ctx.encounter}
    priority = PRIORITY.get(ctx.leaf(seg, 5) or ctx.leaf(seg, 27, 6))
    if priority:
        res["priority"] = priority
    # IG ORC-9 is authoredOn for a new order (ORC-1 NW); OBR-6 (requested date/time) is when to perform it.
    authored = dtm(ctx.leaf(orc_seg, 9), ctx.tz, "ORC-9") if orc_seg is not None and ctx.leaf(orc_seg, 1) in ("NW", "") else None
    if authored:
        res["authoredOn"] = authored
    requested = dtm(ctx.leaf(seg, 6), ctx.tz, "OBR-6")
    if requested:
        res["occurrenceDateTime"] = requested
    ref = order_requester(ctx, orc_seg, ctx.first(seg, 16))
    if ref:
        res["requester"] = {"reference": ref}
    reasons = [c for c in (cwe(r, ctx.enc) for r in ctx.reps(seg, 31)) if c]
    if reasons:
        res["reasonCode"] = reasons
    _order_details(ctx, orc_seg, seg, res)
    group = res.get("requisition", {}).get("value", "")
    code_text = code.get("coding", [{}])[0].get("code", "") or code.get("text", "")
    key, ident = order_key(ctx, "ServiceRequest", idents, f"{code_text}|{authored or requested}|{group}|{ctx.leaf(seg, 1)}")
    if ident is not None and ctx.msg.message_type not in RESULT_MESSAGES and _other_service(ctx, key, code):
        # a second OBR under the same order numbers orders another service: its own request, keyed by
        # the numbers and the service (one conditional update per identifier in a transaction)
        key, ident = f"{key}|{code_text}|{ctx.leaf(seg, 1)}", None
    ctx.group["sr_key"] = key
    return ctx.bundle.add(res, key, ident), res


def _alternate_placer_numbers(ctx: Ctx, seg: Segment) -> list[dict]:
    """IG OBR[ServiceRequest] row 53: OBR-53 alternate placer order numbers (CX), typed PLAC whatever CX-5 says."""
    if seg.name != "OBR":
        return []
    out = []
    for rep in ctx.reps(seg, 53):
        ident = cx(rep, ctx.enc, ctx.sender_system)
        if ident:
            ident["type"] = {"coding": [{"system": V2 + "0203", "code": "PLAC"}]}
            out.append(ident)
    return out


def _other_service(ctx: Ctx, key: str, code: dict) -> bool:
    """True when ``key`` already holds a ServiceRequest for a different service code."""
    url = ctx.bundle.ref(key)
    found = ctx.bundle.resource_of(url)
    return isinstance(found, dict) and found.get("code") != code


def _order_details(ctx: Ctx, orc_seg: Segment | None, seg: Segment, res: dict) -> None:
    """IG ORC[ServiceRequest] / OBR[ServiceRequest]: ORC-4 requisition, ORC-29 location code,
    OBR-11 `G` a reflex order, OBR-46 / OBR-47 order details."""
    if orc_seg is not None:
        _group_numbers(ctx, orc_seg, res)
    where = cwe(ctx.first(orc_seg, 29), ctx.enc) if orc_seg is not None else None
    if where:  # the order type as sent, with its IG OrderType translation (v3 RoleCode) beside it
        translated = mapped_concept(ctx, ctx.first(orc_seg, 29), "OrderType") or {}
        where["coding"] = where.get("coding", []) + [c for c in translated.get("coding", []) if c not in where.get("coding", [])]
        res["locationCode"] = [where]
    if ctx.leaf(seg, 11) == "G":
        res["intent"] = "reflex-order"
    details = [c for n in (46, 47) for c in (cwe(r, ctx.enc) for r in ctx.reps(seg, n)) if c]
    if details:
        res["orderDetail"] = details
    tq = (ctx.first(orc_seg, 7) if orc_seg is not None else "") or ctx.first(seg, 27)
    if tq:  # IG ORC-7, else OBR-27: TQ[ServiceRequest]
        apply_tq(ctx, tq, res, "ORC-7" if orc_seg is not None and ctx.first(orc_seg, 7) else "OBR-27")
    parents = _parent_orders(ctx, ctx.first(seg, 29))
    if parents:
        res["basedOn"] = parents


def _group_numbers(ctx: Ctx, orc_seg: Segment, res: dict) -> None:
    """IG ORC-4 (EI, or EIP from v2.7): the placer group number is the ``requisition``; a filler group
    number (ORC-4.2 of an EIP, else ORC-38) is an identifier typed FGN."""
    text = ctx.first(orc_seg, 4)
    filler = ei(ctx.first(orc_seg, 38), ctx.enc, ctx.sender_system)
    if filler:
        filler["type"] = {"coding": [{"system": V2 + "0203", "code": "FGN"}]}
    if ctx.enc.subcomponent in text:
        f = Comps(text, ctx.enc)
        placer = eip_part(ctx, f.subs(1), "PGN")
        filler = filler or eip_part(ctx, f.subs(2), "FGN")
    else:
        placer = ei(text, ctx.enc, ctx.sender_system)
        if placer:
            placer["type"] = {"coding": [{"system": V2 + "0203", "code": "PGN"}]}
    if placer:
        res["requisition"] = placer
    if filler:
        res.setdefault("identifier", []).append(filler)


def _parent_orders(ctx: Ctx, text: str) -> list[dict]:
    """IG OBR-29 (EIP): the parent order as logical references by placer / filler number."""
    out = []
    f = Comps(text, ctx.enc)
    for i, code in ((1, "PLAC"), (2, "FILL")):
        ident = eip_part(ctx, f.subs(i), code)
        if ident:
            out.append({"type": "ServiceRequest", "identifier": ident})
    return out
