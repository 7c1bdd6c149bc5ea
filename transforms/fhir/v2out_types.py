"""FHIR datatypes to HL7 v2 datatypes (the IG datatype maps read right to left).

Identifier -> CX / EI, HumanName -> XPN, Address -> XAD, ContactPoint -> XTN,
CodeableConcept / Coding -> CE, Practitioner -> XCN, system URI -> HD and coding-system name.
Each function returns escaped ER7 text for one repetition ('' when nothing is valued).
"""

from __future__ import annotations

import re

from hl7bridge.transforms.fhir.v2out_er7 import Version, comps, dtm
from hl7bridge.transforms.hl7v2.codes import LOCAL_BASE, V2
from hl7bridge.transforms.hl7v2.tables import TABLES

__all__ = ["hd", "cx", "ei", "xpn", "xad", "xtn", "ce", "xcn", "coding_system", "v2_code", "first_coding",
           "type_code", "NPI", "SSN", "SSN_OID", "NPI_OID"]

NPI = "http://hl7.org/fhir/sid/us-npi"
SSN = "http://hl7.org/fhir/sid/us-ssn"
NPI_OID = "2.16.840.1.113883.4.6"
SSN_OID = "2.16.840.1.113883.4.1"
_LOCAL_ID = LOCAL_BASE + "id:"
_LOCAL_CS = LOCAL_BASE + "codesystem:"

# FHIR system -> HL7 table 0396 name; the reverse of the names hl7v2_to_fhir reads.
_SYSTEM_NAMES = {
    "http://loinc.org": "LN", "http://snomed.info/sct": "SCT", "http://hl7.org/fhir/sid/icd-10": "I10",
    "http://hl7.org/fhir/sid/icd-10-cm": "I10C", "http://www.cms.gov/Medicare/Coding/ICD10": "I10P",
    "http://hl7.org/fhir/sid/icd-9-cm": "I9CM", "http://hl7.org/fhir/sid/cvx": "CVX",
    "http://terminology.hl7.org/CodeSystem/MVX": "MVX", "http://hl7.org/fhir/sid/ndc": "NDC",
    "http://www.nlm.nih.gov/research/umls/rxnorm": "RXNORM", "http://unitsofmeasure.org": "UCUM",
    "http://www.ama-assn.org/go/cpt": "C4", "urn:oid:2.16.840.1.113883.6.238": "CDCREC",
    "http://nucc.org/provider-taxonomy": "NUCC", "urn:ietf:bcp:47": "ISO639",
    "http://dicom.nema.org/resources/ontology/DCM": "DCM", "urn:oid:2.16.840.1.113883.6.285": "HCPCS",
}

# FHIR codes that several v2 codes map onto: which v2 code to send back.
_PREFERRED = {
    "NameType": {"official": "L", "temp": "TEMP"},
    "ObservationResultStatusCodesInterpretation": {"amended": "C", "entered-in-error": "W"},
    "ResultStatus[Non-Queries]": {"registered": "I"},
    "TelecommunicationEquipmentType": {"mobile": "CP", "other": "PH"},
}
_REVERSED: dict[str, dict[str, str]] = {}


def v2_code(table: str, fhir_code: str | None) -> str:
    """The v2 code that the IG concept map ``table`` maps onto ``fhir_code`` ('' when none)."""
    if not fhir_code:
        return ""
    reverse = _REVERSED.get(table)
    if reverse is None:
        reverse = {}
        for v2, (code, _display, _system) in TABLES[table].items():
            reverse.setdefault(code, v2)  # the map is many-to-one: the first v2 code is the plain one
        reverse.update(_PREFERRED.get(table, {}))
        _REVERSED[table] = reverse
    return reverse.get(fhir_code, "")


