"""TQ1 to the timing of the current order (IG TQ1[ServiceRequest], TQ1[MedicationRequest])."""

from __future__ import annotations

import re

from hl7bridge.transforms.hl7v2.context import Ctx
from hl7bridge.transforms.hl7v2.datatypes import Comps, dtm
from hl7bridge.transforms.hl7v2.message import Segment

__all__ = ["tq1", "apply_pending", "PRIORITY"]

PRIORITY = {"S": "stat", "A": "asap", "R": "routine", "P": "urgent", "T": "urgent", "C": "urgent"}

# CQ units (HL7 / ISO+ / UCUM spellings) -> UCUM units of time, which Timing.durationUnit requires.
_TIME_UNITS = {"s": "s", "sec": "s", "min": "min", "h": "h", "hr": "h", "hour": "h", "d": "d", "day": "d",
               "wk": "wk", "week": "wk", "mo": "mo", "month": "mo", "a": "a", "yr": "a", "year": "a"}
_TIME = re.compile(r"^(\d\d):?(\d\d)(?::?(\d\d))?")


def tq1(ctx: Ctx, seg: Segment) -> None:
    """TQ1 -> the current order's timing; before its OBR / RXE / RXO (ORC, TQ1, OBR) it waits for it."""
    res = ctx.group.get("sr") or ctx.group.get("mr")
    if not isinstance(res, dict):
        ctx.group.setdefault("pending_tq1", []).append(seg)
        return
    _apply(ctx, seg, res)


def apply_pending(ctx: Ctx, pending: list[Segment], res: dict) -> None:
    """The TQ1s that came between ORC and the order's detail segment, now that the order exists."""
    for seg in pending:
        _apply(ctx, seg, res)


def _apply(ctx: Ctx, seg: Segment, res: dict) -> None:
    """IG TQ1[ServiceRequest] / TQ1[MedicationRequest]; TQ1-9 -> priority."""
    priority = PRIORITY.get(ctx.leaf(seg, 9))
    if priority:
        res["priority"] = priority
    repeat = _repeat(ctx, seg)
    quantity = _quantity(ctx, ctx.first(seg, 2))
    text = ctx.leaf(seg, 11)
    if res["resourceType"] == "MedicationRequest":
        dosage = (res.get("dosageInstruction") or [{}])[0]
        if repeat:
            dosage.setdefault("timing", {})["repeat"] = repeat
        if quantity and "doseAndRate" not in dosage:
            dosage["doseAndRate"] = [{"doseQuantity": quantity}]
        if dosage:
            res["dosageInstruction"] = [dosage] + res.get("dosageInstruction", [])[1:]
    else:
        if quantity:
            res["quantityQuantity"] = quantity
        if repeat:
            res["occurrenceTiming"] = {"repeat": repeat}
    if text:
        res.setdefault("note", []).append({"text": text})


def _repeat(ctx: Ctx, seg: Segment) -> dict:
    repeat: dict = {}
    start, end = dtm(ctx.leaf(seg, 7), ctx.tz, "TQ1-7"), dtm(ctx.leaf(seg, 8), ctx.tz, "TQ1-8")
    if start or end:
        repeat["boundsPeriod"] = {k: v for k, v in (("start", start), ("end", end)) if v}
    times = [t for t in (_time(Comps(r, ctx.enc).c(1)) for r in ctx.reps(seg, 4)) if t]
    if times:
        repeat["timeOfDay"] = times
    duration = Comps(ctx.first(seg, 13), ctx.enc)
    unit = _TIME_UNITS.get(duration.subs(2)[0].lower() if duration.subs(2) else "")
    number = _number(duration.c(1))
    if number is not None and unit:
        repeat["duration"], repeat["durationUnit"] = number, unit
    count = ctx.leaf(seg, 14)
    if count.isdigit() and int(count) > 0:
        repeat["countMax"] = int(count)
    return repeat


def _quantity(ctx: Ctx, text: str) -> dict | None:
    """CQ (quantity ^ units CWE in subcomponents) -> Quantity."""
    f = Comps(text, ctx.enc)
    number = _number(f.c(1))
    if number is None:
        return None
    quantity: dict = {"value": number}
    units = [u for u in f.subs(2)] + ["", "", ""]
    if units[1] or units[0]:
        quantity["unit"] = units[1] or units[0]
    if units[0] and units[2] in ("UCUM", "ANS+"):
        quantity["system"], quantity["code"] = "http://unitsofmeasure.org", units[0]
    return quantity


def _number(text: str) -> int | float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return int(value) if value.is_integer() and "." not in text else value


def _time(text: str) -> str | None:
    m = _TIME.match(text)
    if not m:
        return None
    return f"{m.group(1)}:{m.group(2)}:{m.group(3) or '00'}"
