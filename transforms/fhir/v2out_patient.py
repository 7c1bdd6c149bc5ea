"""Patient -> PID and Encounter -> PV1 / PV2 (IG PID[Patient] and PV1[Encounter] read in reverse)."""

from __future__ import annotations

from hl7bridge.engine.errors import TransformError
from hl7bridge.transforms.fhir.profiles import FHIR_EXT, US_CORE
from hl7bridge.transforms.fhir.v2out_bundle import Found, ResourceIndex
from hl7bridge.transforms.fhir.v2out_er7 import SegmentOut, Version, comps, dtm, reps
from hl7bridge.transforms.fhir.v2out_types import SSN, ce, cx, first_coding, v2_code, xad, xcn, xpn, xtn
from hl7bridge.transforms.hl7v2.codes import THO, V2

__all__ = ["pid", "pv1", "pv2", "practitioner_xcn", "encounter_class"]

_DL_SYSTEM = "urn:hl7bridge:id:drivers-license"
_BIRTH_TIME = FHIR_EXT + "patient-birthTime"
_ETHNICITY = {"2135-2": "H", "2186-5": "N"}  # the 2.3 bare codes (HL7 table 0189)
# v3 ActCode encounter classes the IG map leaves out, to the nearest v2 patient class (table 0004).
_EXTRA_CLASSES = {"ACUTE": "I", "NONAC": "I", "OBSENC": "O", "SS": "O", "HH": "O", "VR": "O", "FLD": "O"}
_PARTICIPANTS = (("ATND", 7), ("REF", 8), ("CON", 9), ("ADM", 17))


def pid(patient: Found, version: Version) -> SegmentOut:
    """PID from a Patient; PID-3 (identifiers) is required."""
    res = patient.res
    seg = SegmentOut("PID")
    seg[1] = "1"
    idents = [i for i in res.get("identifier") or [] if isinstance(i, dict) and i.get("value")]
    if not idents:
        raise TransformError("Patient has no identifier with a value (PID-3 is required)",
                             location=patient.loc + ".identifier")
    # A driver's licence goes to PID-20 (DLN); it stays in PID-3 only when it is the sole identifier.
    listed = [i for i in idents if not (i.get("system") or "").startswith(_DL_SYSTEM)] or idents
    seg[3] = reps(cx(i, version) for i in listed)
    _licence_and_ssn(seg, idents, version)
    seg[5] = reps(xpn(n, version) for n in res.get("name") or [] if isinstance(n, dict))
    seg[6] = comps(_extension_value(res, FHIR_EXT + "patient-mothersMaidenName", "valueString"))
    seg[7] = _birth(patient)
    seg[8] = v2_code("AdministrativeSex", res.get("gender"))
    seg[10] = _race(res, version)
    seg[11] = reps(xad(a) for a in res.get("address") or [] if isinstance(a, dict))
    _telecom(seg, res, version)
    language = next((c.get("language") for c in res.get("communication") or [] if isinstance(c, dict)), None)
    seg[15] = ce(language)
    seg[16] = _marital(res.get("maritalStatus"), version)
    seg[22] = _ethnicity(res, version)
    _multiple_birth_and_death(seg, patient)
    return seg


def _licence_and_ssn(seg: SegmentOut, idents: list[dict], version: Version) -> None:
    licence = next((i for i in idents if (i.get("system") or "").startswith(_DL_SYSTEM)), None)
    if licence:
        state = licence["system"][len(_DL_SYSTEM) + 1:]
        seg[20] = comps(licence["value"], state)
    ssn = next((i for i in idents if i.get("system") == SSN), None)
    if ssn and not version.at_least("2.5"):
        seg[19] = comps(ssn["value"])  # PID-19 is kept for backward compatibility only from 2.5


def _extension_value(res: dict, url: str, key: str) -> str:
    for ext in res.get("extension") or []:
        if isinstance(ext, dict) and ext.get("url") == url and isinstance(ext.get(key), str):
            return ext[key]
    return ""


