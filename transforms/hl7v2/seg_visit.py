"""PV1, PV2, DG1, PR1 and AL1 to Encounter, Condition, Procedure, AllergyIntolerance."""

from __future__ import annotations

from hl7bridge.engine.errors import ParseError
from hl7bridge.transforms.fhir.profiles import absent, profiled
from hl7bridge.transforms.hl7v2.codes import THO, V2, lookup
from hl7bridge.transforms.hl7v2.context import Ctx
from hl7bridge.transforms.hl7v2.datatypes import cwe, cx, dtm, ei, table_concept
from hl7bridge.transforms.hl7v2.message import Segment

__all__ = ["encounter", "pv2", "diagnosis", "procedure", "allergy"]

# Events that say where the encounter stands (IG "Event[EncounterStatus]" plus the ones it leaves open).
_EVENT_STATUS = {"A06": "in-progress", "A07": "in-progress", "A12": "in-progress", "A16": "planned",
                 "A38": "cancelled", "A27": "cancelled", "A25": "in-progress", "A14": "planned"}
_PARTICIPANTS = ((7, "ATND", "attender"), (8, "REF", "referrer"), (9, "CON", "consultant"), (17, "ADM", "admitter"),
                 (52, "PART", "Participation"))


def encounter(ctx: Ctx, seg: Segment) -> str | None:
    """PV1 -> Encounter (US Core); sets ``ctx.encounter``.  PV1-2 'N' (not applicable) gives none."""
    patient_class = ctx.leaf(seg, 2)
    visit = ctx.identifier(ctx.first(seg, 19))
    if (not patient_class or patient_class == "N") and not visit:
        return None
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
    key = (f"Encounter|{visit.get('system', '')}|{visit['value']}" if visit
           else f"Encounter|{ctx.patient_key}|{ctx.leaf(seg, 44)}|{patient_class}")
    ctx.encounter = ctx.bundle.add(res, key, visit)
    ctx.encounter_key = key
    ctx.encounter_res = res
    ctx.last = res
    return ctx.encounter


def _status(ctx: Ctx, patient_class: str, seg: Segment) -> str:
    event = lookup("Event[EncounterStatus]", ctx.event)
    if event and ctx.event != "A08":
        return event[0]
    if ctx.event in _EVENT_STATUS:
        return _EVENT_STATUS[ctx.event]
    if ctx.leaf(seg, 45):
        return "finished"
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


def _locations(ctx: Ctx, seg: Segment, res: dict) -> None:
    finished = res["status"] in ("finished", "cancelled")
    out = []
    for n, status in ((3, "completed" if finished else "active"), (6, "completed"), (11, "active"),
                      (42, "planned"), (43, "completed")):
        ref = ctx.location(ctx.first(seg, n)) if ctx.first(seg, n) else None
        if ref:
            out.append({"location": {"reference": ref}, "status": status})
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
    diet = cwe(ctx.first(seg, 38), ctx.enc)
    if diet:
        hosp["dietPreference"] = [diet]
    if hosp:
        res["hospitalization"] = hosp


def pv2(ctx: Ctx, seg: Segment) -> None:
    """PV2-3 admit reason -> Encounter.reasonCode; PV2-8/9 expected admit/discharge -> period."""
    res = ctx.encounter_res
    if res is None:
        return
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
    priority = lookup("EncounterPriority", ctx.leaf(seg, 25))
    if priority:
        res["priority"] = {"coding": [{"system": priority[2], "code": priority[0], "display": priority[1]}]}


def diagnosis(ctx: Ctx, seg: Segment) -> None:
    """DG1 -> Condition (US Core encounter diagnosis), listed on Encounter.diagnosis."""
    code = cwe(ctx.first(seg, 3), ctx.enc) or ({"text": ctx.leaf(seg, 4)} if ctx.leaf(seg, 4) else None)
    if code is None:
        raise ParseError("DG1 has neither a diagnosis code (DG1-3) nor a description (DG1-4)",
                         location="DG1-3", hl7_code=101)
    res = profiled({"resourceType": "Condition"}, "us-core-condition-encounter-diagnosis")
    res["category"] = [{"coding": [{"system": THO + "condition-category", "code": "encounter-diagnosis",
                                    "display": "Encounter Diagnosis"}]}]
    res["code"] = code
    ctx.subject(res)
    if ctx.encounter:
        res["encounter"] = {"reference": ctx.encounter}
    onset = dtm(ctx.leaf(seg, 5), ctx.tz, "DG1-5")
    if onset:
        res["onsetDateTime"] = onset
    recorded = dtm(ctx.leaf(seg, 19), ctx.tz, "DG1-19")
    if recorded:
        res["recordedDate"] = recorded
    ident = _ei(ctx, ctx.first(seg, 20))
    if ident:
        res["identifier"] = [ident]
    label = code.get("coding", [{}])[0].get("code", code.get("text", ""))
    ref = ctx.bundle.add(res, f"Condition|{ctx.patient_key}|{ctx.encounter_key}|{label}", ident)
    enc = ctx.encounter_res
    if enc is not None:
        entry: dict = {"condition": {"reference": ref}}
        role = lookup("DiagnosisType", ctx.leaf(seg, 6))
        if role:
            entry["use"] = {"coding": [{"system": role[2], "code": role[0], "display": role[1]}]}
        rank = ctx.leaf(seg, 15)
        if rank.isdigit() and int(rank) > 0:
            entry["rank"] = int(rank)
        enc.setdefault("diagnosis", []).append(entry)
    ctx.last = res


