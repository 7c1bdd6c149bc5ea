"""Code systems: HL7 table 0396 names to FHIR system URIs, and the IG concept maps."""

from __future__ import annotations

from hl7bridge.transforms.fhir.npi import US_NPI
from hl7bridge.transforms.hl7v2.tables import TABLES

__all__ = ["system_uri", "lookup", "LOCAL_BASE", "V2", "THO"]

THO = "http://terminology.hl7.org/CodeSystem/"
V2 = THO + "v2-"
LOCAL_BASE = "urn:hl7bridge:"

# HL7 table 0396 (coding systems) -> FHIR system, per the IG's "CodingSystem" map and
# terminology.hl7.org naming.
_SYSTEMS = {
    "LN": "http://loinc.org", "LOINC": "http://loinc.org", "SCT": "http://snomed.info/sct",
    "SNOMED": "http://snomed.info/sct", "SNOMEDCT": "http://snomed.info/sct", "SNM": "http://snomed.info/sct",
    "SCT2": "http://snomed.info/sct", "I10": "http://hl7.org/fhir/sid/icd-10", "ICD10": "http://hl7.org/fhir/sid/icd-10",
    "I10C": "http://hl7.org/fhir/sid/icd-10-cm", "ICD10CM": "http://hl7.org/fhir/sid/icd-10-cm",
    "I10P": "http://www.cms.gov/Medicare/Coding/ICD10", "I9": "http://hl7.org/fhir/sid/icd-9-cm",
    "I9C": "http://hl7.org/fhir/sid/icd-9-cm", "I9CM": "http://hl7.org/fhir/sid/icd-9-cm",
    "ICD9CM": "http://hl7.org/fhir/sid/icd-9-cm", "CVX": "http://hl7.org/fhir/sid/cvx",
    "MVX": THO + "MVX", "NDC": "http://hl7.org/fhir/sid/ndc", "RXNORM": "http://www.nlm.nih.gov/research/umls/rxnorm",
    "RXN": "http://www.nlm.nih.gov/research/umls/rxnorm", "UCUM": "http://unitsofmeasure.org",
    "C4": "http://www.ama-assn.org/go/cpt", "CPT": "http://www.ama-assn.org/go/cpt", "CPT4": "http://www.ama-assn.org/go/cpt",
    "HCPCS": "urn:oid:2.16.840.1.113883.6.285", "HCPT": "urn:oid:2.16.840.1.113883.6.14",
    "CDCREC": "urn:oid:2.16.840.1.113883.6.238", "NUCC": "http://nucc.org/provider-taxonomy",
    "NUCCPID": "http://nucc.org/provider-taxonomy", "ISO3166_1": "urn:iso:std:iso:3166",
    "ISO+": "urn:iso:std:iso:11073:10101", "ISO639": "urn:ietf:bcp:47", "NPI": US_NPI,
    "FDDC": "http://fdasis.nlm.nih.gov", "UNII": "http://fdasis.nlm.nih.gov", "UPC": "urn:oid:2.16.840.1.113883.6.123",
    "DCM": "http://dicom.nema.org/resources/ontology/DCM", "NCI": "http://ncimeta.nci.nih.gov",
    "UML": "http://www.nlm.nih.gov/research/umls", "HL7CVX": "http://hl7.org/fhir/sid/cvx",
    "PHINQUESTION": "urn:oid:2.16.840.1.114222.4.5.232", "NCPDP": "urn:oid:2.16.840.1.113883.6.68",
    "ICDO": THO + "icd-o",  # ICD for Oncology, OID 2.16.840.1.113883.6.43 (THO, retired but still the URI)
}


def system_uri(name: str) -> str | None:
    """FHIR system for a CWE coding-system name (``LN``, ``HL70004``, an OID, a URI) or None."""
    if not name:
        return None
    known = _SYSTEMS.get(name) or _SYSTEMS.get(name.upper())
    if known:
        return known
    upper = name.upper()
    if upper.startswith("HL7") and upper[3:].isdigit() and len(upper) == 7:
        return V2 + upper[3:]
    if upper.startswith("99") or upper.startswith("L") and len(upper) <= 4:
        return LOCAL_BASE + "codesystem:" + name
    if _is_oid(name):
        return "urn:oid:" + name
    if name.startswith(("http://", "https://", "urn:")):
        return name
    return LOCAL_BASE + "codesystem:" + name


def _is_oid(text: str) -> bool:
    return "." in text and all(part.isdigit() for part in text.split("."))


# Table 0203 codes newer than the IG's IdentifierType map (which also lists NNxxx, national numbers by country).
_V2_0203_UNMAPPED = frozenset(("PLAC", "FILL", "SB", "PGN", "FGN"))


def identifier_type(code: str) -> dict:
    """CX.5 / XCN.13 -> Identifier.type through the IG's IdentifierType map: a table 0203 code keeps its
    system (and display); a local code (``MRN``, ``NHSNMBR``) is a bare code, never claimed for v2-0203."""
    hit = TABLES["IdentifierType"].get(code)
    if hit is not None:
        return {"coding": [{"system": hit[2], "code": hit[0], "display": hit[1]}]}
    if code in _V2_0203_UNMAPPED or (len(code) == 5 and code.startswith("NN") and code[2:].isalpha()):
        return {"coding": [{"system": V2 + "0203", "code": code}]}  # in table 0203, not in the IG's map
    return {"coding": [{"code": code}]}


def lookup(table: str, code: str) -> tuple[str, str, str] | None:
    """The IG concept map ``table``: v2 code -> (code, display, system), or None when unmapped."""
    return TABLES[table].get(code)