def _birth(patient: Found) -> str:
    born = patient.res.get("_birthDate") or {}
    exact = _extension_value(born, _BIRTH_TIME, "valueDateTime") if isinstance(born, dict) else ""
    if exact:
        return dtm(exact, patient.loc + "._birthDate")
    return dtm(patient.res.get("birthDate"), patient.loc + ".birthDate")


def _category_codings(res: dict, name: str) -> list[dict]:
    """ombCategory then detailed valueCodings of the US Core race / ethnicity extension."""
    out: list[dict] = []
    for ext in res.get("extension") or []:
        if isinstance(ext, dict) and ext.get("url") == US_CORE + name:
            for part in ext.get("extension") or []:
                coding = part.get("valueCoding") if isinstance(part, dict) else None
                if part.get("url") in ("ombCategory", "detailed") and isinstance(coding, dict) and coding.get("code"):
                    out.append(coding)
    return [c for c in out if not c.get("system", "").endswith("v3-NullFlavor")]


def _race(res: dict, version: Version) -> str:
    codings = _category_codings(res, "us-core-race")
    if not version.coded_demographics:
        return reps(comps(c["code"]) for c in codings)
    return reps(comps(c["code"], c.get("display", ""), "CDCREC") for c in codings)


def _ethnicity(res: dict, version: Version) -> str:
    codings = _category_codings(res, "us-core-ethnicity")
    if not version.coded_demographics:
        return reps(comps(_ETHNICITY.get(c["code"], c["code"])) for c in codings[:1])
    return reps(comps(c["code"], c.get("display", ""), "CDCREC") for c in codings)


def _telecom(seg: SegmentOut, res: dict, version: Version) -> None:
    """Work numbers go to PID-14; home, mobile, e-mail and unlabelled ones to PID-13."""
    points = [p for p in res.get("telecom") or [] if isinstance(p, dict) and p.get("value")]
    seg[13] = reps(xtn(p, version) for p in points if p.get("use") != "work")
    seg[14] = reps(xtn(p, version) for p in points if p.get("use") == "work")


def _marital(concept: object, version: Version) -> str:
    v2 = first_coding(concept, V2 + "0002")
    if v2 and v2.get("system") == V2 + "0002":
        code, display = v2["code"], v2.get("display", "")
    else:
        v3 = first_coding(concept, THO + "v3-MaritalStatus") or first_coding(concept, THO + "v3-NullFlavor") or {}
        code, display = v2_code("MaritalStatus", v3.get("code")), v3.get("display", "")
    if not code:
        return ""
    return comps(code, display, "HL70002") if version.coded_demographics else comps(code)


def _multiple_birth_and_death(seg: SegmentOut, patient: Found) -> None:
    res = patient.res
    if isinstance(res.get("multipleBirthInteger"), int) and not isinstance(res["multipleBirthInteger"], bool):
        seg[24], seg[25] = "Y", str(res["multipleBirthInteger"])
    elif isinstance(res.get("multipleBirthBoolean"), bool):
        seg[24] = "Y" if res["multipleBirthBoolean"] else "N"
    if res.get("deceasedDateTime"):
        seg[29], seg[30] = dtm(res["deceasedDateTime"], patient.loc + ".deceasedDateTime"), "Y"
    elif isinstance(res.get("deceasedBoolean"), bool):
        seg[30] = "Y" if res["deceasedBoolean"] else "N"


def encounter_class(encounter: dict) -> str:
    """Encounter.class (an R4 Coding, or the R5 list of CodeableConcepts) -> PV1-2 patient class."""
    value = encounter.get("class")
    coding = value if isinstance(value, dict) and "code" in value else None
    if coding is None and isinstance(value, list) and value:
        coding = first_coding(value[0])
    code = (coding or {}).get("code", "") if isinstance(coding, dict) else ""
    if (coding or {}).get("system") == V2 + "0004":
        return code
    return v2_code("PatientClass[EncounterClass]", code) or _EXTRA_CLASSES.get(code, "")


def practitioner_xcn(owner: Found, element: str, index: ResourceIndex, version: Version) -> str:
    """XCN for the Practitioner (or PractitionerRole's practitioner) at ``owner.<element>``."""
    found = index.resolve(owner, element)
    if found is not None and found.rtype == "PractitionerRole":
        found = index.resolve(found, "practitioner")
    return xcn(found.res, version) if found is not None and found.rtype == "Practitioner" else ""


