"""A FHIR Bundle (document, transaction, collection...) -> the view model ccd.xml.j2 renders.

Resources are picked by type, never by position, so a Bundle from hl7v2_to_fhir (no Composition)
works as well as a document Bundle.  Missing header data becomes nullFlavors in the template.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections import defaultdict
from datetime import datetime, timezone
from typing import Any

from hl7bridge.transforms.ccda import cda_values as cv
from hl7bridge.transforms.ccda import model_entries as me

_NAMESPACE = uuid.UUID("0d6bd5f4-3f0c-4b8e-9a0f-1a4f2c7d9e21")
OBS_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
RACE_EXT = "http://hl7.org/fhir/us/core/StructureDefinition/us-core-race"
ETHNICITY_EXT = "http://hl7.org/fhir/us/core/StructureDefinition/us-core-ethnicity"
BP_COMPONENTS = {"8480-6", "8462-4"}


class Resources:
    """Bundle resources by type, with reference resolution (fullUrl or Type/id)."""

    def __init__(self, bundle: dict[str, Any]) -> None:
        self.by_type: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.by_ref: dict[str, dict[str, Any]] = {}
        for entry in bundle.get("entry") or []:
            res = entry.get("resource") or {}
            if not res.get("resourceType"):
                continue
            self.by_type[res["resourceType"]].append(res)
            if entry.get("fullUrl"):
                self.by_ref[entry["fullUrl"]] = res
            if res.get("id"):
                self.by_ref[f"{res['resourceType']}/{res['id']}"] = res

    def resolve(self, ref: dict[str, Any] | None) -> dict[str, Any] | None:
        return self.by_ref.get((ref or {}).get("reference", ""))


def _uuid(*parts: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, "|".join(parts)))


def _categories(res: dict[str, Any]) -> set[str]:
    return {c.get("code") for cat in res.get("category") or [] for c in cat.get("coding", [])}


def _code(res: dict[str, Any]) -> str | None:
    return next((c.get("code") for c in (res.get("code") or {}).get("coding", [])), None)


def _omb(patient: dict[str, Any], url: str) -> list[dict[str, Any]]:
    ext = next((e for e in patient.get("extension") or [] if e.get("url") == url), None)
    codes = [x["valueCoding"] for x in (ext or {}).get("extension", []) if x.get("url") in ("ombCategory", "detailed")]
    return [{"code": c["code"], "system": "2.16.840.1.113883.6.238", "display": c.get("display")}
            for c in codes if c.get("code")]


def patient_model(patient: dict[str, Any]) -> dict[str, Any]:
    lang = next((c.get("language") for c in patient.get("communication") or []), None)
    return {
        "ids": cv.ids(patient.get("identifier")),
        "names": [n for n in (cv.name(x) for x in patient.get("name") or []) if n],
        "addresses": [a for a in (cv.address(x) for x in patient.get("address") or []) if a],
        "telecoms": [t for t in (cv.telecom(x) for x in patient.get("telecom") or []) if t],
        "gender": cv.gender(patient.get("gender")),
        "birth_time": cv.ts(patient.get("birthDate")),
        "marital": cv.cd(patient["maritalStatus"]) if patient.get("maritalStatus") else None,
        "races": _omb(patient, RACE_EXT), "ethnicities": _omb(patient, ETHNICITY_EXT),
        "language": next((c.get("code") for c in (lang or {}).get("coding", [])), None),
    }


def party_model(res: dict[str, Any] | None) -> dict[str, Any] | None:
    """Practitioner or Organization -> ids, name(s), addresses, telecoms."""
    if not res:
        return None
    names = res.get("name")
    return {
        "ids": cv.ids(res.get("identifier")),
        "person": [n for n in (cv.name(x) for x in names) if n] if isinstance(names, list) else [],
        "org_name": names if isinstance(names, str) else None,
        "addresses": [a for a in (cv.address(x) for x in res.get("address") or []) if a],
        "telecoms": [t for t in (cv.telecom(x) for x in res.get("telecom") or []) if t],
    }


def _vital_organizers(observations: list[dict[str, Any]], key: str) -> list[dict[str, Any]]:
    """Vital signs grouped by time into organizers; a blood-pressure panel's components are split out."""
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for res in observations:
        if res.get("component") and not res.get("valueQuantity"):
            parts = [{**res, "code": c.get("code"), "valueQuantity": c.get("valueQuantity"), "component": None,
                      "identifier": []} for c in res["component"] if c.get("valueQuantity")]
        else:
            parts = [res]
        stamp = me.effective(res)
        groups[stamp.get("value") or stamp.get("low") or ""].extend(parts)
    organizers = []
    for n, (stamp, members) in enumerate(sorted(groups.items()), 1):
        components = [me.observation(m, f"vital-{n}-{i}") for i, m in enumerate(members, 1)]
        organizers.append({"nid": f"vital-{n}", "ids": [{"root": _uuid(key, "vitals", stamp)}],
                           "effective": stamp or None, "components": components})
    return organizers


