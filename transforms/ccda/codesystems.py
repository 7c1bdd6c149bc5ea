"""Code system OIDs and their FHIR URIs, both ways (C-CDA on FHIR, FHIR terminology pages).

An OID without a known URI becomes ``urn:oid:<oid>`` and back, as the datatype map says.
"""

from __future__ import annotations

from hl7bridge.transforms.fhir.npi import NPI_OID, US_NPI

OID_TO_URI: dict[str, str] = {
    "2.16.840.1.113883.6.1": "http://loinc.org",
    "2.16.840.1.113883.6.96": "http://snomed.info/sct",
    "2.16.840.1.113883.6.88": "http://www.nlm.nih.gov/research/umls/rxnorm",
    "2.16.840.1.113883.12.292": "http://hl7.org/fhir/sid/cvx",
    "2.16.840.1.113883.6.59": "http://hl7.org/fhir/sid/cvx",  # the older CVX OID, still in examples
    "2.16.840.1.113883.6.69": "http://hl7.org/fhir/sid/ndc",
    "2.16.840.1.113883.6.12": "http://www.ama-assn.org/go/cpt",
    "2.16.840.1.113883.6.90": "http://hl7.org/fhir/sid/icd-10-cm",
    "2.16.840.1.113883.6.103": "http://hl7.org/fhir/sid/icd-9-cm",
    "2.16.840.1.113883.6.4": "http://www.cms.gov/Medicare/Coding/ICD10",
    "2.16.840.1.113883.6.8": "http://unitsofmeasure.org",
    "2.16.840.1.113883.6.101": "http://nucc.org/provider-taxonomy",
    "2.16.840.1.113883.5.1": "http://terminology.hl7.org/CodeSystem/v3-AdministrativeGender",
    "2.16.840.1.113883.5.2": "http://terminology.hl7.org/CodeSystem/v3-MaritalStatus",
    "2.16.840.1.113883.5.4": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
    "2.16.840.1.113883.5.6": "http://terminology.hl7.org/CodeSystem/v3-ActClass",
    "2.16.840.1.113883.5.25": "http://terminology.hl7.org/CodeSystem/v3-Confidentiality",
    "2.16.840.1.113883.5.83": "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation",
    "2.16.840.1.113883.5.111": "http://terminology.hl7.org/CodeSystem/v3-RoleCode",
    "2.16.840.1.113883.5.1008": "http://terminology.hl7.org/CodeSystem/v3-NullFlavor",
    "2.16.840.1.113883.5.1063": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue",
    "2.16.840.1.113883.5.112": "http://terminology.hl7.org/CodeSystem/v3-RouteOfAdministration",
    "2.16.840.1.113883.5.8": "http://terminology.hl7.org/CodeSystem/v3-ActReason",
    "2.16.840.1.113883.5.60": "http://terminology.hl7.org/CodeSystem/v3-LanguageAbilityMode",
    "2.16.840.1.113883.5.61": "http://terminology.hl7.org/CodeSystem/v3-LanguageAbilityProficiency",
    "2.16.840.1.113883.12.112": "http://terminology.hl7.org/CodeSystem/v2-0112",
    "2.16.840.1.113883.4.642.3.1009": "http://hl7.org/fhir/ValueSet/allergyintolerance-category",
}

# Identifier namespaces (II roots) that have a FHIR system URI (an NPI only when valid: datatypes.identifier).
ID_ROOT_TO_URI: dict[str, str] = {
    NPI_OID: US_NPI,
    "2.16.840.1.113883.4.1": "http://hl7.org/fhir/sid/us-ssn",
}

URI_TO_OID: dict[str, str] = {uri: oid for oid, uri in {**OID_TO_URI, **ID_ROOT_TO_URI}.items()}
# A few systems spelled more than one way in the wild.
URI_TO_OID.update({
    "http://hl7.org/fhir/sid/cvx": "2.16.840.1.113883.12.292",
    "http://www.ama-assn.org/go/cpt": "2.16.840.1.113883.6.12",
    "urn:oid:2.16.840.1.113883.6.1": "2.16.840.1.113883.6.1",
    "http://terminology.hl7.org/CodeSystem/v2-0203": "2.16.840.1.113883.18.108",
    "http://terminology.hl7.org/CodeSystem/observation-category": "2.16.840.1.113883.4.642.1.1125",
    "http://terminology.hl7.org/CodeSystem/condition-category": "2.16.840.1.113883.4.642.1.1073",
    "http://terminology.hl7.org/CodeSystem/v2-0078": "2.16.840.1.113883.12.78",
    "http://terminology.hl7.org/CodeSystem/v2-0001": "2.16.840.1.113883.12.1",
    "http://terminology.hl7.org/CodeSystem/v2-0004": "2.16.840.1.113883.12.4",
})


def system_for_oid(oid: str | None) -> str | None:
    """FHIR system URI for a code system OID (``urn:oid:`` when none is known)."""
    if not oid:
        return None
    return OID_TO_URI.get(oid) or f"urn:oid:{oid}"


def oid_for_system(system: str | None) -> str | None:
    """Code system OID for a FHIR system URI, or None when it has no OID we know."""
    if not system:
        return None
    if system in URI_TO_OID:
        return URI_TO_OID[system]
    if system.startswith("urn:oid:"):
        return system[len("urn:oid:"):]
    return None
