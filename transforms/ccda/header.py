"""The C-CDA header: recordTarget -> Patient, author/custodian/performers -> Practitioner and
Organization, encompassingEncounter -> Encounter (CF Patient map, US Core 6.1 profiles)."""

from __future__ import annotations

from typing import Any

from hl7bridge.transforms.ccda import datatypes as dt
from hl7bridge.transforms.ccda.cda import Element, attr, find, find_all, is_null
from hl7bridge.transforms.ccda.context import Context, profiled

GENDER = {"M": "male", "F": "female", "UN": "other", "O": "other"}
OMB_RACE = {"1002-5", "2028-9", "2054-5", "2076-8", "2106-3", "2131-1"}
OMB_ETHNICITY = {"2135-2", "2186-5"}
RACE_SYSTEM = "urn:oid:2.16.840.1.113883.6.238"
US_CORE_EXT = "http://hl7.org/fhir/us/core/StructureDefinition/"


def _category_extension(name: str, codes: list[Element], omb: set[str]) -> dict[str, Any] | None:
    """us-core-race / us-core-ethnicity: OMB codes as ombCategory, others as detailed, plus text."""
    parts: list[dict[str, Any]] = []
    texts: list[str] = []
    for code in codes:
        value, display = code.get("code"), code.get("displayName")
        if code.get("nullFlavor"):
            texts.append("Unknown" if code.get("nullFlavor") in ("UNK", "ASKU") else "Not provided")
            continue
        if not value:
            continue
        slot = "ombCategory" if value in omb else "detailed"
        parts.append({"url": slot, "valueCoding": dt.compact({"system": RACE_SYSTEM, "code": value, "display": display})})
        texts.append(display or value)
    if not texts:
        return None
    parts.append({"url": "text", "valueString": ", ".join(texts)})
    return {"url": US_CORE_EXT + name, "extension": parts}


def _communication(patient: Element) -> list[dict[str, Any]]:
    result = []
    for lang in find_all(patient, "cda:languageCommunication"):
        code = attr(lang, "cda:languageCode", "code")
        if code:
            preferred = attr(lang, "cda:preferenceInd", "value")
            result.append(dt.compact({
                "language": {"coding": [{"system": "urn:ietf:bcp:47", "code": code}]},
                "preferred": preferred == "true" if preferred else None,
            }))
    return result


def _guardians(patient: Element) -> list[dict[str, Any]]:
    contacts = []
    for guardian in find_all(patient, "cda:guardian"):
        relation = dt.concept(find(guardian, "cda:code"))
        guard = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-RoleCode", "code": "GUARD"}]}
        contacts.append(dt.compact({
            "relationship": [guard, relation],
            "name": dt.human_name(find(guardian, "cda:guardianPerson/cda:name")),
            "telecom": dt.collect(find_all(guardian, "cda:telecom"), dt.telecom),
            "address": dt.address(find(guardian, "cda:addr")),
        }))
    return contacts


def patient(ctx: Context) -> dict[str, str]:
    role = find(ctx.root, "cda:recordTarget/cda:patientRole")
    person = find(role, "cda:patient")
    gender_el = find(person, "cda:administrativeGenderCode")
    gender = "unknown" if is_null(gender_el) else GENDER.get(gender_el.get("code", ""), "unknown")
    resource = {
        "resourceType": "Patient",
        "extension": [
            _category_extension("us-core-race", find_all(person, "cda:raceCode|sdtc:raceCode"), OMB_RACE),
            _category_extension("us-core-ethnicity", find_all(person, "cda:ethnicGroupCode|sdtc:ethnicGroupCode"),
                                OMB_ETHNICITY),
        ],
        "identifier": dt.identifiers(find_all(role, "cda:id")),
        "name": dt.collect(find_all(person, "cda:name"), dt.human_name),
        "telecom": dt.collect(find_all(role, "cda:telecom"), dt.telecom),
        "gender": gender,
        "birthDate": dt.ts_of(find(person, "cda:birthTime"), date_only=True),
        "address": dt.collect(find_all(role, "cda:addr"), dt.address),
        "maritalStatus": dt.concept(find(person, "cda:maritalStatusCode")),
        "contact": _guardians(person) if person is not None else [],
        "communication": _communication(person) if person is not None else [],
    }
    deceased = attr(person, "sdtc:deceasedInd", "value")
    if find(person, "sdtc:deceasedTime") is not None and dt.ts_of(find(person, "sdtc:deceasedTime")):
        resource["deceasedDateTime"] = dt.ts_of(find(person, "sdtc:deceasedTime"))
    elif deceased:
        resource["deceasedBoolean"] = deceased == "true"
    org = find(role, "cda:providerOrganization")
    if org is not None and not is_null(org):
        resource["managingOrganization"] = organization(ctx, org)
    resource = dt.compact(resource)
    if not resource.get("name"):
        # US Core requires a name; say why it is missing instead of inventing one.
        resource["name"] = [{"extension": [dt.absent(attr(person, "cda:name", "nullFlavor"))]}]
    ctx.patient_ref = ctx.add(profiled(resource, "us-core-patient"), role)
    return ctx.patient_ref


