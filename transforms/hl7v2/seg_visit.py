"""PV1 and PV2 to Encounter (IG PV1[Encounter], PV2[Encounter])."""

from __future__ import annotations

from hl7bridge.transforms.fhir.profiles import absent, profiled
from hl7bridge.transforms.hl7v2.codes import THO, V2, lookup
from hl7bridge.transforms.hl7v2.context import Ctx
from hl7bridge.transforms.hl7v2.datatypes import Comps, cwe, dtm, ei, table_concept, xad
from hl7bridge.transforms.hl7v2.message import Segment

__all__ = ["encounter", "pv2", "accident"]

# Events that say where the encounter stands (IG "Event[EncounterStatus]" plus the ones it leaves open).
# A15 / A16 announce a transfer or discharge of a patient still in the encounter; A25 / A26 cancel one.
_EVENT_STATUS = {"A06": "in-progress", "A07": "in-progress", "A12": "in-progress", "A15": "in-progress",
                 "A16": "in-progress", "A26": "in-progress", "A38": "cancelled", "A27": "cancelled",
                 "A25": "in-progress", "A14": "planned"}
_PARTICIPANTS = ((7, "ATND", "attender"), (8, "REF", "referrer"), (9, "CON", "consultant"), (17, "ADM", "admitter"),
                 (52, "PART", "Participation"))


def encounter(ctx: Ctx, seg: Segment) -> str | None:
    """PV1 -> Encounter (US Core); sets ``ctx.encounter``.  PV1-2 'N' (not applicable) gives none."""
    patient_class = ctx.leaf(seg, 2)
    visit = ctx.identifier(ctx.first(seg, 19))
    if (not patient_class or patient_class == "N") and not visit:
        return None
    if visit:  # IG PV1-19: the type is always "visit number", whatever CX-5 says
        visit["type"] = {"coding": [{"system": V2 + "0203", "code": "VN"}], "text": "visit number"}
    res = profiled({"resourceType": "Encounter"}, "us-core-encounter")
    alternate = ctx.identifier(ctx.first(seg, 50))
    if visit or alternate:
        res["identifier"] = [i for i in (visit, alternate) if i]
    res["status"] = _status(ctx, patient_class, seg)
    mapped = lookup("PatientClass[EncounterClass]", patient_class)
    res["class"] = ({"system": mapped[2], "code": mapped[0]} if mapped else
                    {"system": THO + "v3-NullFlavor", "code": "UNK"})
    admission = ctx.leaf(seg, 4)
    res["type"] = [table_concept(admission, "AdmissionType", "0007") if admission else
                   cwe(ctx.first(seg, 18), ctx.enc) or absent()]
    service = ctx.leaf(seg, 10)
    if service:
        res["serviceType"] = {"coding": [{"system": V2 + "0069", "code": service}]}
    ctx.subject(res, required=False)
    _participants(ctx, seg, res)
    _period(ctx, seg, res)
    _locations(ctx, seg, res)
    _hospitalization(ctx, seg, res)
    if ctx.account:
        res["account"] = [{"reference": ctx.account}]
    _episode(ctx, seg, res)
    key = (f"Encounter|{visit.get('system', '')}|{visit['value']}" if visit
           else f"Encounter|{ctx.patient_key}|{ctx.leaf(seg, 44)}|{patient_class}")
    ctx.encounter = ctx.bundle.add(res, key, visit)
    ctx.encounter_key = key
    ctx.encounter_res = res
    ctx.last = res
    return ctx.encounter


def _status(ctx: Ctx, patient_class: str, seg: Segment) -> str:
    """The event says where the encounter stands (IG Event[EncounterStatus], then the events it leaves open);
    an event that does not (A08 update and the like) leaves it to PV1-45 (finished), else PV1-2."""
    event = lookup("Event[EncounterStatus]", ctx.event)
    if event and ctx.event != "A08":
        return event[0]  # e.g. A11 / A13 cancel an admission / a discharge: PV1-45 may still be valued
    if ctx.event in _EVENT_STATUS:
        return _EVENT_STATUS[ctx.event]
    if ctx.leaf(seg, 45):
        return "finished"  # IG: PV1-45 valued -> finished
    by_class = lookup("PatientClass[EncounterStatus]", patient_class) if patient_class else None
    return by_class[0] if by_class else "unknown"


def _participants(ctx: Ctx, seg: Segment, res: dict) -> None:
    out = []
    for n, code, display in _PARTICIPANTS:
        for rep in ctx.reps(seg, n):
            ref = ctx.practitioner(rep)
            if ref:
                out.append({"type": [{"coding": [{"system": THO + "v3-ParticipationType", "code": code,
                                                   "display": display}]}], "individual": {"reference": ref}})
    if out:
        res["participant"] = out


