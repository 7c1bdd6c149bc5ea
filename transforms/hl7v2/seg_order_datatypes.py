"""Datatypes that order, specimen and supply segments share: EIP parts, CWE through an IG concept map, CQ.

Each becomes the FHIR type the IG's datatype maps give (Identifier, CodeableConcept, Quantity).
"""

from __future__ import annotations

from hl7bridge.transforms.hl7v2.codes import V2, lookup
from hl7bridge.transforms.hl7v2.context import Ctx
from hl7bridge.transforms.hl7v2.datatypes import Comps, cwe, ei

__all__ = ["eip_part", "mapped_concept", "cq"]


def eip_part(ctx: Ctx, subs: list[str], code: str) -> dict | None:
    """One EI of an EIP (its parts are subcomponents) as an Identifier typed ``code``."""
    if not subs or not subs[0]:
        return None
    ident = ei(ctx.enc.component.join(ctx.enc.escape(s) for s in subs[:4]), ctx.enc, ctx.sender_system)
    if ident:
        ident["type"] = {"coding": [{"system": V2 + "0203", "code": code}]}
    return ident


def mapped_concept(ctx: Ctx, text: str, table: str) -> dict | None:
    """CWE -> CodeableConcept, each coding without a system (or in a v2 table) through an IG concept map."""
    concept = cwe(text, ctx.enc)
    for i, coding in enumerate((concept or {}).get("coding", [])):
        if coding.get("system", V2).startswith(V2):
            mapped = lookup(table, coding.get("code", ""))
            if mapped:
                concept["coding"][i] = {"system": mapped[2], "code": mapped[0]}
                if mapped[1]:
                    concept["coding"][i]["display"] = mapped[1]
    return concept


def cq(ctx: Ctx, text: str) -> dict | None:
    """CQ (quantity ^ unit CWE in subcomponents) -> Quantity (IG CQ[Quantity])."""
    f = Comps(text, ctx.enc)
    try:
        value = float(f.c(1))
    except ValueError:
        return None
    quantity: dict = {"value": int(value) if value.is_integer() and "." not in f.c(1) else value}
    units = f.subs(2) + ["", ""]
    if units[0] or units[1]:
        quantity["unit"] = units[1] or units[0]
    return quantity