def organization(ctx: Context, org: Element) -> dict[str, str] | None:
    resource = dt.compact({
        "resourceType": "Organization",
        "identifier": dt.identifiers(find_all(org, "cda:id")),
        "name": " ".join(t.strip() for t in org.xpath("cda:name//text()", namespaces={"cda": "urn:hl7-org:v3"})) or None,
        "telecom": dt.collect(find_all(org, "cda:telecom"), dt.telecom),
        "address": dt.collect(find_all(org, "cda:addr"), dt.address),
    })
    if len(resource) == 1:
        return None
    # An organisation the document names (custodian, provider organisation, a performer's
    # organisation) is one that acts, so it is active: US Core requires the element, the IG's
    # providerOrganization example and the HL7v2 transforms say true, and CDA has no element that
    # could say an organisation has closed.
    resource["active"] = True
    return ctx.add(profiled(resource, "us-core-organization"), org, key=_org_key(resource, org))


def _org_key(resource: dict[str, Any], org: Element) -> str:
    ids = resource.get("identifier") or [{}]
    return f"Organization|{ids[0].get('system', '')}|{ids[0].get('value', '')}|{resource.get('name', '')}"


def practitioner(ctx: Context, assigned: Element | None) -> dict[str, str] | None:
    """assignedAuthor / assignedEntity with an assignedPerson -> Practitioner (devices are skipped)."""
    if assigned is None:
        return None
    person = find(assigned, "cda:assignedPerson|cda:informant/cda:relatedPerson")
    if person is None:
        return None
    resource = dt.compact({
        "resourceType": "Practitioner",
        "identifier": dt.identifiers(find_all(assigned, "cda:id")),
        "name": dt.collect(find_all(person, "cda:name"), dt.human_name),
        "telecom": dt.collect(find_all(assigned, "cda:telecom"), dt.telecom),
        "address": dt.collect(find_all(assigned, "cda:addr"), dt.address),
        "qualification": [{"code": dt.concept(find(assigned, "cda:code"))}],
    })
    if len(resource) == 1:
        return None
    names = resource.get("name") or [{}]
    ids = resource.get("identifier") or [{}]
    key = f"Practitioner|{ids[0].get('system', '')}|{ids[0].get('value', '')}|{names[0].get('family', '')}"
    return ctx.add(profiled(resource, *_practitioner_profiles(resource)), assigned, key=key)


def _practitioner_profiles(resource: dict[str, Any]) -> tuple[str, ...]:
    """us-core-practitioner only when the person has what it requires: identifiers with a system and
    a value, names with a family name. An identifier cannot carry data-absent-reason in their place
    (its system and value stay 1..1), and a bare ``<id/>`` or a given name alone is all some
    documents carry; the Practitioner is still made, without the claim."""
    ids, names = resource.get("identifier", []), resource.get("name", [])
    has_ids = bool(ids) and all(i.get("system") and i.get("value") for i in ids)
    has_names = bool(names) and all(n.get("family") for n in names)
    return ("us-core-practitioner",) if has_ids and has_names else ()


def authors(ctx: Context, element: Element | None) -> list[dict[str, str]]:
    refs = [practitioner(ctx, a) for a in find_all(element, "cda:author/cda:assignedAuthor")]
    return [r for r in refs if r]
