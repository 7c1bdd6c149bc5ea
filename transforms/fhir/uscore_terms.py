"""Value sets for the US Core checker: the ones shipped beside the profiles, plus core FHIR ones.

A value set is reduced to what a required-binding check needs: per code system, either every
code (a whole-system include or a filter we do not evaluate) or a listed set of codes.
"""

from __future__ import annotations

import json
from pathlib import Path

__all__ = ["ValueSet", "load_value_sets", "CORE_VALUE_SETS"]

FHIR = "http://hl7.org/fhir/"
THO = "http://terminology.hl7.org/CodeSystem/"


class ValueSet:
    """``systems`` maps a code system to its allowed codes (None: any code of that system)."""

    def __init__(self, systems: dict[str, set[str] | None]) -> None:
        self.systems = systems

    def has_coding(self, system: str, code: str) -> bool:
        if system not in self.systems:
            return False
        codes = self.systems[system]
        return codes is None or code in codes

    def has_code(self, code: str) -> bool:
        return any(codes is None or code in codes for codes in self.systems.values())


def _from_compose(compose: dict, known: dict[str, ValueSet]) -> ValueSet | None:
    """None when the value set includes another one we cannot resolve (then it is not checked)."""
    systems: dict[str, set[str] | None] = {}
    for include in compose.get("include", []):
        for nested in include.get("valueSet", []):
            if nested not in known:
                return None
            for system, codes in known[nested].systems.items():
                systems[system] = None if codes is None or systems.get(system, set()) is None \
                    else systems.get(system, set()) | codes  # type: ignore[operator]
        system = include.get("system")
        if not system:
            continue
        concepts = include.get("concept")
        if concepts is None or include.get("filter"):
            systems[system] = None
        elif systems.get(system, set()) is not None:
            systems.setdefault(system, set()).update(c["code"] for c in concepts)  # type: ignore[union-attr]
    return ValueSet(systems)


def load_value_sets(folder: Path) -> dict[str, ValueSet]:
    """ValueSets (``ValueSet-*.json`` / ``valueset-*.json``) in ``folder`` by canonical URL."""
    out: dict[str, ValueSet] = {}
    for path in folder.glob("*.json"):
        if path.name.lower().startswith("valueset-"):
            vs = json.loads(path.read_text(encoding="utf-8"))
            resolved = _from_compose(vs["compose"], {**CORE_VALUE_SETS, **out}) if "compose" in vs else None
            if resolved is not None:
                out[vs["url"]] = resolved
    return out


def _codes(system: str, *codes: str) -> ValueSet:
    return ValueSet({system: set(codes)})


CDC_REC = "urn:oid:2.16.840.1.113883.6.238"
VSAC = "http://cts.nlm.nih.gov/fhir/ValueSet/"

# Core FHIR R4 value sets, and the VSAC sets US Core's race / ethnicity categories include that US Core binds as required (codes from the FHIR R4 specification).
CORE_VALUE_SETS: dict[str, ValueSet] = {
    FHIR + "ValueSet/administrative-gender": _codes(FHIR + "administrative-gender", "male", "female", "other", "unknown"),
    FHIR + "ValueSet/contact-point-system": _codes(FHIR + "contact-point-system", "phone", "fax", "email", "pager",
                                                   "url", "sms", "other"),
    FHIR + "ValueSet/contact-point-use": _codes(FHIR + "contact-point-use", "home", "work", "temp", "old", "mobile"),
    FHIR + "ValueSet/observation-status": _codes(FHIR + "observation-status", "registered", "preliminary", "final",
                                                 "amended", "corrected", "cancelled", "entered-in-error", "unknown"),
    FHIR + "ValueSet/diagnostic-report-status": _codes(FHIR + "diagnostic-report-status", "registered", "partial",
                                                       "preliminary", "final", "amended", "corrected", "appended",
                                                       "cancelled", "entered-in-error", "unknown"),
    FHIR + "ValueSet/immunization-status": _codes(FHIR + "event-status", "completed", "entered-in-error", "not-done"),
    FHIR + "ValueSet/medicationrequest-status": _codes(FHIR + "CodeSystem/medicationrequest-status", "active",
                                                       "on-hold", "cancelled", "completed", "entered-in-error",
                                                       "stopped", "draft", "unknown"),
    FHIR + "ValueSet/medicationrequest-intent": _codes(FHIR + "CodeSystem/medicationrequest-intent", "proposal", "plan",
                                                       "order", "original-order", "reflex-order", "filler-order",
                                                       "instance-order", "option"),
    FHIR + "ValueSet/event-status": _codes(FHIR + "event-status", "preparation", "in-progress", "not-done", "on-hold",
                                           "stopped", "completed", "entered-in-error", "unknown"),
    FHIR + "ValueSet/document-reference-status": _codes(FHIR + "document-reference-status", "current", "superseded",
                                                        "entered-in-error"),
    FHIR + "ValueSet/allergyintolerance-clinical": _codes(THO + "allergyintolerance-clinical", "active", "inactive",
                                                          "resolved"),
    FHIR + "ValueSet/allergyintolerance-verification": _codes(THO + "allergyintolerance-verification", "unconfirmed",
                                                              "confirmed", "refuted", "entered-in-error"),
    FHIR + "ValueSet/condition-clinical": _codes(THO + "condition-clinical", "active", "recurrence", "relapse",
                                                 "inactive", "remission", "resolved"),
    FHIR + "ValueSet/condition-ver-status": _codes(THO + "condition-ver-status", "unconfirmed", "provisional",
                                                   "differential", "confirmed", "refuted", "entered-in-error"),
    VSAC + "2.16.840.1.114222.4.11.836": _codes(CDC_REC, "1002-5", "2028-9", "2054-5", "2076-8", "2106-3"),
    VSAC + "2.16.840.1.114222.4.11.837": _codes(CDC_REC, "2135-2", "2186-5"),
    VSAC + "2.16.840.1.113762.1.4.1021.102": _codes(THO + "v3-NullFlavor", "UNK", "ASKU"),
    FHIR + "ValueSet/request-status": _codes(FHIR + "request-status", "draft", "active", "on-hold", "revoked",
                                             "completed", "entered-in-error", "unknown"),
}
