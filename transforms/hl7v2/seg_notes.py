"""NTE -> a note on the resource the NTE follows."""

from __future__ import annotations

from hl7bridge.transforms.hl7v2.context import Ctx
from hl7bridge.transforms.hl7v2.datatypes import dtm
from hl7bridge.transforms.hl7v2.message import Segment
from hl7bridge.transforms.hl7v2.seg_order_identity import RESULT_MESSAGES

__all__ = ["nte"]

_NOTE_TYPES = frozenset(("Observation", "ServiceRequest", "Immunization", "MedicationRequest", "Procedure",
                         "AllergyIntolerance", "Specimen", "Condition", "MedicationAdministration", "NutritionOrder"))


def nte(ctx: Ctx, seg: Segment) -> None:
    """NTE-3 -> a note on the resource the NTE follows (Appointment: comment)."""
    text = "\n".join(ctx.enc.unescape(r) for r in ctx.reps(seg, 3))
    target = ctx.last
    if not text or target is None:
        return
    rtype = target["resourceType"]
    # the report's notes are its order's; in a result message TXA (the ORDER_DOCUMENT) has no NTE of its
    # own, so an NTE after it is the ORDER's (OUL_R22 ORDER: OBR, [ORC, [OBX, TXA]], NTE ...)
    in_order = rtype == "DiagnosticReport" or (rtype == "DocumentReference" and ctx.msg.message_type in RESULT_MESSAGES)
    if in_order and isinstance(ctx.group.get("sr"), dict):
        target = ctx.group["sr"]
        rtype = "ServiceRequest"
    if rtype in _NOTE_TYPES:
        note: dict = {"text": text}
        author = ctx.practitioner(ctx.first(seg, 5)) if ctx.first(seg, 5) else None
        if author:
            note["authorReference"] = {"reference": author}
        when = dtm(ctx.leaf(seg, 6), ctx.tz, "NTE-6")
        if when:
            note["time"] = when
        target.setdefault("note", []).append(note)
    elif rtype == "Appointment":
        target["comment"] = f"{target['comment']}\n{text}" if "comment" in target else text
