"""Medication Activity -> MedicationRequest (moodCode INT) or MedicationStatement (EVN).

CF MedicationRequest map for the elements; the EVN mood (a record of what the patient takes or
took) becomes a MedicationStatement rather than the map's MedicationRequest intent=plan, because
a plan is not what an EVN entry states (see docs/ccda.md).
"""

from __future__ import annotations

from typing import Any

from hl7bridge.transforms.ccda import datatypes as dt
from hl7bridge.transforms.ccda.cda import Element, find, find_all, text_of, xsi_type
from hl7bridge.transforms.ccda.common import author_time, entry_concept, related, required_concept, status_code
from hl7bridge.transforms.ccda.context import Context, profiled
from hl7bridge.transforms.ccda.header import practitioner

# CF_MedStatus (MedicationRequest); MedicationStatement takes the same words except where noted.
REQUEST_STATUS = {"active": "active", "completed": "completed", "aborted": "stopped",
                  "nullified": "entered-in-error", "suspended": "on-hold", "cancelled": "cancelled",
                  "new": "draft", "held": "on-hold"}
STATEMENT_STATUS = {**REQUEST_STATUS, "cancelled": "not-taken", "new": "intended"}
PERIOD_UNITS = {"s": "s", "min": "min", "h": "h", "d": "d", "wk": "wk", "mo": "mo", "a": "a"}


def _timing(med: Element) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """(Timing.repeat, bounds Period) from the effectiveTime list of a substanceAdministration."""
    repeat: dict[str, Any] = {}
    bounds = None
    for eff in find_all(med, "cda:effectiveTime"):
        kind = xsi_type(eff)
        if kind == "PIVL_TS":
            per = find(eff, "cda:period")
            unit = PERIOD_UNITS.get(per.get("unit", "")) if per is not None else None
            value = dt.number(per.get("value")) if per is not None else None
            if unit and value is not None:
                repeat.update({"period": value, "periodUnit": unit})
        elif kind == "EIVL_TS":
            event = find(eff, "cda:event")
            if event is not None and event.get("code"):
                repeat["when"] = [event.get("code")]
        elif bounds is None:
            bounds = dt.period(eff)
    return repeat, bounds


def _dosage(ctx: Context, med: Element, repeat: dict[str, Any], bounds: dict[str, Any] | None,
            with_bounds: bool) -> dict[str, Any]:
    dose = find(med, "cda:doseQuantity")
    dose_q = dt.quantity(dose) or dt.quantity(find(dose, "cda:low"))
    instruction = next((text_of(i, "cda:text") or (entry_concept(ctx, i) or {}).get("text")
                        for i in related(med, "20")), None)
    timing_repeat = {**repeat, "boundsPeriod": bounds} if with_bounds and bounds else repeat
    return dt.compact({
        "text": text_of(med, "cda:text") if find(med, "cda:text/cda:reference") is None else None,
        "patientInstruction": instruction,
        "timing": {"repeat": timing_repeat},
        "route": dt.concept(find(med, "cda:routeCode")),
        "site": dt.concept(find(med, "cda:approachSiteCode")),
        "doseAndRate": [{"doseQuantity": dose_q, "rateQuantity": dt.quantity(find(med, "cda:rateQuantity"))}],
        "maxDosePerAdministration": dt.quantity(find(med, "cda:maxDoseQuantity/cda:numerator")),
    })


def medication_activity(ctx: Context, med: Element) -> dict[str, str]:
    material = "cda:consumable/cda:manufacturedProduct/cda:manufacturedMaterial/cda:code"
    repeat, bounds = _timing(med)
    reasons = [c for c in (entry_concept(ctx, i, "cda:value") for i in related(med, "19")) if c]
    common = {
        "identifier": dt.identifiers(find_all(med, "cda:id")),
        "medicationCodeableConcept": required_concept(ctx, med, material),
        "subject": ctx.patient_ref,
        "reasonCode": reasons,
    }
    if med.get("moodCode") == "INT":
        requester = next(iter(filter(None, (practitioner(ctx, a) for a in
                                            find_all(med, "cda:author/cda:assignedAuthor")))), None)
        resource = {
            "resourceType": "MedicationRequest",
            "status": REQUEST_STATUS.get(status_code(med), "unknown"),
            "intent": "order", **common,
            "authoredOn": author_time(med), "requester": requester,
            "dosageInstruction": [_dosage(ctx, med, repeat, bounds, with_bounds=True)],
            "doNotPerform": True if med.get("negationInd") == "true" else None,
        }
        # us-core-21: an order needs a requester, which only the entry's author gives (CF map). Without
        # one the request is still made, but does not claim the profile (as on the HL7v2 side).
        profiles = ("us-core-medicationrequest",) if requester else ()
        return ctx.add(profiled(dt.compact(resource), *profiles), med)
    status = "not-taken" if med.get("negationInd") == "true" else STATEMENT_STATUS.get(status_code(med), "unknown")
    resource = {
        "resourceType": "MedicationStatement",
        "status": status, **common,
        "effectivePeriod": bounds if bounds and "end" in bounds else None,
        "effectiveDateTime": bounds.get("start") if bounds and "end" not in bounds else None,
        "dateAsserted": author_time(med),
        "dosage": [_dosage(ctx, med, repeat, bounds, with_bounds=False)],
    }
    return ctx.add(profiled(dt.compact(resource)), med)