def pv1(encounter: Found | None, index: ResourceIndex, version: Version) -> SegmentOut:
    """PV1 from an Encounter; without one, PV1-2 'N' (not applicable) as the ADT structures need a PV1."""
    seg = SegmentOut("PV1")
    seg[1] = "1"
    if encounter is None:
        seg[2] = "N"
        return seg
    res = encounter.res
    seg[2] = encounter_class(res) or "U"
    _locations(seg, encounter, index)
    seg[4] = comps(_code_in(res.get("type") or [], V2 + "0007"))
    for code, number in _PARTICIPANTS:
        seg[number] = reps(_participants(encounter, code, index, version))
    seg[10] = comps(_code_in([res.get("serviceType")], V2 + "0069"))
    hosp = res.get("hospitalization") if isinstance(res.get("hospitalization"), dict) else {}
    seg[14] = comps(_code_in([hosp.get("admitSource")], V2 + "0023"))
    seg[36] = comps(_code_in([hosp.get("dischargeDisposition")], V2 + "0112"))
    idents = [i for i in res.get("identifier") or [] if isinstance(i, dict) and i.get("value")]
    seg[19] = cx(idents[0], version) if idents else ""
    period = res.get("period") if isinstance(res.get("period"), dict) else {}
    seg[44] = dtm(period.get("start"), encounter.loc + ".period.start")
    seg[45] = dtm(period.get("end"), encounter.loc + ".period.end")
    return seg


def _code_in(concepts: list, system: str) -> str:
    for concept in concepts:
        coding = first_coding(concept, system)
        if coding:
            return coding["code"]
    return ""


def _participants(encounter: Found, code: str, index: ResourceIndex, version: Version) -> list[str]:
    out = []
    for i, part in enumerate(encounter.res.get("participant") or []):
        types = [c.get("code") for t in part.get("type") or [] for c in (t.get("coding") or [])]
        if code in types:
            out.append(practitioner_xcn(encounter, f"participant[{i}].individual", index, version))
    return out


def _locations(seg: SegmentOut, encounter: Found, index: ResourceIndex) -> None:
    """The current location to PV1-3, a planned one to PV1-42 (Location.name as the point of care)."""
    finished = encounter.res.get("status") in ("finished", "cancelled")
    for i, entry in enumerate(encounter.res.get("location") or []):
        status = entry.get("status") if isinstance(entry, dict) else None
        number = 42 if status == "planned" else 3 if status in (None, "active", "reserved") or finished else 0
        if not number or seg[number]:
            continue
        found = index.resolve(encounter, f"location[{i}].location", rtypes=("Location",))
        if found is not None:
            seg[number] = _place(found, index)


# Location.physicalType -> PL component: bed, room, ward (point of care), level (floor), building, site.
_PL_PARTS = {"bd": 3, "ro": 2, "wa": 1, "lvl": 8, "bu": 7, "si": 4}


def _place(location: Found, index: ResourceIndex) -> str:
    """PL from a Location and its partOf chain (bed in room in ward ...), one component per level."""
    parts: list[str] = [""] * 9
    found: Found | None = location
    for _ in range(len(_PL_PARTS)):
        if found is None:
            break
        kind = (first_coding(found.res.get("physicalType")) or {}).get("code", "")
        slot = _PL_PARTS.get(kind, 1) - 1
        if not parts[slot]:
            parts[slot] = found.res.get("name", "")
        found = index.resolve(found, "partOf", rtypes=("Location",))
    parts[8] = location.res.get("description", "")
    facility = parts[3]
    return comps(*parts[:3], [facility] if facility else None, *parts[4:])


def pv2(encounter: Found | None) -> SegmentOut | None:
    """PV2-3 admit reason from Encounter.reasonCode, when there is one."""
    if encounter is None:
        return None
    reasons = encounter.res.get("reasonCode") or []
    reason = ce(reasons[0]) if reasons else ""
    if not reason:
        return None
    seg = SegmentOut("PV2")
    seg[3] = reason
    return seg