def coding_system(system: str | None) -> str:
    """FHIR code system URI -> CE-3 name (table 0396, HL7nnnn, a local name, an OID, else the URI)."""
    if not system:
        return ""
    name = _SYSTEM_NAMES.get(system)
    if name:
        return name
    if system.startswith(V2) and system[len(V2):].isdigit():
        return "HL7" + system[len(V2):]
    if system.startswith(_LOCAL_CS):
        return system[len(_LOCAL_CS):]
    if system.startswith("urn:oid:"):
        return system[8:]
    return system


def hd(system: str | None, namespace: str = "") -> list[str]:
    """System URI -> HD subcomponents [namespace, universal id, universal id type]."""
    if not system:
        return [namespace] if namespace else []
    if system.startswith("urn:oid:"):
        return [namespace, system[8:], "ISO"]
    if system.startswith("urn:uuid:"):
        return [namespace, system[9:], "UUID"]
    if system.startswith(_LOCAL_ID):
        return [namespace or system[len(_LOCAL_ID):]]
    return [namespace, system, "URI"]


def type_code(concept: dict | None) -> str:
    """The v2-0203 (or first) code of an Identifier.type."""
    coding = first_coding(concept, V2 + "0203")
    return (coding or {}).get("code", "") if isinstance(coding, dict) else ""


def first_coding(concept: object, prefer_system: str = "") -> dict | None:
    """A CodeableConcept's coding with ``prefer_system`` if any, else its first coding."""
    if not isinstance(concept, dict):
        return None
    codings = [c for c in concept.get("coding") or [] if isinstance(c, dict) and c.get("code")]
    preferred = [c for c in codings if c.get("system") == prefer_system] if prefer_system else []
    return (preferred or codings or [None])[0]


def _authority(ident: dict) -> tuple[list[str], str]:
    """HD and identifier type for an Identifier, with the well-known US numbers named."""
    system, kind = ident.get("system") or "", type_code(ident.get("type"))
    assigner = ident.get("assigner") or {}
    namespace = assigner.get("display", "") if isinstance(assigner, dict) else ""
    if system == SSN:
        return hd("urn:oid:" + SSN_OID, namespace), kind or "SS"
    if system == NPI:
        return hd("urn:oid:" + NPI_OID, namespace), kind or "NPI"
    return hd(system, namespace), kind


def cx(ident: dict, version: Version) -> str:
    """Identifier -> CX: id^^^authority^type[^^effective^expiration]."""
    value = ident.get("value")
    if not value:
        return ""
    authority, kind = _authority(ident)
    parts: list = [value, None, None, authority, kind]
    period = ident.get("period") or {}
    if version.cx_dates and period:
        parts += [None, dtm(period.get("start"), "Identifier.period")[:8],
                  dtm(period.get("end"), "Identifier.period")[:8]]
    return comps(*parts)


def ei(ident: dict | None) -> str:
    """Identifier -> EI: id^namespace^universal id^type."""
    if not ident or not ident.get("value"):
        return ""
    authority, _kind = _authority(ident)
    authority += [""] * (3 - len(authority))
    return comps(ident["value"], *authority)


def xpn(name: dict, version: Version) -> str:
    """HumanName -> XPN: family^given^further given^suffix^prefix^degree^type[...^professional suffix]."""
    given = [g for g in name.get("given") or [] if g]
    suffix = [s for s in name.get("suffix") or [] if s]
    prefix = [p for p in name.get("prefix") or [] if p]
    family = name.get("family") or ("" if given else name.get("text", ""))
    if not family and not given:
        return ""
    extra_suffix = " ".join(suffix[1:])
    parts: list = [family, given[0] if given else "", " ".join(given[1:]), suffix[0] if suffix else "",
                   " ".join(prefix), "" if version.xpn_professional_suffix else extra_suffix,
                   v2_code("NameType", name.get("use"))]
    if version.xpn_professional_suffix and extra_suffix:
        parts += [None] * 6 + [extra_suffix]
    return comps(*parts)


