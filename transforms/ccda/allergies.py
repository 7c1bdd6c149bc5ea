"""Allergy Concern Act / Allergy - Intolerance Observation -> AllergyIntolerance (CF Allergy map)."""

from __future__ import annotations

from typing import Any

from hl7bridge.transforms.ccda import datatypes as dt
from hl7bridge.transforms.ccda.cda import Element, attr, find, find_all
from hl7bridge.transforms.ccda.common import author_time, entry_author, entry_concept, onset_of, related
from hl7bridge.transforms.ccda.context import Context, profiled

CLINICAL = "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical"
VERIFICATION = "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification"
# CF_AllergyIntoleranceClinicalStatus.  The sheet's rows are shifted by one (it maps "Problem
# resolved" to active); the evident intent is used: active -> active, inactive -> inactive,
# resolved -> resolved.
STATUS = {"55561003": "active", "73425007": "inactive", "413322009": "resolved"}
SEVERITY = {"24484000": "severe", "255604002": "mild", "6736007": "moderate", "371923003": "mild",
            "371924009": "moderate", "442452003": "severe"}
CRITICALITY = {"CRITH": "high", "CRITL": "low", "CRITU": "unable-to-assess"}
# CF_AllergyIntoleranceType and CF_AllergyIntoleranceCategory, keyed by the observation value.
TYPE = {"235719002": "intolerance", "414285001": "allergy", "416098002": "allergy", "419199007": "allergy",
        "59037007": "intolerance"}
CATEGORY = {"235719002": "food", "414285001": "food", "416098002": "medication", "418471000": "food",
            "419511003": "medication", "59037007": "medication", "426232007": "environment",
            "232347008": "environment"}
# CF_AllergyIntoleranceAbsentCode: substance class -> "no known ... allergy" situation.
ABSENT = {"1003752001": ("1003774007", "No known Hevea brasiliensis latex allergy"),
          "410942007": ("409137002", "No known drug allergy"),
          "426232007": ("428607008", "No known environmental allergy"),
          "762766007": ("429625007", "No known food allergy"),
          "260769002": ("716186003", "No known allergy")}


def allergy_concern(ctx: Context, act: Element) -> list[dict[str, str]]:
    return [allergy(ctx, obs) for obs in related(act, "7")]


def _code(ctx: Context, obs: Element) -> dict[str, Any] | None:
    entity = find(obs, "cda:participant/cda:participantRole/cda:playingEntity/cda:code")
    if obs.get("negationInd") != "true":
        return dt.concept(entity, ctx.narrative)
    if entity is None or entity.get("nullFlavor"):
        return {"text": "no known allergies"}
    absent = ABSENT.get(entity.get("code", ""))
    if absent:
        return {"coding": [{"system": "http://snomed.info/sct", "code": absent[0], "display": absent[1]}]}
    return {"text": " ".join(p for p in ("no known allergy to", entity.get("codeSystem"), entity.get("code"),
                                         entity.get("displayName")) if p)}


def _reactions(ctx: Context, obs: Element, severity: str | None) -> list[dict[str, Any]]:
    result = []
    for reaction in related(obs, "9"):
        inner = [SEVERITY.get(attr(s, "cda:value", "code") or "") for s in related(reaction, "8")]
        manifestation = entry_concept(ctx, reaction, "cda:value")
        if not manifestation:
            continue
        result.append(dt.compact({
            "manifestation": [manifestation],
            "onset": onset_of(reaction),
            "severity": next((s for s in inner if s), None) or severity,
        }))
    return result


def allergy(ctx: Context, obs: Element) -> dict[str, str]:
    value_code = attr(obs, "cda:value", "code") or ""
    status = next((STATUS.get(attr(s, "cda:value", "code") or "") for s in related(obs, "28")), None)
    severity = next((SEVERITY.get(attr(s, "cda:value", "code") or "") for s in related(obs, "8")), None)
    criticality = next((CRITICALITY.get(attr(c, "cda:value", "code") or "") for c in related(obs, "145")), None)
    eff = find(obs, "cda:effectiveTime")
    resource = dt.compact({
        "resourceType": "AllergyIntolerance",
        "identifier": dt.identifiers(find_all(obs, "cda:id")),
        "clinicalStatus": {"coding": [{"system": CLINICAL, "code": status or "active"}]},
        "verificationStatus": {"coding": [{"system": VERIFICATION, "code": "confirmed"}]},
        "type": TYPE.get(value_code),
        "category": [CATEGORY.get(value_code)],
        "criticality": criticality,
        "code": _code(ctx, obs),
        "patient": ctx.patient_ref,
        "onsetDateTime": dt.ts_of(find(eff, "cda:low")) or dt.ts_of(eff),
        "recordedDate": author_time(obs),
        "recorder": entry_author(ctx, obs),
        "reaction": _reactions(ctx, obs, severity),
    })
    return ctx.add(profiled(resource, "us-core-allergyintolerance"), obs)
