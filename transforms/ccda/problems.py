"""Problem Concern Act, Health Concern Act, Encounter Diagnosis -> Condition (CF Problem-Condition map)."""

from __future__ import annotations

from typing import Any

from hl7bridge.transforms.ccda import datatypes as dt
from hl7bridge.transforms.ccda.cda import Element, attr, find, find_all
from hl7bridge.transforms.ccda.common import T, author_time, entry_author, related, required_concept
from hl7bridge.transforms.ccda.context import Context, profiled

CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
CATEGORY_SYSTEMS = {
    "problem-list-item": "http://terminology.hl7.org/CodeSystem/condition-category",
    "encounter-diagnosis": "http://terminology.hl7.org/CodeSystem/condition-category",
    "health-concern": "http://hl7.org/fhir/us/core/CodeSystem/condition-category",
}
# CF_ProblemStatus
STATUS = {"55561003": "active", "73425007": "inactive", "413322009": "resolved", "246455001": "recurrence",
          "263855007": "relapse", "277022003": "remission"}
PROBLEM_OBSERVATION = T + "4"


def problem_concern(ctx: Context, act: Element) -> list[dict[str, str]]:
    return [condition(ctx, obs, "problem-list-item") for obs in related(act, "4")]


def health_concern(ctx: Context, act: Element) -> list[dict[str, str]]:
    return [condition(ctx, obs, "health-concern") for obs in related(act, "4")]


def diagnosis_act(ctx: Context, act: Element) -> list[dict[str, str]]:
    """Admission, discharge, preoperative and postprocedure diagnosis acts: their Problem
    Observations are diagnoses of the encounter (US Core encounter-diagnosis)."""
    return [condition(ctx, obs, "encounter-diagnosis") for obs in related(act, "4")]


def _clinical_status(obs: Element, abated: bool) -> str:
    status = next((STATUS.get(attr(s, "cda:value", "code") or "") for s in related(obs, "6")), None)
    if status:
        return status
    # The map says "active" when no Problem Status is given; a problem with an end date is not
    # active, and FHIR (con-4) forbids active with an abatement, so it becomes "resolved".
    return "resolved" if abated else "active"


def condition(ctx: Context, obs: Element, category: str) -> dict[str, str]:
    eff = find(obs, "cda:effectiveTime")
    onset = dt.ts_of(find(eff, "cda:low")) or dt.ts_of(eff)
    abatement = dt.ts_of(find(eff, "cda:high"))
    source_category = dt.concept(find(obs, "cda:code"))
    resource: dict[str, Any] = {
        "resourceType": "Condition",
        "identifier": dt.identifiers(find_all(obs, "cda:id")),
        "clinicalStatus": {"coding": [{"system": CLINICAL, "code": _clinical_status(obs, bool(abatement))}]},
        "category": [{"coding": [{"system": CATEGORY_SYSTEMS[category], "code": category}]}, source_category],
        "code": required_concept(ctx, obs, "cda:value"),
        "subject": ctx.patient_ref,
        "onsetDateTime": onset,
        "abatementDateTime": abatement,
        "recordedDate": author_time(obs),
        "recorder": entry_author(ctx, obs),
    }
    # negationInd is "not supported by target" in the map, but dropping it would assert a problem
    # the document denies; FHIR's way to say "ruled out" is verificationStatus = refuted.
    if obs.get("negationInd") == "true":
        resource["verificationStatus"] = {"coding": [{"system": VERIFICATION, "code": "refuted"}]}
    profile = "us-core-condition-encounter-diagnosis" if category == "encounter-diagnosis" else \
        "us-core-condition-problems-health-concerns"
    return ctx.add(profiled(dt.compact(resource), profile), obs)