def xad(address: dict) -> str:
    """Address -> XAD: street^other^city^state^zip^country^type^^county."""
    lines = [line for line in address.get("line") or [] if line]
    kind = v2_code("AddressType[Use]", address.get("use"))
    if not kind and address.get("type") == "postal":
        kind = "M"
    parts = [lines[0] if lines else "", ", ".join(lines[1:]), address.get("city", ""), address.get("state", ""),
             address.get("postalCode", ""), address.get("country", ""), kind, None, address.get("district", "")]
    if not any(parts[:6]) and not parts[8]:
        return ""
    return comps(*parts)


# hl7v2_to_fhir writes a structured number as "+CC (AREA) LOCAL[ ext. N]": read it back apart.
_PHONE = re.compile(r"^\+(\d{1,3}) \((\d{1,5})\) (\S+)(?: ext\. (\d+))?$")
_USE = {"home": "PRN", "work": "WPN", "mobile": "PRS", "temp": "ORN", "old": "ORN"}
_EQUIPMENT = {"phone": "PH", "fax": "FX", "pager": "BP", "email": "Internet", "other": "PH", "sms": "CP"}


def xtn(point: dict, version: Version) -> str:
    """ContactPoint -> XTN: number^use^equipment^email^country^area^local^extension."""
    value, system, use = point.get("value") or "", point.get("system") or "phone", point.get("use") or ""
    if not value:
        return ""
    if system in ("email", "url"):
        return comps(None, "NET", "Internet", value)  # XTN-4 is the network address
    equipment = "CP" if use == "mobile" and system == "phone" else _EQUIPMENT.get(system, "PH")
    match = _PHONE.match(value)
    if match is None:
        return comps(value, _USE.get(use, ""), equipment)
    country, area, local, extension = match.groups()
    # XTN-1 is TN before 2.5 ("(999)999-9999X99"), free text from 2.5.
    number = value if version.at_least("2.5") else f"({area}){local}" + (f"X{extension}" if extension else "")
    if not local.isdigit():
        return comps(number, _USE.get(use, ""), equipment)  # XTN-5..8 are NM: only all-digit parts go there
    return comps(number, _USE.get(use, ""), equipment, None, country, area, local, extension or "")


def ce(concept: object, prefer_system: str = "") -> str:
    """CodeableConcept (or Coding) -> CE: code^display^system[^alt code^alt display^alt system]."""
    if not isinstance(concept, dict):
        return ""
    codings = [concept] if "code" in concept and "coding" not in concept else \
        [c for c in concept.get("coding") or [] if isinstance(c, dict) and c.get("code")]
    if prefer_system:
        codings.sort(key=lambda c: c.get("system") != prefer_system)
    text = concept.get("text", "")
    if not codings:
        return comps(None, text) if text else ""
    parts: list = []
    for coding in codings[:2]:
        parts += [coding["code"], coding.get("display") or (text if not parts else ""),
                  coding_system(coding.get("system"))]
    return comps(*parts)


def xcn(practitioner: dict, version: Version) -> str:
    """Practitioner -> XCN: id^family^given^further given^suffix^prefix^degree^^authority^type^^^id type."""
    idents = [i for i in practitioner.get("identifier") or [] if isinstance(i, dict) and i.get("value")]
    ident = next((i for i in idents if i.get("system") == NPI), idents[0] if idents else None)
    names = [n for n in practitioner.get("name") or [] if isinstance(n, dict)]
    name = next((n for n in names if n.get("use") in (None, "official", "usual")), names[0] if names else {})
    given, suffix = name.get("given") or [], name.get("suffix") or []
    authority, kind = _authority(ident) if ident else ([], "")
    parts: list = [ident["value"] if ident else "", name.get("family", ""), given[0] if given else "",
                   " ".join(given[1:]), suffix[0] if suffix else "", " ".join(name.get("prefix") or []),
                   " ".join(suffix[1:]), None, authority, v2_code("NameType", name.get("use")), None, None, kind]
    return comps(*parts)
