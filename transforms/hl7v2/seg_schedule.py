"""SCH, AIS, AIP and AIL to Appointment (IG SCH[Appointment], AIS/AIP/AIL[Appointment])."""

from __future__ import annotations

from hl7bridge.engine.errors import ParseError
from hl7bridge.transforms.hl7v2.codes import lookup
from hl7bridge.transforms.hl7v2.context import Ctx
from hl7bridge.transforms.hl7v2.datatypes import Comps, cwe, dtm, ei
from hl7bridge.transforms.hl7v2.message import Segment

__all__ = ["appointment", "service", "resource_person", "resource_location"]

_EVENT_STATUS = {"S12": "booked", "S13": "booked", "S14": "booked", "S15": "cancelled", "S17": "entered-in-error",
                 "S26": "noshow", "S16": "cancelled"}


def appointment(ctx: Ctx, seg: Segment) -> None:
    """SCH -> Appointment; the patient from PID joins as a participant."""
    idents = [i for i in (ei(ctx.first(seg, n), ctx.enc, ctx.sender_system) for n in (1, 2)) if i]
    if not idents:
        raise ParseError("SCH has neither a placer (SCH-1) nor a filler (SCH-2) appointment id",
                         location="SCH-1", hl7_code=101)
    res: dict = {"resourceType": "Appointment", "identifier": idents}
    status = lookup("FillerStatusCodes[Appointment]", ctx.leaf(seg, 25))
    res["status"] = status[0] if status else _EVENT_STATUS.get(ctx.event, "booked")
    reason = cwe(ctx.first(seg, 7), ctx.enc)
    if reason:
        res["reasonCode"] = [reason]
    kind = cwe(ctx.first(seg, 8), ctx.enc)
    if kind:
        res["appointmentType"] = kind
    timing = Comps(ctx.first(seg, 11), ctx.enc)
    start, end = dtm(timing.c(4), ctx.tz, "SCH-11"), dtm(timing.c(5), ctx.tz, "SCH-11")
    _times(res, start, end)
    duration = ctx.leaf(seg, 9)
    if duration.isdigit() and int(duration) > 0 and ctx.leaf(seg, 10, 1) in ("", "MIN", "min"):
        res["minutesDuration"] = int(duration)
    participants = []
    if ctx.patient:
        participants.append({"actor": {"reference": ctx.patient}, "status": "accepted"})
    for n in (12, 16, 20):
        ref = ctx.practitioner(ctx.first(seg, n)) if ctx.first(seg, n) else None
        if ref:
            participants.append({"actor": {"reference": ref}, "status": "accepted"})
    res["participant"] = participants or [{"status": "needs-action",
                                           "type": [{"text": "unknown"}]}]
    ident = idents[-1]
    ctx.bundle.add(res, f"Appointment|{ident.get('system', '')}|{ident['value']}", ident)
    ctx.group = {"appointment": res}
    _order(ctx, seg, res)
    ctx.last = res


def _order(ctx: Ctx, seg: Segment, appt: dict) -> None:
    """IG SCH[ServiceRequest]: SCH-26 / SCH-27 name the order the appointment fulfils; AIS-3 gives its code."""
    idents = []
    for n, code in ((26, "PLAC"), (27, "FILL")):
        ident = ei(ctx.first(seg, n), ctx.enc, ctx.sender_system)
        if ident:
            ident["type"] = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": code}]}
            idents.append(ident)
    if not idents or not ctx.patient:
        return
    res: dict = {"resourceType": "ServiceRequest", "identifier": idents, "status": "active", "intent": "order",
                 "subject": {"reference": ctx.patient}}
    ident = idents[-1]
    ref = ctx.bundle.add(res, f"ServiceRequest|{ident.get('system', '')}|{ident['value']}", ident)
    appt["basedOn"] = [{"reference": ref}]
    ctx.group["sr"] = res


def _times(res: dict, start: str | None, end: str | None) -> None:
    # Appointment.start / end are instants: keep them only at full precision.
    if start and len(start) >= 20:
        res["start"] = start
    if end and len(end) >= 20:
        res["end"] = end


