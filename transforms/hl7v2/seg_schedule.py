"""SCH, AIS, AIP and AIL to Appointment (IG SCH[Appointment], AIS/AIP/AIL[Appointment])."""

from __future__ import annotations

from hl7bridge.engine.errors import ParseError
from hl7bridge.transforms.fhir.profiles import US_CORE
from hl7bridge.transforms.hl7v2.codes import LOCAL_BASE, V2, lookup, system_uri
from hl7bridge.transforms.hl7v2.context import Ctx
from hl7bridge.transforms.hl7v2.datatypes import Comps, cwe, dtm, ei, xtn
from hl7bridge.transforms.hl7v2.message import Segment

__all__ = ["appointment", "service", "resource_person", "resource_location", "resource_general", "resource_group"]

_V2_0203 = "http://terminology.hl7.org/CodeSystem/v2-0203"
# Appointment status -> the status of the orders it fulfils (IG SCH[ServiceRequest] SCH-25: the filler status).
_ORDER_STATUS = {"proposed": "draft", "pending": "draft", "waitlist": "draft", "fulfilled": "completed",
                 "cancelled": "revoked", "noshow": "revoked", "entered-in-error": "entered-in-error"}
# SCH-10 duration units (CNE, ISO+ / ANSI / UCUM spellings) -> minutes per unit.
_MINUTES = {"s": 1 / 60, "sec": 1 / 60, "min": 1, "m": 1, "h": 60, "hr": 60, "hour": 60, "d": 1440, "day": 1440}

_EVENT_STATUS = {"S12": "booked", "S13": "booked", "S14": "booked", "S15": "cancelled", "S17": "entered-in-error",
                 "S26": "noshow", "S16": "cancelled"}


def appointment(ctx: Ctx, seg: Segment) -> None:
    """SCH -> Appointment; the patient from PID joins as a participant."""
    idents = []
    for n, code, label in ((1, "PLAC", "Placer Identifier"), (2, "FILL", "Filler Identifier")):
        ident = ei(ctx.first(seg, n), ctx.enc, ctx.sender_system)
        if ident:
            ident["type"] = {"coding": [{"system": _V2_0203, "code": code, "display": label}]}
            idents.append(ident)
    orders = [ctx.leaf(seg, 26), ctx.leaf(seg, 27)]
    if not idents and not (any(orders) and ctx.patient):
        raise ParseError("SCH has neither a placer (SCH-1) nor a filler (SCH-2) appointment id",
                         location="SCH-1", hl7_code=101)
    res: dict = {"resourceType": "Appointment"}
    if idents:
        res["identifier"] = idents
    status = lookup("FillerStatusCodes[Appointment]", ctx.leaf(seg, 25))
    res["status"] = status[0] if status else _EVENT_STATUS.get(ctx.event, "booked")
    reason = cwe(ctx.first(seg, 7), ctx.enc)
    if reason:
        res["reasonCode"] = [reason]
    kind = cwe(ctx.first(seg, 8), ctx.enc)
    if kind:
        res["appointmentType"] = kind
    start, end = _timing(ctx, seg)
    _times(res, start, end)
    minutes = _minutes(ctx.leaf(seg, 9), ctx.leaf(seg, 10, 1))
    if minutes:
        res["minutesDuration"] = minutes
    participants = []
    if ctx.patient:
        participants.append({"actor": {"reference": ctx.patient}, "status": "accepted"})
    for n, kind in ((12, _PLACER_CONTACT), (16, _FILLER_CONTACT), (20, _ENTERER)):
        ref = ctx.practitioner(ctx.first(seg, n)) if ctx.first(seg, n) else None
        if ref:
            participants.append({"actor": {"reference": ref}, "status": "accepted", "type": [kind]})
    res["participant"] = participants or [{"status": "needs-action",
                                           "type": [{"text": "unknown"}]}]
    contacts = _contact_roles(ctx, seg)
    if contacts:
        res["supportingInformation"] = [{"reference": r} for r in contacts]
    ident = idents[-1] if idents else None
    if ident:
        ctx.bundle.add(res, f"Appointment|{ident.get('system', '')}|{ident['value']}", ident)
    else:  # only the order it fulfils (SCH-26 / SCH-27) names it: keyed by the patient and that order
        ctx.bundle.add(res, f"Appointment|{ctx.patient_key}|order|{orders[0]}|{orders[1]}")
    ctx.group = {"appointment": res}
    _order(ctx, seg, res)
    ctx.last = res


# IG SCH-12 / SCH-16: participant-type "#placer contact#" / "#filler contact#" (codes the IG leaves to be
# defined, so only their text); SCH-20: "enterer" (provenance-participant-type).
_PLACER_CONTACT = {"text": "placer contact"}
_FILLER_CONTACT = {"text": "filler contact"}
_ENTERER = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/provenance-participant-type",
                        "code": "enterer", "display": "Enterer"}]}