def _results(res: Resources, observations: list[dict[str, Any]], key: str) -> list[dict[str, Any]]:
    organizers, used = [], set()
    for n, report in enumerate(res.by_type["DiagnosticReport"], 1):
        members = [m for m in (res.resolve(r) for r in report.get("result") or []) if m]
        used.update(id(m) for m in members)
        if not members:
            continue
        comps = [me.loinc_or_translated(me.observation(m, f"result-{n}-{i}")) for i, m in enumerate(members, 1)]
        organizers.append({"nid": f"result-{n}", "ids": cv.ids(report.get("identifier")) or
                           [{"root": _uuid(key, "report", str(n))}], "code": cv.cd(report.get("code")),
                           "status": me.OBS_STATUS.get(report.get("status", ""), "completed"), "components": comps})
    loose = [o for o in observations if id(o) not in used]
    for n, obs in enumerate(loose, len(organizers) + 1):
        comp = me.loinc_or_translated(me.observation(obs, f"result-{n}-1"))
        organizers.append({"nid": f"result-{n}", "ids": [{"root": _uuid(key, "organizer", str(n))}],
                           "code": comp["code"], "status": comp["status"], "components": [comp]})
    return organizers


def sections_model(res: Resources, key: str) -> dict[str, list[dict[str, Any]]]:
    obs = res.by_type["Observation"]
    vitals = [o for o in obs if "vital-signs" in _categories(o)]
    social = [o for o in obs if "social-history" in _categories(o) and o not in vitals]
    functional = [o for o in obs if "functional-status" in _categories(o)]
    mental = [o for o in obs if "cognitive-status" in _categories(o)]
    placed = vitals + social + functional + mental
    results = [o for o in obs if o not in placed and not o.get("hasMember")]
    meds = []
    for n, m in enumerate(res.by_type["MedicationStatement"] + res.by_type["MedicationRequest"], 1):
        material = m.get("medicationCodeableConcept") or (res.resolve(m.get("medicationReference")) or {}).get("code")
        meds.append(me.medication(m, material, f"med-{n}"))
    return {
        "allergies": [me.allergy(a, f"allergy-{n}") for n, a in enumerate(res.by_type["AllergyIntolerance"], 1)],
        "problems": [me.problem(c, f"problem-{n}") for n, c in enumerate(res.by_type["Condition"], 1)],
        "medications": meds,
        "results": _results(res, results, key),
        "vital_signs": _vital_organizers(vitals, key),
        "smoking": [me.observation(o, f"social-{n}") for n, o in enumerate(social, 1) if _code(o) == "72166-2"],
        "social": [me.loinc_or_translated(me.observation(o, f"social-{n}")) for n, o in enumerate(social, 1)
                   if _code(o) != "72166-2"],
        "functional": [me.loinc_coded(me.observation(o, f"func-{n}")) for n, o in enumerate(functional, 1)],
        "mental": [me.observation(o, f"mental-{n}") for n, o in enumerate(mental, 1)],
        "immunizations": [me.immunization(i, f"imm-{n}") for n, i in enumerate(res.by_type["Immunization"], 1)],
        "procedures": [me.procedure(p, f"proc-{n}") for n, p in enumerate(res.by_type["Procedure"], 1)],
        "encounters": [me.encounter(e, f"enc-{n}") for n, e in enumerate(res.by_type["Encounter"], 1)],
    }


def _times(sections: dict[str, list[dict[str, Any]]]) -> list[str]:
    found: list[str] = []
    for entries in sections.values():
        for e in entries:
            for k in ("low", "high"):
                if isinstance(e.get(k), str):
                    found.append(e[k])
            eff = e.get("effective")
            if isinstance(eff, dict) and eff.get("value"):
                found.append(eff["value"])
    return sorted(found, key=lambda t: t[:8])


def document_model(bundle: dict[str, Any]) -> dict[str, Any]:
    res = Resources(bundle)
    key = hashlib.sha256(json.dumps(bundle, sort_keys=True, default=str).encode()).hexdigest()
    composition = (res.by_type["Composition"] or [{}])[0]
    patient = (res.by_type["Patient"] or [{}])[0]
    author = next((res.resolve(a) for a in composition.get("author") or [] if res.resolve(a)), None) or \
        (res.by_type["Practitioner"] or [None])[0]
    custodian = res.resolve(composition.get("custodian")) or res.resolve(patient.get("managingOrganization")) or \
        (res.by_type["Organization"] or [None])[0]
    when = cv.ts(composition.get("date") or bundle.get("timestamp")) or \
        datetime.now(timezone.utc).strftime("%Y%m%d%H%M%S+0000")
    sections = sections_model(res, key)
    times = _times(sections)
    return {
        "doc": {"id": _uuid(key, "document"), "set_id": _uuid(key, "set"), "effective_time": when,
                "title": composition.get("title") or "Continuity of Care Document"},
        "patient": patient_model(patient), "author": party_model(author if author and author.get(
            "resourceType") == "Practitioner" else None),
        "custodian": party_model(custodian if custodian and custodian.get("resourceType") == "Organization" else None),
        "service_event": {"low": times[0] if times else when, "high": times[-1] if times else when},
        "sections": sections,
    }