def _ei(ctx: Ctx, text: str) -> dict | None:
    return ei(text, ctx.enc, ctx.sender_system)


def procedure(ctx: Ctx, seg: Segment) -> None:
    """PR1 -> Procedure (US Core)."""
    code = cwe(ctx.first(seg, 3), ctx.enc) or ({"text": ctx.leaf(seg, 4)} if ctx.leaf(seg, 4) else None)
    if code is None:
        raise ParseError("PR1 has no procedure code (PR1-3)", location="PR1-3", hl7_code=101)
    # IG PR1[Procedure]: the status depends on the message context; "unknown" when not clear.
    res = profiled({"resourceType": "Procedure", "status": "unknown"}, "us-core-procedure")
    res["code"] = code
    ctx.subject(res)
    if ctx.encounter:
        res["encounter"] = {"reference": ctx.encounter}
    category = cwe(ctx.first(seg, 6), ctx.enc)
    if category:
        res["category"] = category
    performed = dtm(ctx.leaf(seg, 5), ctx.tz, "PR1-5")
    if performed:
        res["performedDateTime"] = performed
    performers = []
    for n, function in ((8, "88189002"), (11, "304292004"), (12, "")):
        for rep in ctx.reps(seg, n):
            ref = ctx.practitioner(rep)
            if ref:
                entry: dict = {"actor": {"reference": ref}}
                if function:
                    entry["function"] = {"coding": [{"system": "http://snomed.info/sct", "code": function}]}
                performers.append(entry)
    if performers:
        res["performer"] = performers
    reason = cwe(ctx.first(seg, 15), ctx.enc)
    if reason:
        res["reasonCode"] = [reason]
    ident = _ei(ctx, ctx.first(seg, 19))
    if ident:
        res["identifier"] = [ident]
    label = code.get("coding", [{}])[0].get("code", code.get("text", ""))
    ctx.bundle.add(res, f"Procedure|{ctx.patient_key}|{label}|{performed or ''}", ident)
    ctx.last = res


def allergy(ctx: Ctx, seg: Segment) -> None:
    """AL1 -> AllergyIntolerance (US Core)."""
    code = cwe(ctx.first(seg, 3), ctx.enc)
    if code is None:
        raise ParseError("required field AL1-3 (allergen) is empty", location="AL1-3", hl7_code=101)
    res = profiled({"resourceType": "AllergyIntolerance"}, "us-core-allergyintolerance")
    res["clinicalStatus"] = {"coding": [{"system": THO + "allergyintolerance-clinical", "code": "active"}]}
    category = lookup("AllergenType[AllergyIntoleranceCategory]", ctx.leaf(seg, 2))
    if category:
        res["category"] = [category[0]]
    res["code"] = code
    ctx.subject(res, "patient")
    reactions = [ctx.enc.unescape(r) for r in ctx.reps(seg, 5)]
    if reactions:
        reaction: dict = {"manifestation": [{"text": r} for r in reactions]}
        severity = lookup("AllergySeverity[AllergyIntolerance.reaction.severity]", ctx.leaf(seg, 4))
        if severity:
            reaction["severity"] = severity[0]
        res["reaction"] = [reaction]
    onset = dtm(ctx.leaf(seg, 6), ctx.tz, "AL1-6")
    if onset:
        res["onsetDateTime"] = onset
    label = code.get("coding", [{}])[0].get("code", code.get("text", ""))
    ctx.bundle.add(res, f"AllergyIntolerance|{ctx.patient_key}|{label}")
    ctx.last = res