def _period(ctx: Ctx, seg: Segment, res: dict) -> None:
    start = dtm(ctx.leaf(seg, 44), ctx.tz, "PV1-44")
    end = dtm(ctx.leaf(seg, 45), ctx.tz, "PV1-45")
    if start or end:
        res["period"] = {k: v for k, v in (("start", start), ("end", end)) if v}


_TEMPORARY = {"url": "http://hl7.org/fhir/StructureDefinition/subject-locationClassification",
              "valueCodeableConcept": {"coding": [{"system": "http://hl7.org/fhir/ValueSet/subject-location",
                                                   "code": "temporary"}]}}


def _locations(ctx: Ctx, seg: Segment, res: dict) -> None:
    """IG: PV1-3 active (planned for pre-admits), PV1-6 completed, PV1-11 active + temporary, PV1-42 reserved."""
    assigned = "planned" if ctx.leaf(seg, 2) == "P" else "active"
    out = []
    for n, status in ((3, assigned), (6, "completed"), (11, "active"), (42, "reserved"), (43, "completed")):
        ref = ctx.location(ctx.first(seg, n)) if ctx.first(seg, n) else None
        if ref:
            entry: dict = {"location": {"reference": ref}, "status": status}
            if n in (11, 43):
                entry["extension"] = [_TEMPORARY]
            out.append(entry)
    if out:
        res["location"] = out


def _hospitalization(ctx: Ctx, seg: Segment, res: dict) -> None:
    hosp: dict = {}
    pre = ctx.identifier(ctx.first(seg, 5))
    if pre:
        hosp["preAdmissionIdentifier"] = pre
    for n, key, table in ((14, "admitSource", "0023"), (13, "reAdmission", "0092"), (36, "dischargeDisposition", "0112")):
        code = ctx.leaf(seg, n)
        if code:
            hosp[key] = {"coding": [{"system": V2 + table, "code": code}]}
    destination = _discharged_to(ctx, ctx.first(seg, 37))
    if destination:
        hosp["destination"] = {"reference": destination}
    courtesy = cwe(ctx.first(seg, 16), ctx.enc)  # IG PV1-16 VIP indicator
    if courtesy:
        hosp["specialCourtesy"] = [courtesy]
        if ctx.patient_res is not None:  # IG PV1[Patient]: and the patient's importance
            ctx.patient_res.setdefault("extension", []).append(
                {"url": "http://hl7.org/fhir/StructureDefinition/patient-importance", "valueCodeableConcept": courtesy})
    diet = cwe(ctx.first(seg, 38), ctx.enc)
    if diet:
        hosp["dietPreference"] = [diet]
    if hosp:
        res["hospitalization"] = hosp


def _discharged_to(ctx: Ctx, dld: str) -> str | None:
    """IG DLD[Location-Discharge]: DLD-1 (a CWE in subcomponents) is the Location's type; its text names it."""
    subs = Comps(dld, ctx.enc).subs(1) if dld else []
    if not subs or not subs[0]:
        return None
    sub = ctx.enc.subcomponent
    kind = cwe(ctx.enc.component.join(subs[:3]).replace(sub, ""), ctx.enc)
    place: dict = {"resourceType": "Location", "name": subs[1] if len(subs) > 1 and subs[1] else subs[0],
                   "mode": "instance"}
    if kind:
        place["type"] = [kind]
    return ctx.bundle.add(place, f"Location|discharge|{subs[0]}")


def _episode(ctx: Ctx, seg: Segment, res: dict) -> None:
    """PV1-54 service episode identifier -> EpisodeOfCare."""
    ident = ctx.identifier(ctx.first(seg, 54))
    if ident and ctx.patient:
        episode = {"resourceType": "EpisodeOfCare", "identifier": [ident], "status": "active",
                   "patient": {"reference": ctx.patient}}
        ref = ctx.bundle.add(episode, f"EpisodeOfCare|{ident.get('system', '')}|{ident['value']}", ident)
        res["episodeOfCare"] = [{"reference": ref}]


_PLANNED = (8, "http://hl7.org/fhir/5.0/StructureDefinition/extension-Encounter.plannedStartDate"), \
    (9, "http://hl7.org/fhir/5.0/StructureDefinition/extension-Encounter.plannedEndDate")


