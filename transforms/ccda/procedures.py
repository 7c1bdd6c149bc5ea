"""Procedure Activity (procedure, act, observation) -> Procedure; Encounter Activity -> Encounter."""

from __future__ import annotations

from typing import Any

from hl7bridge.transforms.ccda import datatypes as dt
from hl7bridge.transforms.ccda.cda import Element, find, find_all
from hl7bridge.transforms.ccda.common import entry_author, entry_concept, put_choice, related, required_concept, status_code
from hl7bridge.transforms.ccda.context import Context, profiled
from hl7bridge.transforms.ccda.header import organization, practitioner
from hl7bridge.transforms.ccda.problems import condition

# CF_ProcedureStatus
PROCEDURE_STATUS = {"completed": "completed", "active": "in-progress", "aborted": "stopped",
                    "cancelled": "not-done", "new": "preparation", "held": "on-hold", "suspended": "on-hold",
                    "nullified": "entered-in-error"}
ENCOUNTER_STATUS = {"completed": "finished", "active": "in-progress", "aborted": "cancelled",
                    "cancelled": "cancelled", "new": "planned", "held": "planned", "suspended": "onleave",
                    "nullified": "entered-in-error"}
ACT_CODE = "2.16.840.1.113883.5.4"
NULL_CLASS = {"system": "http://terminology.hl7.org/CodeSystem/v3-NullFlavor", "code": "UNK", "display": "unknown"}


def _performers(ctx: Context, element: Element) -> list[dict[str, Any]]:
    actors = []
    for entity in find_all(element, "cda:performer/cda:assignedEntity"):
        actor = practitioner(ctx, entity)
        org = find(entity, "cda:representedOrganization")
        if actor is None and org is not None:
            actor = organization(ctx, org)
        if actor:
            actors.append({"actor": actor})
    return actors


def procedure(ctx: Context, proc: Element) -> dict[str, str]:
    negated = proc.get("negationInd") == "true"
    resource: dict[str, Any] = {
        "resourceType": "Procedure",
        "identifier": dt.identifiers(find_all(proc, "cda:id")),
        "status": "not-done" if negated else PROCEDURE_STATUS.get(status_code(proc), "unknown"),
        "code": required_concept(ctx, proc),
        "subject": ctx.patient_ref,
        "performer": _performers(ctx, proc),
        "recorder": entry_author(ctx, proc),
        "bodySite": dt.collect(find_all(proc, "cda:targetSiteCode"), dt.concept),
        "reasonCode": [c for c in (entry_concept(ctx, i, "cda:value") for i in related(proc, "19")) if c],
    }
    put_choice(resource, "performed", dt.effective(find(proc, "cda:effectiveTime")))
    return ctx.add(profiled(dt.compact(resource), "us-core-procedure"), proc)


def encounter_class(code: Element | None) -> dict[str, Any]:
    """Encounter.class (1..1): an ActCode from the code or a translation, else NullFlavor UNK."""
    for candidate in [code, *find_all(code, "cda:translation")]:
        if candidate is not None and candidate.get("codeSystem") == ACT_CODE and candidate.get("code"):
            return dt.coding(candidate) or NULL_CLASS
    return NULL_CLASS


def encounter_status(element: Element, period: dict[str, Any] | None) -> str:
    status = ENCOUNTER_STATUS.get(status_code(element))
    if status:
        return status
    return "finished" if period and period.get("end") else "unknown"


def encounter(ctx: Context, enc: Element) -> list[dict[str, str]]:
    period = dt.period(find(enc, "cda:effectiveTime"))
    diagnoses = [condition(ctx, obs, "encounter-diagnosis")
                 for dx in related(enc, "80") for obs in related(dx, "4")]
    participants = [p for p in (practitioner(ctx, e) for e in find_all(enc, "cda:performer/cda:assignedEntity")) if p]
    resource: dict[str, Any] = {
        "resourceType": "Encounter",
        "identifier": dt.identifiers(find_all(enc, "cda:id")),
        "status": encounter_status(enc, period),
        "class": encounter_class(find(enc, "cda:code")),
        "type": [required_concept(ctx, enc)],  # 1..* in US Core: data-absent-reason when uncoded
        "subject": ctx.patient_ref,
        "participant": [{"individual": p} for p in participants],
        "period": period,
        "reasonCode": [c for c in (entry_concept(ctx, i, "cda:value") for i in related(enc, "19")) if c],
        "diagnosis": [{"condition": d} for d in diagnoses],
    }
    return [ctx.add(profiled(dt.compact(resource), "us-core-encounter"), enc), *diagnoses]
