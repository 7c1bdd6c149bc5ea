"""Result Organizer/Observation, Vital Signs, Social History -> DiagnosticReport and Observation."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lxml import etree

from hl7bridge.transforms.ccda import datatypes as dt
from hl7bridge.transforms.ccda.cda import Element, attr, find, find_all, has_template, text_of
from hl7bridge.transforms.ccda.common import T, entry_author, observation_value, put_choice, required_concept, status_code
from hl7bridge.transforms.ccda.context import Context, profiled

CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
OBS_STATUS = {"completed": "final", "active": "preliminary", "aborted": "cancelled", "cancelled": "cancelled",
              "nullified": "entered-in-error", "held": "registered", "new": "registered"}
REPORT_STATUS = {"completed": "final", "active": "partial", "aborted": "cancelled", "cancelled": "cancelled",
                 "nullified": "entered-in-error", "held": "registered", "new": "registered"}
# Statuses for which US Core's lab report needs effective[x] (us-core-8) and issued (us-core-9).
_REPORTED = frozenset(("partial", "preliminary", "final", "amended", "corrected", "appended"))
VITAL_SIGNS = "us-core-vital-signs"
# US Core 6.1 vital-sign profiles: the LOINC codes each one's code pattern requires and the UCUM
# units its valueQuantity allows (fixed code or required binding). Anything else is VITAL_SIGNS.
VITAL_PROFILES: list[tuple[str, frozenset[str], frozenset[str]]] = [
    ("us-core-pulse-oximetry", frozenset(("59408-5", "2708-6")), frozenset(("%",))),
    ("us-core-body-height", frozenset(("8302-2",)), frozenset(("cm", "[in_i]"))),
    ("us-core-body-weight", frozenset(("29463-7",)), frozenset(("kg", "g", "[lb_av]"))),
    ("us-core-bmi", frozenset(("39156-5",)), frozenset(("kg/m2",))),
    ("us-core-heart-rate", frozenset(("8867-4",)), frozenset(("/min",))),
    ("us-core-respiratory-rate", frozenset(("9279-1",)), frozenset(("/min",))),
    ("us-core-body-temperature", frozenset(("8310-5",)), frozenset(("Cel", "[degF]"))),
    ("us-core-head-circumference", frozenset(("9843-4",)), frozenset(("cm", "[in_i]"))),
]
LOINC = "http://loinc.org"
SMOKING_STATUS_LOINC = {"system": "http://loinc.org", "code": "72166-2", "display": "Tobacco smoking status"}
BIRTH_SEX = "http://hl7.org/fhir/us/core/StructureDefinition/us-core-birthsex"


US_CORE_CATEGORY = "http://hl7.org/fhir/us/core/CodeSystem/us-core-category"
# US Core 6.1 categories that are not in the base observation-category code system.
_US_CORE_CODES = {"functional-status", "cognitive-status", "disability-status", "sdoh"}


def _category(code: str) -> list[dict[str, Any]]:
    system = US_CORE_CATEGORY if code in _US_CORE_CODES else CATEGORY
    return [{"coding": [{"system": system, "code": code}]}]


def _reference_range(obs: Element) -> list[dict[str, Any]]:
    ranges = []
    for rng in find_all(obs, "cda:referenceRange/cda:observationRange"):
        value = find(rng, "cda:value")
        ranges.append(dt.compact({
            "low": dt.quantity(find(value, "cda:low")), "high": dt.quantity(find(value, "cda:high")),
            "text": text_of(rng, "cda:text"),
        }))
    return [r for r in ranges if r]


def observation(ctx: Context, obs: Element, category: str, profile: str | None,
                organizer: Element | None = None) -> dict[str, str]:
    """One CDA observation -> Observation: code, status, effective time, value, interpretation, ranges."""
    resource: dict[str, Any] = {
        "resourceType": "Observation",
        "identifier": dt.identifiers(find_all(obs, "cda:id")),
        "status": OBS_STATUS.get(status_code(obs), "final" if obs.get("moodCode", "EVN") == "EVN" else "unknown"),
        "category": _category(category),
        "code": required_concept(ctx, obs),
        "subject": ctx.patient_ref,
        "interpretation": dt.collect(find_all(obs, "cda:interpretationCode"), dt.concept),
        "referenceRange": _reference_range(obs),
        "method": dt.concept(find(obs, "cda:methodCode")),
        "bodySite": dt.concept(find(obs, "cda:targetSiteCode")),
    }
    # A component without its own time takes the organizer's (the panel was taken at once).
    eff = dt.effective(find(obs, "cda:effectiveTime")) or dt.effective(find(organizer, "cda:effectiveTime"))
    put_choice(resource, "effective", eff)
    performer = entry_author(ctx, obs)
    resource["performer"] = [performer] if performer else []
    value = observation_value(ctx, find(obs, "cda:value"))
    put_choice(resource, "value", value)
    if value is None and find(obs, "cda:value") is not None:
        resource["dataAbsentReason"] = {"coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/data-absent-reason",
            "code": dt.NULL_TO_ABSENT.get(attr(obs, "cda:value", "nullFlavor") or "UNK", "unknown")}]}
    resource = dt.compact(resource)
    if profile == "us-core-smokingstatus" and attr(obs, "cda:code", "code") != "72166-2":
        # R1.1 smoking status carries code ASSERTION; US Core (and C-CDA R2.1) want LOINC 72166-2.
        resource["code"] = {"coding": [SMOKING_STATUS_LOINC]}
    if profile == VITAL_SIGNS:
        profile = vital_profile(resource)
    return ctx.add(profiled(resource, profile) if profile else profiled(resource), obs)


def result_organizer(ctx: Context, organizer: Element) -> list[dict[str, str]]:
    members = [c for c in find_all(organizer, "cda:component/cda:observation") if has_template(c, T + "2")]
    results = [observation(ctx, m, "laboratory", "us-core-observation-lab", organizer) for m in members]
    eff = dt.effective(find(organizer, "cda:effectiveTime"))
    if eff is None and members:
        eff = dt.effective(find(members[0], "cda:effectiveTime"))
    report: dict[str, Any] = {
        "resourceType": "DiagnosticReport",
        "identifier": dt.identifiers(find_all(organizer, "cda:id")),
        "status": REPORT_STATUS.get(status_code(organizer), "final"),
        "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0074", "code": "LAB"}]}],
        "code": required_concept(ctx, organizer),
        "subject": ctx.patient_ref,
        "result": results,
    }
    put_choice(report, "effective", eff)
    report["issued"] = _issued(organizer)
    report = dt.compact(report)
    return [ctx.add(profiled(report, *_report_profiles(report)), organizer), *results]


def _issued(organizer: Element) -> str | None:
    """DiagnosticReport.issued: the latest author/time of the organizer, when it is an instant (a time
    with a zone; a date alone is not when a report was released, and no time is made up)."""
    times = sorted(t for t in (dt.ts_of(a) for a in find_all(organizer, "cda:author/cda:time")) if t and "T" in t)
    return times[-1] if times else None


def _report_profiles(report: dict[str, Any]) -> tuple[str, ...]:
    """us-core-diagnosticreport-lab only where its invariants hold: a reported result (us-core-8/9)
    needs effective[x] and issued. C-CDA has issued only as the organizer's author time, which most
    senders leave out; the report is still made, without the claim."""
    if report["status"] in _REPORTED and not ("issued" in report and any(k.startswith("effective") for k in report)):
        return ()
    return ("us-core-diagnosticreport-lab",)


def assessment(category: str) -> Callable[[Context, Element], list[dict[str, str]]]:
    """Handler for the status/assessment observations (mental, functional, nutritional...) and
    their organizers: each observation -> Observation (us-core-simple-observation) in ``category``;
    nested assessments one entryRelationship down come along."""
    def handle(ctx: Context, element: Element) -> list[dict[str, str]]:
        if etree.QName(element).localname == "organizer":
            members = find_all(element, "cda:component/cda:observation")
        else:
            members = [element, *find_all(element, "cda:entryRelationship/cda:observation")]
        return [observation(ctx, m, category, "us-core-simple-observation") for m in members]
    return handle


def vital_signs_organizer(ctx: Context, organizer: Element) -> list[dict[str, str]]:
    members = [c for c in find_all(organizer, "cda:component/cda:observation") if has_template(c, T + "27")]
    return [vital_sign(ctx, m, organizer) for m in members]


def vital_sign(ctx: Context, obs: Element, organizer: Element | None = None) -> dict[str, str]:
    return observation(ctx, obs, "vital-signs", VITAL_SIGNS, organizer)


def vital_profile(resource: dict[str, Any]) -> str | None:
    """The vital-sign profile a mapped Observation meets: a specific one when its codings hold every
    code the profile's pattern has (a translation counts) and its value is a Quantity in one of the
    profile's units (or absent, with dataAbsentReason); else the generic one. None when it meets no
    vital-sign profile: FHIR's vitalsigns base wants a value or a reason, and a Quantity with a UCUM
    unit. 3141-9 (weight measured) is not 29463-7, and a BMI of unit "1" is not in kg/m2: no unit or
    code is made up to fit a profile."""
    values = [k for k in resource if k.startswith("value")]
    quantity = resource.get("valueQuantity")
    if not values and "dataAbsentReason" not in resource or quantity is not None and "code" not in quantity:
        return None
    if values and quantity is None:
        return VITAL_SIGNS  # the specific profiles take a Quantity only
    loinc = {c.get("code") for c in resource.get("code", {}).get("coding", []) if c.get("system") == LOINC}
    for profile, codes, units in VITAL_PROFILES:
        if codes <= loinc and (quantity is None or quantity["code"] in units):
            return profile
    return VITAL_SIGNS


def social_history(ctx: Context, obs: Element) -> dict[str, str] | None:
    if has_template(obs, T + "200"):
        return _birth_sex(ctx, obs)
    if has_template(obs, T + "78"):
        return observation(ctx, obs, "social-history", "us-core-smokingstatus")
    return observation(ctx, obs, "social-history", "us-core-simple-observation")


def _birth_sex(ctx: Context, obs: Element) -> None:
    """Birth Sex Observation becomes the us-core-birthsex extension on the Patient (not an Observation)."""
    value = find(obs, "cda:value")
    code = value.get("code") if value is not None and value.get("code") in ("F", "M") else "UNK"
    patient = next((r for r in ctx.resources if r["resourceType"] == "Patient"), None)
    if patient is not None:
        patient.setdefault("extension", []).append({"url": BIRTH_SEX, "valueCode": code})
    return None