def pv2(ctx: Ctx, seg: Segment) -> None:
    """PV2 -> the Encounter: admit reason, planned dates, length of stay, referral source, priority, arrival."""
    res = ctx.encounter_res
    if res is None:
        return
    pending = ctx.location(ctx.first(seg, 1)) if ctx.first(seg, 1) else None
    if pending:
        res.setdefault("location", []).append({"location": {"reference": pending}, "status": "planned"})
    for n, url in _PLANNED:
        when = dtm(ctx.leaf(seg, n), ctx.tz, f"PV2-{n}")
        if when:
            res.setdefault("extension", []).append({"url": url, "valueDateTime": when})
    arrival = cwe(ctx.first(seg, 38), ctx.enc)
    if arrival and arrival.get("coding"):
        coding = arrival["coding"][0]
        mapped = None if "system" in coding else lookup("ModeOfArrivalCode", coding.get("code", ""))
        if mapped:  # IG ModeOfArrivalCode map (HL7 table 0430)
            coding = {"system": mapped[2], "code": mapped[0], "display": mapped[1]}
        res.setdefault("extension", []).append(
            {"url": "http://hl7.org/fhir/StructureDefinition/encounter-modeOfArrival", "valueCoding": coding})
    reason = cwe(ctx.first(seg, 3), ctx.enc)
    if reason:
        res["reasonCode"] = [reason]
    days = ctx.leaf(seg, 11)
    if days.isdigit():
        res["length"] = {"value": int(days), "unit": "d", "system": "http://unitsofmeasure.org", "code": "d"}
    referral = ctx.practitioner(ctx.first(seg, 13)) if ctx.first(seg, 13) else None
    if referral:
        res.setdefault("participant", []).append(
            {"type": [{"coding": [{"system": THO + "v3-ParticipationType", "code": "REF", "display": "referrer"}]}],
             "individual": {"reference": referral}})
    codes = [c.get("code", "") for c in (cwe(ctx.first(seg, 25), ctx.enc) or {}).get("coding", [])]
    priority = next((m for m in (lookup("EncounterPriority", c) for c in codes) if m), None)
    if priority:
        res["priority"] = {"coding": [{"system": priority[2], "code": priority[0], "display": priority[1]}]}


YES_NO = {"Y": "Yes", "N": "No"}
_ACCIDENT_FLAGS = ((5, "AJRI", "Accident is job related"), (6, "ADI", "Accident caused the death"),
                   (10, "PNI", "Police were notified"))
_INJURY = {"system": "http://loinc.org", "code": "11374-6", "display": "Injury incident description Narrative"}


def accident(ctx: Ctx, seg: Segment) -> None:
    """ACC (no IG map) -> an injury incident Observation: ACC-1 when, ACC-8 description, ACC-3 / ACC-11
    the place (a Location), ACC-5 / 6 / 10 yes-no components, ACC-7 who recorded it, ACC-13 its id."""
    if not ctx.patient:
        return
    res: dict = {"resourceType": "Observation", "status": "final", "code": {"coding": [dict(_INJURY)]}}
    ident = ei(ctx.first(seg, 13), ctx.enc, ctx.sender_system)
    if ident:
        res["identifier"] = [ident]
    ctx.subject(res)
    if ctx.encounter:
        res["encounter"] = {"reference": ctx.encounter}
    when = dtm(ctx.leaf(seg, 1), ctx.tz, "ACC-1")
    if when:
        res["effectiveDateTime"] = when
    kind = cwe(ctx.first(seg, 2), ctx.enc)  # HL7 table 0050 accident code
    if kind:
        res["category"] = [kind]
    recorder = ctx.practitioner(ctx.first(seg, 7)) if ctx.first(seg, 7) else None
    if recorder:
        res["performer"] = [{"reference": recorder}]
    description = ctx.leaf(seg, 8)
    if description:
        res["valueString"] = description
    parts = [_flag(code, label, ctx.leaf(seg, n)) for n, code, label in _ACCIDENT_FLAGS if ctx.leaf(seg, n) in YES_NO]
    if parts:
        res["component"] = parts
    place = _accident_place(ctx, seg)
    if place:
        res["extension"] = [{"url": "http://hl7.org/fhir/StructureDefinition/event-location",
                             "valueReference": {"reference": place}}]
    key = f"Observation|{ctx.patient_key}|accident|{ident['value'] if ident else ctx.leaf(seg, 1)}"
    ctx.last = res
    ctx.bundle.add(res, key)


def _flag(code: str, label: str, value: str) -> dict:
    return {"code": {"coding": [{"system": "urn:hl7bridge:codesystem:accident-indicator", "code": code,
                                 "display": label}]},
            "valueCodeableConcept": {"coding": [{"system": V2 + "0136", "code": value, "display": YES_NO[value]}]}}


def _accident_place(ctx: Ctx, seg: Segment) -> str | None:
    """ACC-3 (the place, as text) and ACC-11 (its address) -> a Location."""
    name = ctx.leaf(seg, 3)
    address = xad(ctx.first(seg, 11), ctx.enc)
    if not name and not address:
        return None
    place: dict = {"resourceType": "Location", "mode": "instance"}
    if name:
        place["name"] = name
    if address:
        place["address"] = address
    return ctx.bundle.add(place, f"Location|accident|{name}|{ctx.first(seg, 11)}")
