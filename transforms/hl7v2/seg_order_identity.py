"""What every order mapper shares: the order's numbers, status, requester and upsert key.

Used by the ORC / OBR mappers here and by seg_pharmacy (RXO / RXE / RXA), seg_diet_supply (ODS / RQD).
"""

from __future__ import annotations

from hl7bridge.transforms.hl7v2.codes import V2, lookup
from hl7bridge.transforms.hl7v2.context import Ctx
from hl7bridge.transforms.hl7v2.datatypes import ei, xad, xtn
from hl7bridge.transforms.hl7v2.message import Segment

__all__ = ["RESULT_MESSAGES", "order_identifiers", "order_status", "ordering_facility", "order_requester", "order_key"]

# result messages: an OBR reports (DiagnosticReport) on an order that is done
RESULT_MESSAGES = frozenset(("ORU", "OUL"))


def order_identifiers(ctx: Ctx, orc_seg: Segment | None, detail: Segment | None) -> list[dict]:
    """Placer (ORC-2 / OBR-2) and filler (ORC-3 / OBR-3) order numbers as typed Identifiers.

    IG ORC[ServiceRequest] rows 9 / 12 take ORC-2 / ORC-3 only when OBR-2 / OBR-3 are empty; we keep
    the ORC's numbers first, which the FHIR-to-v2 round trip writes back into ORC-2 / ORC-3."""
    out = []
    for n, code in ((2, "PLAC"), (3, "FILL")):
        text = (ctx.first(orc_seg, n) if orc_seg else "") or (ctx.first(detail, n) if detail and detail.name == "OBR" else "")
        ident = ei(text, ctx.enc, ctx.sender_system)
        if ident:
            ident["type"] = {"coding": [{"system": V2 + "0203", "code": code}]}
            out.append(ident)
    return out


def order_status(ctx: Ctx, orc_seg: Segment | None, default: str) -> str:
    """ORC-5 (order status) first, then ORC-1 (order control), per the IG concept maps.

    An order message whose ORC-1 the map leaves open (``SC`` status changed, ``XO`` ...) gets
    ``unknown`` from the caller: the message says the status changed, not to what."""
    if orc_seg is not None:
        for table, n in (("OrderStatus", 5), ("OrderControlCode[ServiceRequest.status]", 1)):
            mapped = lookup(table, ctx.leaf(orc_seg, n))
            if mapped:
                return mapped[0]
    return default


def ordering_facility(ctx: Ctx, orc_seg: Segment | None) -> str | None:
    """IG ORC[ServiceRequest] ORC-21/22/23: the ordering facility Organization with its address and phone."""
    facility = ctx.first(orc_seg, 21) if orc_seg is not None else ""
    org = ctx.organization(facility) if facility and orc_seg is not None else None
    target = ctx.bundle.resource_of(org)
    if target is None or orc_seg is None:
        return org
    address = xad(ctx.first(orc_seg, 22), ctx.enc) if ctx.first(orc_seg, 22) else None
    if address and "address" not in target:
        target["address"] = [address]
    phones = [p for p in (xtn(r, ctx.enc) for r in ctx.reps(orc_seg, 23)) if p]
    if phones and "telecom" not in target:
        target["telecom"] = phones
    return org


def order_requester(ctx: Ctx, orc_seg: Segment | None, fallback_xcn: str = "") -> str | None:
    """IG ORC-12 (else OBR-16 / RXO-14 ...) with ORC-21..23: the orderer as a PractitionerRole of the
    ordering facility, coded ``OP`` (v2 table 0443 ordering provider; the IG gives no role code).  With no
    orderer named, the ordering facility alone is the requester (IG ORC-21 requester(PractitionerRole.organization))."""
    xcn = (ctx.first(orc_seg, 12) if orc_seg is not None else "") or fallback_xcn
    return ctx.practitioner_role(xcn, V2 + "0443", "OP", ordering_facility(ctx, orc_seg))


def order_key(ctx: Ctx, rtype: str, idents: list[dict], fallback: str) -> tuple[str, dict | None]:
    """The upsert key of an order resource: its filler (else first) number, else ``fallback`` under the patient."""
    ident = next((i for i in idents if i["type"]["coding"][0]["code"] == "FILL"), idents[0] if idents else None)
    if ident:
        return f"{rtype}|{ident.get('system', '')}|{ident['value']}", ident
    return f"{rtype}|{ctx.patient_key}|{fallback}", None
