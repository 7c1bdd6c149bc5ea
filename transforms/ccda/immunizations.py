"""Immunization Activity -> Immunization (EVN) or MedicationRequest (INT) (CF Immunization map)."""

from __future__ import annotations

from typing import Any

from hl7bridge.transforms.ccda import datatypes as dt
from hl7bridge.transforms.ccda.cda import Element, find, find_all, text_of
from hl7bridge.transforms.ccda.common import onset_of, related, required_concept, status_code
from hl7bridge.transforms.ccda.context import Context, profiled
from hl7bridge.transforms.ccda.header import practitioner

# CF_ImmunizationStatus / CF_ImmunizationReqStatus
EVENT_STATUS = {"completed": "completed", "aborted": "not-done", "cancelled": "not-done", "held": "not-done",
                "new": "not-done", "nullified": "entered-in-error", "obsolete": "not-done", "suspended": "not-done"}
REQUEST_STATUS = {"aborted": "stopped", "active": "active", "cancelled": "cancelled", "completed": "completed",
                  "held": "on-hold", "new": "draft", "nullified": "entered-in-error", "obsolete": "entered-in-error",
                  "suspended": "on-hold"}
MATERIAL = "cda:consumable/cda:manufacturedProduct/cda:manufacturedMaterial"


def immunization_activity(ctx: Context, act: Element) -> dict[str, str]:
    if act.get("moodCode") == "INT":
        return _planned(ctx, act)
    status = "not-done" if act.get("negationInd") == "true" else EVENT_STATUS.get(status_code(act), "completed")
    performer = practitioner(ctx, find(act, "cda:performer/cda:assignedEntity"))
    reason = next((dt.concept(find(r, "cda:code")) for r in related(act, "53")), None)
    repeat_number = find(act, "cda:repeatNumber")
    repeat = dt.number(repeat_number.get("value")) if repeat_number is not None else None
    resource: dict[str, Any] = {
        "resourceType": "Immunization",
        "identifier": dt.identifiers(find_all(act, "cda:id")),
        "status": status,
        "statusReason": reason if status == "not-done" else None,
        "vaccineCode": required_concept(ctx, act, MATERIAL + "/cda:code"),
        "patient": ctx.patient_ref,
        "occurrenceDateTime": onset_of(act),
        "occurrenceString": None,
        # The map fixes primarySource as unknown: a document does not say who recorded the event first.
        "_primarySource": {"extension": [dt.absent("UNK")]},
        "lotNumber": text_of(act, MATERIAL + "/cda:lotNumberText"),
        "site": dt.concept(find(act, "cda:approachSiteCode")),
        "route": dt.concept(find(act, "cda:routeCode")),
        "doseQuantity": dt.quantity(find(act, "cda:doseQuantity")),
        "performer": [{"function": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0443",
                                                "code": "AP"}]}, "actor": performer}] if performer else [],
        "protocolApplied": [{"doseNumberPositiveInt": int(repeat)}] if repeat and repeat > 0 else [],
    }
    if not resource["occurrenceDateTime"]:
        # occurrence[x] is 1..1; with no date in the document the string form says so honestly.
        resource["occurrenceString"] = "unknown"
    return ctx.add(profiled(dt.compact(resource), "us-core-immunization"), act)


def _planned(ctx: Context, act: Element) -> dict[str, str]:
    resource = {
        "resourceType": "MedicationRequest",
        "identifier": dt.identifiers(find_all(act, "cda:id")),
        "status": REQUEST_STATUS.get(status_code(act), "unknown"),
        "intent": "plan",
        "doNotPerform": True if act.get("negationInd") == "true" else None,
        "medicationCodeableConcept": required_concept(ctx, act, MATERIAL + "/cda:code"),
        "subject": ctx.patient_ref,
        "requester": practitioner(ctx, find(act, "cda:author/cda:assignedAuthor")),
        "dosageInstruction": [dt.compact({"route": dt.concept(find(act, "cda:routeCode")),
                                          "doseAndRate": [{"doseQuantity": dt.quantity(find(act, "cda:doseQuantity"))}]})],
    }
    return ctx.add(profiled(dt.compact(resource), "us-core-medicationrequest"), act)