# SCH contact persons with their phone and location fields (the IG maps only the person, as a participant).
_CONTACTS = ((12, 13, 15, {"system": LOCAL_BASE + "codesystem:schedule-contact-role", "code": "placer-contact",
                           "display": "Placer Contact"}),
             (16, 17, 19, {"system": LOCAL_BASE + "codesystem:schedule-contact-role", "code": "filler-contact",
                           "display": "Filler Contact"}),
             (20, 21, 23, {"system": V2 + "0443", "code": "EP", "display": "Entering Provider"}))


def _contact_roles(ctx: Ctx, seg: Segment) -> list[str]:
    """SCH-12..15, SCH-16..19, SCH-20..23: each contact person at their location and phone, as a PractitionerRole.

    The same person at the same location in two roles (placer and filler contact) is one PractitionerRole.
    """
    refs: list[str] = []
    for person_at, phone_at, place_at, code in _CONTACTS:
        person = ctx.practitioner(ctx.first(seg, person_at)) if ctx.first(seg, person_at) else None
        if person is None:
            continue
        place = ctx.location(ctx.first(seg, place_at)) if ctx.first(seg, place_at) else None
        key = f"PractitionerRole|{ctx.bundle.key_of(person)}|{ctx.bundle.key_of(place) if place else ''}|contact"
        ref = ctx.bundle.ref(key)
        role = ctx.bundle.resource_of(ref)
        if role is None:
            role = {"resourceType": "PractitionerRole", "practitioner": {"reference": person}}
            if place:
                role["location"] = [{"reference": place}]
            ref = ctx.bundle.add(role, key)
        if {"coding": [code]} not in role.setdefault("code", []):
            role["code"].append({"coding": [dict(code)]})
        for point in (xtn(r, ctx.enc) for r in ctx.reps(seg, phone_at)):
            if point and point not in role.get("telecom", []):
                role.setdefault("telecom", []).append(point)
        if role.get("telecom"):  # US Core PractitionerRole wants contact details (pd-1)
            role["meta"] = {"profile": [US_CORE + "us-core-practitionerrole"]}
        if ref not in refs:
            refs.append(ref)
    return refs


def _timing(ctx: Ctx, seg: Segment) -> tuple[str | None, str | None]:
    """Start and end: the TQ1 right after SCH (v2.6+: TQ1-7 / TQ1-8), else SCH-11 (IG TQ[Appointment] TQ.4 / TQ.5)."""
    segments = ctx.msg.segments()
    at = next((i for i, other in enumerate(segments) if other is seg), -1)
    tq1 = segments[at + 1] if 0 <= at < len(segments) - 1 and segments[at + 1].name == "TQ1" else None
    if tq1 is not None and (ctx.leaf(tq1, 7) or ctx.leaf(tq1, 8)):
        return dtm(ctx.leaf(tq1, 7), ctx.tz, "TQ1-7"), dtm(ctx.leaf(tq1, 8), ctx.tz, "TQ1-8")
    timing = Comps(ctx.first(seg, 11), ctx.enc)
    return dtm(timing.c(4), ctx.tz, "SCH-11"), dtm(timing.c(5), ctx.tz, "SCH-11")


def _minutes(duration: str, units: str) -> int | None:
    """IG SCH-9 when SCH-10 gives minutes; other units of time are converted when they make whole minutes."""
    try:
        amount = float(duration)
    except ValueError:
        return None
    per_unit = _MINUTES.get(units.lower()) if units else 1
    if per_unit is None or amount <= 0:
        return None
    minutes = amount * per_unit
    return int(round(minutes)) if abs(minutes - round(minutes)) < 1e-9 and round(minutes) > 0 else None


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
    res: dict = {"resourceType": "ServiceRequest", "identifier": idents, "status": _order_status(appt),
                 "intent": "order", "subject": {"reference": ctx.patient}}
    ident = idents[-1]
    ref = ctx.bundle.add(res, f"ServiceRequest|{ident.get('system', '')}|{ident['value']}", ident)
    appt["basedOn"] = [{"reference": ref}]
    ctx.group["sr"] = res


def _order_status(appt: dict) -> str:
    return _ORDER_STATUS.get(appt.get("status", ""), "active")


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
        order = _service_order(ctx, res, concept, start)
        if order is not None:
            _supplemental_ids(ctx, seg, order)
            ctx.group["service"] = order
    if "start" not in res:
        _times(res, start, None)
    ctx.last = res  # IG: the service group's NTEs are Appointment comments


def _supplemental_ids(ctx: Ctx, seg: Segment, order: dict) -> None:
    """IG AIS[ServiceRequest]: AIS-11 / AIS-12 placer / filler supplemental service information are identifiers."""
    for n in (11, 12):
        for rep in ctx.reps(seg, n):
            f = Comps(rep, ctx.enc)
            if f.c(1):
                ident = {"system": system_uri(f.c(3)) or ctx.sender_system, "value": f.c(1)}
                if ident not in order.setdefault("identifier", []):
                    order["identifier"].append(ident)


def resource_group(ctx: Ctx, seg: Segment) -> None:
    """RGS starts a resource group: its AIG / AIL / AIP serve that group's AIS only."""
    ctx.group.pop("service", None)


