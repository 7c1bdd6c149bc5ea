"""FHIR resources -> entry view models for the CDA entry templates (FC maps, inverse of CF).

Each function returns a plain dict: ``nid`` (the narrative anchor the entry's text points at),
``ids`` (II dicts), coded values from ``cda_values.cd`` and HL7 TS strings.  Row text for the
section narrative is in ``row``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from hl7bridge.engine.errors import HL7BridgeError, TransformError
from hl7bridge.transforms.ccda import cda_values as cv

F = TypeVar("F", bound=Callable[..., Any])

CLINICAL_ACTIVE = {"active", "recurrence", "relapse"}
# Inverse of CF_AllergyIntoleranceType/Category: (category, type) -> observation value (SNOMED).
ALLERGY_VALUE = {("medication", "allergy"): ("416098002", "Allergy to drug"),
                 ("medication", "intolerance"): ("59037007", "Intolerance to drug"),
                 ("food", "allergy"): ("414285001", "Allergy to food"),
                 ("food", "intolerance"): ("235719002", "Intolerance to food"),
                 ("medication", None): ("419511003", "Propensity to adverse reactions to drug"),
                 ("food", None): ("418471000", "Propensity to adverse reactions to food")}
SEVERITY = {"mild": ("255604002", "Mild"), "moderate": ("6736007", "Moderate"), "severe": ("24484000", "Severe")}
CRITICALITY = {"high": "CRITH", "low": "CRITL", "unable-to-assess": "CRITU"}
MED_STATUS = {"active": "active", "completed": "completed", "stopped": "aborted", "on-hold": "suspended",
              "cancelled": "cancelled", "entered-in-error": "nullified", "draft": "new", "intended": "active",
              "not-taken": "cancelled"}
PROC_STATUS = {"completed": "completed", "in-progress": "active", "stopped": "aborted", "not-done": "cancelled",
               "preparation": "new", "on-hold": "suspended", "entered-in-error": "nullified"}
OBS_STATUS = {"final": "completed", "amended": "completed", "corrected": "completed", "preliminary": "active",
              "registered": "active", "cancelled": "aborted", "entered-in-error": "nullified"}
SNOMED = "2.16.840.1.113883.6.96"


def located(builder: F) -> F:
    """Turns a malformed resource's TypeError/KeyError... into a TransformError naming the
    resource by type and id (never its content)."""
    @functools.wraps(builder)
    def wrapper(res: Any, *args: Any) -> Any:
        try:
            return builder(res, *args)
        except HL7BridgeError:
            raise
        except (AttributeError, TypeError, KeyError, ValueError, IndexError) as exc:
            kind = res.get("resourceType", "resource") if isinstance(res, dict) else "resource"
            rid = res.get("id", "?") if isinstance(res, dict) else "?"
            raise TransformError(f"{kind} could not be rendered ({type(exc).__name__})",
                                 location=f"Bundle.entry[{kind}/{rid}]") from exc
    return wrapper  # type: ignore[return-value]


def _status(resource: dict[str, Any]) -> str | None:
    return ((resource.get("clinicalStatus") or {}).get("coding") or [{}])[0].get("code")


def _sn(code_display: tuple[str, str]) -> dict[str, Any]:
    return {"code": code_display[0], "system": SNOMED, "display": code_display[1], "translations": []}


def effective(resource: dict[str, Any], stem: str = "effective") -> dict[str, str | None]:
    """A choice[x] time as {value} or {low, high} TS strings."""
    if resource.get(stem + "DateTime") or resource.get(stem + "Instant"):
        return {"value": cv.ts(resource.get(stem + "DateTime") or resource.get(stem + "Instant"))}
    period = resource.get(stem + "Period") or {}
    return {"low": cv.ts(period.get("start")), "high": cv.ts(period.get("end"))}


@located
def allergy(res: dict[str, Any], nid: str) -> dict[str, Any]:
    category = (res.get("category") or [None])[0]
    value = ALLERGY_VALUE.get((category, res.get("type"))) or ALLERGY_VALUE.get((category, None)) or \
        ("420134006", "Propensity to adverse reactions")
    active = _status(res) in CLINICAL_ACTIVE or _status(res) is None
    reactions = [{"nid": f"{nid}-r{i}", "value": cv.cd((r.get("manifestation") or [None])[0]),
                  "low": cv.ts(r.get("onset")),
                  "severity": _sn(SEVERITY[r["severity"]]) if r.get("severity") in SEVERITY else None}
                 for i, r in enumerate(res.get("reaction") or [], 1)]
    substance = cv.cd(res.get("code"))
    return {
        "nid": nid, "ids": cv.ids(res.get("identifier")), "concern_status": "active" if active else "completed",
        "low": cv.ts(res.get("onsetDateTime") or res.get("recordedDate")), "value": _sn(value),
        "substance": substance, "reactions": reactions, "criticality": CRITICALITY.get(res.get("criticality", "")),
        "row": [substance.get("display") or substance.get("text") or "Unknown substance",
                ", ".join(r["value"].get("display") or r["value"].get("text") or "" for r in reactions),
                _status(res) or "active"],
    }


@located
def problem(res: dict[str, Any], nid: str) -> dict[str, Any]:
    active = _status(res) in CLINICAL_ACTIVE or _status(res) is None
    value = cv.cd(res.get("code"))
    low = cv.ts(res.get("onsetDateTime") or (res.get("onsetPeriod") or {}).get("start") or res.get("recordedDate"))
    high = cv.ts(res.get("abatementDateTime") or (res.get("abatementPeriod") or {}).get("end"))
    return {"nid": nid, "ids": cv.ids(res.get("identifier")), "concern_status": "active" if active else "completed",
            "low": low, "high": None if active else high, "value": value,
            "negated": cv.coding_code(res.get("verificationStatus"),
                                      "http://terminology.hl7.org/CodeSystem/condition-ver-status") == "refuted",
            "row": [value.get("display") or value.get("text") or "Unknown problem", _status(res) or "active"]}


@located
def medication(res: dict[str, Any], material: dict[str, Any] | None, nid: str) -> dict[str, Any]:
    dosage = (res.get("dosage") or res.get("dosageInstruction") or [{}])[0]
    repeat = (dosage.get("timing") or {}).get("repeat") or {}
    bounds = repeat.get("boundsPeriod") or res.get("effectivePeriod") or {}
    start = bounds.get("start") or res.get("effectiveDateTime") or res.get("authoredOn")
    dose = ((dosage.get("doseAndRate") or [{}])[0]).get("doseQuantity")
    drug = cv.cd(material)
    period = {"value": str(repeat["period"]), "unit": repeat["periodUnit"]} \
        if repeat.get("period") and repeat.get("periodUnit") else None
    return {"nid": nid, "ids": cv.ids(res.get("identifier")),
            "mood": "INT" if res["resourceType"] == "MedicationRequest" else "EVN",
            "status": MED_STATUS.get(res.get("status", ""), "active"), "low": cv.ts(start),
            "high": cv.ts(bounds.get("end")), "period": period, "route": cv.cd(dosage.get("route")) if
            dosage.get("route") else None, "dose": cv.pq(dose), "material": drug,
            "instruction": dosage.get("patientInstruction") or dosage.get("text"),
            "row": [drug.get("display") or drug.get("text") or "Unknown medication", dosage.get("text") or "",
                    res.get("status", "")]}


def observation_value(res: dict[str, Any]) -> dict[str, Any] | None:
    """Observation.value[x] -> {type: PQ|CD|ST|INT|BL|IVL_PQ, ...} for the value macro."""
    if res.get("valueQuantity"):
        q = res["valueQuantity"]
        comparator = q.get("comparator")
        if comparator in (">", ">="):
            return {"type": "IVL_PQ", "low": cv.pq(q), "low_inclusive": comparator == ">="}
        if comparator in ("<", "<="):
            return {"type": "IVL_PQ", "high": cv.pq(q), "high_inclusive": comparator == "<="}
        return {"type": "PQ", **(cv.pq(q) or {})}
    if res.get("valueCodeableConcept"):
        return {"type": "CD", **cv.cd(res["valueCodeableConcept"])}
    if res.get("valueRange"):
        return {"type": "IVL_PQ", "low": cv.pq(res["valueRange"].get("low")), "high": cv.pq(res["valueRange"].get("high"))}
    if res.get("valueInteger") is not None:
        return {"type": "INT", "value": str(res["valueInteger"])}
    if res.get("valueBoolean") is not None:
        return {"type": "BL", "value": "true" if res["valueBoolean"] else "false"}
    if res.get("valueString") or res.get("valueDateTime"):
        return {"type": "ST", "text": res.get("valueString") or res.get("valueDateTime")}
    return None


@located
def observation(res: dict[str, Any], nid: str) -> dict[str, Any]:
    value = observation_value(res)
    code = cv.cd(res.get("code"))
    ranges = [{"low": cv.pq(r.get("low")), "high": cv.pq(r.get("high")), "text": r.get("text")}
              for r in res.get("referenceRange") or []]
    shown = value.get("value", "") + " " + value.get("unit", "") if value and value["type"] == "PQ" else \
        (value or {}).get("display") or (value or {}).get("text") or ""
    return {"nid": nid, "ids": cv.ids(res.get("identifier")), "code": code, "value": value,
            "status": OBS_STATUS.get(res.get("status", ""), "completed"), "effective": effective(res),
            "interpretations": [cv.cd(i) for i in res.get("interpretation") or []],
            "ranges": [r for r in ranges if r["low"] or r["high"] or r["text"]],
            "row": [code.get("display") or code.get("text") or "Observation", shown.strip(),
                    cv.ts(res.get("effectiveDateTime") or (res.get("effectivePeriod") or {}).get("start")) or ""]}


def loinc_coded(entry: dict[str, Any]) -> dict[str, Any]:
    """Templates whose code must be LOINC: a non-LOINC code moves to a translation under the
    generic LOINC code for the kind (Functional status 54522-8)."""
    code = entry["code"]
    if code.get("system") == "2.16.840.1.113883.6.1":
        return entry
    translations = [{k: code[k] for k in ("code", "system", "display")}] if code.get("code") else []
    return {**entry, "code": {"code": "54522-8", "system": "2.16.840.1.113883.6.1", "display": "Functional status",
                              "text": code.get("text"), "translations": translations + code.get("translations", [])}}


def loinc_or_translated(entry: dict[str, Any]) -> dict[str, Any]:
    """Result Observation codes must be LOINC or carry a translation: a non-LOINC code becomes a
    translation under nullFlavor OTH (the FC datatype map's rule for a value outside the code system)."""
    code = entry["code"]
    if not code.get("code") or code.get("system") == "2.16.840.1.113883.6.1":
        return entry
    translations = [{k: code[k] for k in ("code", "system", "display")}] + code.get("translations", [])
    return {**entry, "code": {"null_flavor": "OTH", "text": code.get("text"), "translations": translations}}


@located
def immunization(res: dict[str, Any], nid: str) -> dict[str, Any]:
    vaccine = cv.cd(res.get("vaccineCode"))
    return {"nid": nid, "ids": cv.ids(res.get("identifier")), "negated": res.get("status") == "not-done",
            "status": "completed", "effective": cv.ts(res.get("occurrenceDateTime")), "vaccine": vaccine,
            "lot": res.get("lotNumber"), "route": cv.cd(res.get("route")) if res.get("route") else None,
            "dose": cv.pq(res.get("doseQuantity")),
            "row": [vaccine.get("display") or vaccine.get("text") or "Vaccine", res.get("occurrenceDateTime") or "",
                    res.get("status", "")]}


@located
def procedure(res: dict[str, Any], nid: str) -> dict[str, Any]:
    code = cv.cd(res.get("code"))
    return {"nid": nid, "ids": cv.ids(res.get("identifier")), "code": code,
            "status": PROC_STATUS.get(res.get("status", ""), "completed"), "effective": effective(res, "performed"),
            "sites": [cv.cd(s) for s in res.get("bodySite") or []],
            "row": [code.get("display") or code.get("text") or "Procedure", res.get("performedDateTime") or
                    (res.get("performedPeriod") or {}).get("start") or "", res.get("status", "")]}


@located
def encounter(res: dict[str, Any], nid: str) -> dict[str, Any]:
    concept = (res.get("type") or [None])[0]
    klass = res.get("class") or {}
    if not concept and klass.get("code"):
        concept = {"coding": [klass]}
    code = cv.cd(concept)
    period = res.get("period") or {}
    return {"nid": nid, "ids": cv.ids(res.get("identifier")), "code": code,
            "low": cv.ts(period.get("start")), "high": cv.ts(period.get("end")),
            "row": [code.get("display") or code.get("text") or "Encounter", period.get("start") or "",
                    res.get("status", "")]}
