"""DG1, PR1 and AL1 to Condition, Procedure and AllergyIntolerance (US Core)."""

from __future__ import annotations

from hl7bridge.engine.errors import ParseError
from hl7bridge.transforms.fhir.profiles import profiled
from hl7bridge.transforms.hl7v2.codes import THO, lookup
from hl7bridge.transforms.hl7v2.context import Ctx
from hl7bridge.transforms.hl7v2.datatypes import Comps, cwe, dtm, ei
from hl7bridge.transforms.hl7v2.message import Segment

__all__ = ["diagnosis", "procedure", "allergy", "identifier_of_ei", "allergen_kind"]


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
    if recorded:  # IG DG1-19 lists both the asserted-date extension and recordedDate
        res["recordedDate"] = recorded
        res.setdefault("extension", []).append({"url": _EXT + "condition-assertedDate", "valueDateTime": recorded})
    if ctx.leaf(seg, 21) == "D":  # IG DG1-21: only D (delete) maps
        res["verificationStatus"] = {"coding": [{"system": THO + "condition-ver-status", "code": "entered-in-error"}]}
    parent = _parent_condition(ctx, ctx.first(seg, 22))
    if parent:
        res.setdefault("extension", []).append({"url": _EXT + "condition-dueTo", "valueReference": {"reference": parent}})
    clinician = ctx.practitioner(ctx.first(seg, 16)) if ctx.first(seg, 16) else None
    if clinician:
        res["asserter"] = {"reference": clinician}  # IG DG1-16 diagnosing clinician
    ident = identifier_of_ei(ctx, ctx.first(seg, 20))
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
        _episode_diagnosis(ctx, enc, entry)
    ctx.last = res


_EXT = "http://hl7.org/fhir/StructureDefinition/"


def _parent_condition(ctx: Ctx, text: str) -> str | None:
    """IG DG1-22 (EI[Condition]): the parent diagnosis, a Condition known by its identifier."""
    ident = identifier_of_ei(ctx, text)
    if ident is None or not ctx.patient:
        return None
    res = {"resourceType": "Condition", "identifier": [ident], "subject": {"reference": ctx.patient}}
    return ctx.bundle.add(res, f"Condition|{ident.get('system', '')}|{ident['value']}", ident, create_only=True)


def _episode_diagnosis(ctx: Ctx, enc: dict, entry: dict) -> None:
    """IG DG1[EpisodeOfCare]: in the context of an episode of care (PV1-54) it lists the diagnosis too."""
    refs = [e["reference"] for e in enc.get("episodeOfCare", [])]
    for episode in (e["resource"] for e in ctx.bundle.entries if e["fullUrl"] in refs):
        item = {"condition": entry["condition"]}
        if "use" in entry:
            item["role"] = entry["use"]
        if "rank" in entry:
            item["rank"] = entry["rank"]
        episode.setdefault("diagnosis", []).append(item)


def identifier_of_ei(ctx: Ctx, text: str) -> dict | None:
    """EI -> Identifier; an OID-shaped universal id (EI-3) names the system whatever EI-4 says."""
    ident = ei(text, ctx.enc, ctx.sender_system)
    if ident is not None:
        f = Comps(text, ctx.enc)
        universal = f.c(3)
        if universal and "." in universal and universal.replace(".", "").isdigit():
            ident["system"] = "urn:oid:" + universal
    return ident


def procedure(ctx: Ctx, seg: Segment) -> None:
    """PR1 -> Procedure (US Core)."""
    code = cwe(ctx.first(seg, 3), ctx.enc) or ({"text": ctx.leaf(seg, 4)} if ctx.leaf(seg, 4) else None)
    if code is None:
        raise ParseError("PR1 has no procedure code (PR1-3)", location="PR1-3", hl7_code=101)
    # IG PR1[Procedure]: the status depends on the message context; "unknown" when not clear.
    res = profiled({"resourceType": "Procedure", "status": "unknown"}, "us-core-procedure")
    if ctx.leaf(seg, 4) and "text" not in code and not ctx.leaf(seg, 3, 9):
        code["text"] = ctx.leaf(seg, 4)  # IG: PR1-4 is the code's text unless PR1-3.9 gives one
    res["code"] = code
    ctx.subject(res)
    if ctx.encounter:
        res["encounter"] = {"reference": ctx.encounter}
    place = ctx.location(ctx.first(seg, 23)) if ctx.first(seg, 23) else None
    if place:
        res["location"] = {"reference": place}
    category = cwe(ctx.first(seg, 6), ctx.enc)
    if category:
        res["category"] = category
    performed = dtm(ctx.leaf(seg, 5), ctx.tz, "PR1-5")
    if performed:  # IG: a period only "IF PR1-5.5 VALUED", which a DTM never is
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
    ident = identifier_of_ei(ctx, ctx.first(seg, 19))
    if ident:
        res["identifier"] = [ident]
    parent = _parent_procedure(ctx, ctx.first(seg, 25))
    if parent:
        res["partOf"] = [{"reference": parent}]
    label = code.get("coding", [{}])[0].get("code", code.get("text", ""))
    ref = ctx.bundle.add(res, f"Procedure|{ctx.patient_key}|{label}|{performed or ''}", ident)
    charge = ctx.group.get("charge")
    if isinstance(charge, dict):  # DFT / BAR: FT1 then its PR1 -> ChargeItem.service
        services = charge.setdefault("service", [])
        if {"reference": ref} not in services:
            services.append({"reference": ref})
    ctx.last = res


def _parent_procedure(ctx: Ctx, text: str) -> str | None:
    """IG PR1-25: partOf the Procedure whose identifier is the parent procedure id."""
    ident = identifier_of_ei(ctx, text)
    if ident is None or not ctx.patient:
        return None
    res = {"resourceType": "Procedure", "status": "unknown", "identifier": [ident], "subject": {"reference": ctx.patient}}
    return ctx.bundle.add(res, f"Procedure|{ident.get('system', '')}|{ident['value']}", ident, create_only=True)


# IG AllergyType map (HL7 table 0127 -> AllergyIntolerance.type); MC (contraindication) stays unmapped.
_ALLERGY_TYPE = dict.fromkeys(("DA", "FA", "MA", "EA", "AA", "PA", "LA"), "allergy")


def allergen_kind(res: dict, allergen_type: str) -> None:
    """AL1-2 / IAM-2 allergen type (table 0127) -> AllergyIntolerance category (IG AllergenType map) and type."""
    category = lookup("AllergenType[AllergyIntoleranceCategory]", allergen_type)
    if category:
        res["category"] = [category[0]]
    kind = _ALLERGY_TYPE.get(allergen_type)
    if kind:
        res["type"] = kind


def allergy(ctx: Ctx, seg: Segment) -> None:
    """AL1 -> AllergyIntolerance (US Core)."""
    code = cwe(ctx.first(seg, 3), ctx.enc)
    if code is None:
        raise ParseError("required field AL1-3 (allergen) is empty", location="AL1-3", hl7_code=101)
    res = profiled({"resourceType": "AllergyIntolerance"}, "us-core-allergyintolerance")
    res["clinicalStatus"] = {"coding": [{"system": THO + "allergyintolerance-clinical", "code": "active"}]}
    allergen_kind(res, ctx.leaf(seg, 2))
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
