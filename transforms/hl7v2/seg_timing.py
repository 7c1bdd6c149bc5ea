"""TQ1 and the older TQ datatype to the timing of the current order.

IG TQ1[ServiceRequest] / TQ1[MedicationRequest] for the segment, TQ[ServiceRequest] for ORC-7 /
OBR-27, RPT[Timing] for TQ1-3 and RI[Timing] for TQ.2.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from hl7bridge.transforms.hl7v2.codes import lookup
from hl7bridge.transforms.hl7v2.context import Ctx
from hl7bridge.transforms.hl7v2.datatypes import Comps, dtm
from hl7bridge.transforms.hl7v2.message import Segment

__all__ = ["tq1", "apply_pending", "apply_tq", "PRIORITY"]

PRIORITY = {"S": "stat", "A": "asap", "R": "routine", "P": "urgent", "T": "urgent", "C": "urgent"}

# CQ units (HL7 / ISO+ / UCUM spellings) -> UCUM units of time, which Timing.durationUnit requires.
_TIME_UNITS = {"s": "s", "sec": "s", "second": "s", "min": "min", "minute": "min", "h": "h", "hr": "h", "hour": "h",
               "d": "d", "day": "d", "wk": "wk", "week": "wk", "mo": "mo", "month": "mo", "a": "a", "yr": "a",
               "year": "a", "ann": "a"}
_MINUTES = {"s": 1 / 60, "min": 1, "h": 60, "d": 1440, "wk": 10080}
_TIME = re.compile(r"^(\d\d):?(\d\d)(?::?(\d\d))?")
_TQ_DURATION = re.compile(r"^([SMHDWL])(\d+(?:\.\d+)?)$")  # TQ.3: S<n> seconds ... L<n> months
_TQ_UNITS = {"S": ("s", "second"), "M": ("min", "minute"), "H": ("h", "hour"), "D": ("d", "day"),
             "W": ("wk", "week"), "L": ("mo", "month")}
_UCUM = "http://unitsofmeasure.org"


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
    timing = _timing(ctx, seg)
    quantity = _quantity(ctx, ctx.first(seg, 2))
    text = ctx.leaf(seg, 11)
    condition = ctx.leaf(seg, 10)
    if res["resourceType"] == "MedicationRequest":
        dosage = (res.get("dosageInstruction") or [{}])[0]
        if timing.get("repeat"):
            dosage.setdefault("timing", {})["repeat"] = timing["repeat"]
        if timing.get("code"):
            dosage.setdefault("timing", {})["code"] = timing["code"]
        if quantity and "doseAndRate" not in dosage:
            dosage["doseAndRate"] = [{"doseQuantity": quantity}]
        if condition:  # row 14: appended to the RXO-7 / RXE-7 / RXR-5 instructions already there
            dosage.setdefault("additionalInstruction", []).append({"text": condition})
        if text:  # row 15: TQ1-11 -> the dosage text (after RXO-6 pharmacy instructions, if any)
            dosage["text"] = f"{dosage['text']}\n{text}" if dosage.get("text") else text
        sequence = ctx.leaf(seg, 1)
        if sequence.isdigit() and int(sequence) > 0 and "sequence" not in dosage:  # no IG row: Set ID as the order
            dosage["sequence"] = int(sequence)
        if dosage:
            res["dosageInstruction"] = [dosage] + res.get("dosageInstruction", [])[1:]
        return
    if quantity:
        res["quantityQuantity"] = quantity
    if timing:
        set_timing(res, timing)
    if condition:  # the pre-condition for the service ("PRN pain"); the IG's extension is undefined
        res["asNeededCodeableConcept"] = {"text": condition}
    if text:
        res.setdefault("note", []).append({"text": text})


def set_timing(res: dict, timing: dict) -> None:
    """Merge a Timing into ServiceRequest.occurrenceTiming (it replaces an OBR-6 occurrenceDateTime)."""
    res.pop("occurrenceDateTime", None)
    current = res.setdefault("occurrenceTiming", {})
    if timing.get("code"):
        current["code"] = timing["code"]
    if timing.get("repeat"):
        current.setdefault("repeat", {}).update(timing["repeat"])


def _timing(ctx: Ctx, seg: Segment) -> dict:
    """TQ1-3 (RPT[Timing]) then TQ1-4 .. TQ1-8, TQ1-13, TQ1-14 into one Timing."""
    timing = _rpt(ctx, ctx.first(seg, 3))
    repeat = timing.setdefault("repeat", {})
    start, end = dtm(ctx.leaf(seg, 7), ctx.tz, "TQ1-7"), dtm(ctx.leaf(seg, 8), ctx.tz, "TQ1-8")
    service = _ucum_quantity(ctx, ctx.first(seg, 6))
    if service and bool(start) != bool(end):  # IG TQ1-6: the service duration gives the missing bound
        start, end = start or _shift(end, service, -1), end or _shift(start, service, 1)
    if start or end:
        repeat["boundsPeriod"] = {k: v for k, v in (("start", start), ("end", end)) if v}
    elif service:  # IG TQ1-6: a service duration without start / end bounds the whole
        repeat["boundsDuration"] = service
    times = [t for t in (_time(Comps(r, ctx.enc).c(1)) for r in ctx.reps(seg, 4)) if t]
    if times:
        repeat["timeOfDay"] = times
    if "offset" not in repeat:
        offset = _minutes(ctx, ctx.first(seg, 5))
        if offset is not None:
            repeat["offset"] = offset
    duration = Comps(ctx.first(seg, 13), ctx.enc)
    unit = _TIME_UNITS.get(duration.subs(2)[0].lower() if duration.subs(2) else "")
    number = _number(duration.c(1))
    if number is not None and unit:
        repeat["duration"], repeat["durationUnit"] = number, unit
    count = ctx.leaf(seg, 14)
    if count.isdigit() and int(count) > 0:
        repeat["countMax"] = int(count)
    if not repeat:
        del timing["repeat"]
    return timing


def _rpt(ctx: Ctx, text: str) -> dict:
    """IG RPT[Timing]: RPT.1 code (RepeatPattern), .5/.6 period, .8 when (EventRelatedPeriod), .9/.10 offset."""
    timing: dict = {}
    if not text:
        return timing
    f = Comps(text, ctx.enc)
    code = _repeat_code(f.c(1))
    if code:
        timing["code"] = code
    repeat: dict = {}
    period = _number(f.c(5))
    unit = _TIME_UNITS.get((f.subs(6) or [""])[0].lower())
    if period is not None and period > 0 and unit:
        repeat["period"], repeat["periodUnit"] = period, unit
    event = lookup("EventRelatedPeriod", f.c(8))
    if event:
        repeat["when"] = [event[0]]
    offset = _minutes_of(f.c(9), (f.subs(10) or [""])[0])
    if offset is not None:
        repeat["offset"] = offset
    if repeat:
        timing["repeat"] = repeat
    return timing


def _repeat_code(code: str) -> dict | None:
    if not code:
        return None
    mapped = lookup("RepeatPattern", code)
    if mapped:
        coding = {"system": mapped[2], "code": mapped[0]}
        if mapped[1] and mapped[1] != mapped[0]:
            coding["display"] = mapped[1]
        return {"coding": [coding]}
    return {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0335", "code": code}]}


def apply_tq(ctx: Ctx, text: str, res: dict, loc: str) -> None:
    """IG TQ[ServiceRequest] (ORC-7, else OBR-27): quantity, RI interval, duration, bounds, priority, text, count."""
    f = Comps(text, ctx.enc)
    quantity = _sub_quantity(f.subs(1))
    if quantity:
        res["quantityQuantity"] = quantity
    timing: dict = {}
    interval = f.subs(2)  # RI: repeat pattern & explicit time interval
    if interval and interval[0]:
        timing["code"] = _repeat_code(interval[0])
    repeat: dict = {}
    times = [t for t in (_time(x) for x in (interval[1].split(",") if len(interval) > 1 else [])) if t]
    if times:
        repeat["timeOfDay"] = times
    bounds = _tq_duration(f.c(3))
    if bounds:
        repeat["boundsDuration"] = bounds
    start, end = dtm(f.c(4), ctx.tz, loc + ".4"), dtm(f.c(5), ctx.tz, loc + ".5")
    if start or end:
        repeat["boundsPeriod"] = {k: v for k, v in (("start", start), ("end", end)) if v}
        repeat.pop("boundsDuration", None)  # Timing.repeat.bounds[x] holds one of them
    count = f.c(12)
    if count.isdigit() and int(count) > 0:
        repeat["count"] = int(count)
    if repeat:
        timing["repeat"] = repeat
    if timing:
        set_timing(res, timing)
    priority = PRIORITY.get(f.c(6))
    if priority:
        res["priority"] = priority
    if f.c(8):
        res.setdefault("note", []).append({"text": f.c(8)})


def _sub_quantity(subs: list[str]) -> dict | None:
    """TQ.1: a CQ held in subcomponents (quantity & unit code)."""
    number = _number(subs[0]) if subs else None
    if number is None:
        return None
    quantity: dict = {"value": number}
    if len(subs) > 1 and subs[1]:
        quantity["unit"] = subs[1]
    return quantity


def _tq_duration(text: str) -> dict | None:
    """TQ.3 (``S50``, ``M10``, ``D3`` ...) -> a UCUM Duration; anything else is left out."""
    m = _TQ_DURATION.match(text.strip())
    if not m:
        return None
    code, unit = _TQ_UNITS[m.group(1)]
    value = _number(m.group(2))
    return {"value": value, "unit": unit, "system": _UCUM, "code": code} if value is not None else None


def _shift(when: str | None, duration: dict, sign: int) -> str | None:
    """``when`` (a FHIR dateTime with a time and offset) moved by a UCUM duration of s / min / h / d / wk."""
    minutes = _MINUTES.get(duration.get("code", ""))
    if not when or minutes is None or "T" not in when:
        return None
    try:
        moved = datetime.fromisoformat(when.replace("Z", "+00:00")) + sign * timedelta(minutes=duration["value"] * minutes)
    except (ValueError, OverflowError):
        return None
    text = moved.isoformat()
    return text[:-6] + "Z" if when.endswith("Z") and text.endswith("+00:00") else text


def _ucum_quantity(ctx: Ctx, text: str) -> dict | None:
    """CQ whose unit is a time unit -> a UCUM Duration (IG CQ[Quantity])."""
    quantity = _quantity(ctx, text)
    if not quantity:
        return None
    units = Comps(text, ctx.enc).subs(2) or [""]
    code = _TIME_UNITS.get(units[0].lower())
    if code:
        quantity["system"], quantity["code"] = _UCUM, code
    return quantity


def _minutes(ctx: Ctx, text: str) -> int | None:
    """CQ of time (TQ1-5 relative time) -> whole minutes (Timing.repeat.offset)."""
    f = Comps(text, ctx.enc)
    return _minutes_of(f.c(1), (f.subs(2) or [""])[0])


def _minutes_of(number_text: str, unit_text: str) -> int | None:
    number = _number(number_text)
    factor = _MINUTES.get(_TIME_UNITS.get(unit_text.lower(), ""))
    if number is None or factor is None:
        return None
    minutes = number * factor
    return int(minutes) if minutes >= 0 and float(minutes).is_integer() else None


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
        quantity["system"], quantity["code"] = _UCUM, units[0]
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