def _serve(ctx: Ctx, key: str, ref: str) -> None:
    """The group's service (the AIS ServiceRequest) is performed by / at the resource booked with it."""
    order = ctx.group.get("service")
    if isinstance(order, dict) and {"reference": ref} not in order.get(key, []):
        order.setdefault(key, []).append({"reference": ref})


def _service_order(ctx: Ctx, appt: dict, concept: dict, start: str | None) -> dict | None:
    """IG AIS[ServiceRequest]: each service is a ServiceRequest (AIS-3 its identifier, AIS-4 its start).

    The first one completes the order SCH-26 / SCH-27 named; US Core wants its code, so AIS-3 is that too.
    """
    order = ctx.group.get("sr")
    if not isinstance(order, dict) or "code" in order:
        if not ctx.patient:
            return None
        order = {"resourceType": "ServiceRequest", "status": _order_status(appt), "intent": "order",
                 "subject": {"reference": ctx.patient}}
        coding = concept.get("coding", [{}])[0]
        key = f"ServiceRequest|{ctx.patient_key}|service|{coding.get('code', '')}|{start or ''}"
        appt.setdefault("basedOn", []).append({"reference": ctx.bundle.add(order, key)})
    order["code"] = concept
    if ctx.encounter:
        order["encounter"] = {"reference": ctx.encounter}
    order["meta"] = {"profile": ["http://hl7.org/fhir/us/core/StructureDefinition/us-core-servicerequest"]}
    coding = concept.get("coding", [{}])[0]
    if coding.get("code"):
        ident = {"value": coding["code"]}
        if coding.get("system"):
            ident["system"] = coding["system"]
        order.setdefault("identifier", []).append(ident)
    if start:
        order["occurrencePeriod"] = {"start": start}
    return order


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
        _serve(ctx, "performer", ref)
    ctx.last = res


# AIx-12 filler status (HL7 table 0278) -> Appointment.participant.status; none given: not yet confirmed.
_PARTICIPANT_STATUS = {"Booked": "accepted", "Complete": "accepted", "Started": "accepted", "Confirmed": "accepted",
                       "Pending": "tentative", "Waitlist": "tentative", "Overbook": "tentative",
                       "Cancelled": "declined", "Deleted": "declined", "Blocked": "declined", "Noshow": "declined",
                       "Dc": "declined"}


def _resource_entry(ctx: Ctx, seg: Segment, ref: str, name: str, start_at: int = 6, status_at: int = 12) -> dict:
    """IG AIP/AIL/AIG[Appointment]: AIx-6 (AIG-8) starts the participation, AIx-12 (AIG-14) gives its status."""
    entry: dict = {"actor": {"reference": ref},
                   "status": _PARTICIPANT_STATUS.get(ctx.leaf(seg, status_at).capitalize(), "tentative")}
    start = dtm(ctx.leaf(seg, start_at), ctx.tz, f"{name}-{start_at}")
    if start:
        entry["period"] = {"start": start}
    return entry


def resource_location(ctx: Ctx, seg: Segment) -> None:
    """AIL-3 -> a location participant; AIL-4 (location type, table 0305; no IG target) types that Location."""
    res = _current(ctx)
    if res is None:
        return
    ref = ctx.location(ctx.first(seg, 3)) if ctx.first(seg, 3) else None
    kind = cwe(ctx.first(seg, 4), ctx.enc)
    place = ctx.bundle.resource_of(ref)
    if kind and place is not None and "type" not in place:
        place["type"] = [kind]
    if ref:
        res["participant"].append(_resource_entry(ctx, seg, ref, "AIL"))
        _serve(ctx, "locationReference", ref)
    ctx.last = res


def resource_general(ctx: Ctx, seg: Segment) -> None:
    """AIG -> a participant (IG AIG[Appointment]): AIG-3 the equipment booked, as a Device; AIG-4 its type."""
    res = _current(ctx)
    if res is None:
        return
    ref = _equipment(ctx, ctx.first(seg, 3))
    if ref:
        entry = _resource_entry(ctx, seg, ref, "AIG", 8, 14)
        kind = cwe(ctx.first(seg, 4), ctx.enc)
        if kind:
            entry["type"] = [kind]
        res["participant"].append(entry)
        _serve(ctx, "performer", ref)
    ctx.last = res


def _equipment(ctx: Ctx, text: str) -> str | None:
    """AIG-3 resource id (CWE: the code and its alternate identify the device, the text names it) -> Device."""
    if not text:
        return None
    f = Comps(text, ctx.enc)
    idents = [{"system": system_uri(f.c(s)) or ctx.sender_system, "value": f.c(c)} for c, s in ((1, 3), (4, 6)) if f.c(c)]
    name = f.c(2) or f.c(5)
    if not idents:
        return None
    res: dict = {"resourceType": "Device", "identifier": idents}
    if name:
        res["deviceName"] = [{"name": name, "type": "user-friendly-name"}]
    key = idents[0]
    return ctx.bundle.add(res, f"Device|{key['system']}|{key['value']}", key, create_only=True)