def _current(ctx: Ctx) -> dict | None:
    found = ctx.group.get("appointment")
    return found if isinstance(found, dict) else None


def service(ctx: Ctx, seg: Segment) -> None:
    """AIS-3 -> Appointment.serviceType; AIS-4 start when SCH gave none."""
    res = _current(ctx)
    if res is None:
        return
    concept = cwe(ctx.first(seg, 3), ctx.enc)
    start = dtm(ctx.leaf(seg, 4), ctx.tz, "AIS-4")
    if concept:
        res.setdefault("serviceType", []).append(concept)
        _service_order(ctx, res, concept, start)
    if "start" not in res:
        _times(res, start, None)


def _service_order(ctx: Ctx, appt: dict, concept: dict, start: str | None) -> None:
    """IG AIS[ServiceRequest]: each service is a ServiceRequest (AIS-3 its identifier, AIS-4 its start).

    The first one completes the order SCH-26 / SCH-27 named; US Core wants its code, so AIS-3 is that too.
    """
    order = ctx.group.get("sr")
    if not isinstance(order, dict) or "code" in order:
        if not ctx.patient:
            return
        order = {"resourceType": "ServiceRequest", "status": "active", "intent": "order",
                 "subject": {"reference": ctx.patient}}
        coding = concept.get("coding", [{}])[0]
        key = f"ServiceRequest|{ctx.patient_key}|service|{coding.get('code', '')}|{start or ''}"
        appt.setdefault("basedOn", []).append({"reference": ctx.bundle.add(order, key)})
    order["code"] = concept
    order["meta"] = {"profile": ["http://hl7.org/fhir/us/core/StructureDefinition/us-core-servicerequest"]}
    coding = concept.get("coding", [{}])[0]
    if coding.get("code"):
        ident = {"value": coding["code"]}
        if coding.get("system"):
            ident["system"] = coding["system"]
        order.setdefault("identifier", []).append(ident)
    if start:
        order["occurrencePeriod"] = {"start": start}


def resource_person(ctx: Ctx, seg: Segment) -> None:
    """AIP-3 -> a practitioner participant, AIP-4 its role."""
    res = _current(ctx)
    if res is None:
        return
    ref = ctx.practitioner(ctx.first(seg, 3)) if ctx.first(seg, 3) else None
    if ref:
        entry = _resource_entry(ctx, seg, ref, "AIP")
        role = cwe(ctx.first(seg, 4), ctx.enc)
        if role:
            entry["type"] = [role]
        res["participant"].append(entry)


# AIx-12 filler status (HL7 table 0278) -> Appointment.participant.status; none given: not yet confirmed.
_PARTICIPANT_STATUS = {"Booked": "accepted", "Complete": "accepted", "Started": "accepted", "Confirmed": "accepted",
                       "Pending": "tentative", "Waitlist": "tentative", "Overbook": "tentative",
                       "Cancelled": "declined", "Deleted": "declined", "Blocked": "declined", "Noshow": "declined",
                       "Dc": "declined"}


def _resource_entry(ctx: Ctx, seg: Segment, ref: str, name: str) -> dict:
    """IG AIP/AIL[Appointment]: AIx-6 starts the participation, AIx-12 gives its status."""
    entry: dict = {"actor": {"reference": ref},
                   "status": _PARTICIPANT_STATUS.get(ctx.leaf(seg, 12).capitalize(), "tentative")}
    start = dtm(ctx.leaf(seg, 6), ctx.tz, f"{name}-6")
    if start:
        entry["period"] = {"start": start}
    return entry


def resource_location(ctx: Ctx, seg: Segment) -> None:
    """AIL-3 -> a location participant."""
    res = _current(ctx)
    if res is None:
        return
    ref = ctx.location(ctx.first(seg, 3)) if ctx.first(seg, 3) else None
    if ref:
        res["participant"].append(_resource_entry(ctx, seg, ref, "AIL"))
