"""NK1 and the IN1 insured person to RelatedPerson and Patient.contact (IG NK1[RelatedPerson], NK1[Patient])."""

from __future__ import annotations

from hl7bridge.transforms.fhir.profiles import profiled
from hl7bridge.transforms.hl7v2.codes import lookup
from hl7bridge.transforms.hl7v2.context import Ctx
from hl7bridge.transforms.hl7v2.datatypes import Comps, cwe, date_of, dtm, table_concept, xad, xpn
from hl7bridge.transforms.hl7v2.message import Segment
from hl7bridge.transforms.hl7v2.seg_patient import add_identifier, bcp47_language, insurance_ids, telecom

__all__ = ["nk1", "insured", "mother", "insurance_extra", "relationship_concepts", "contact_key"]

_SSN = "http://hl7.org/fhir/sid/us-ssn"
_MOTHER = {"system": "http://terminology.hl7.org/CodeSystem/v3-RoleCode", "code": "MTH", "display": "mother"}


def contact_key(ctx: Ctx, name: dict, relationship: str) -> str:
    """The bundle key of a patient's contact (NK1, an IAM-14 reporter): one RelatedPerson per name and
    relationship code, wherever the message names them."""
    return f"RelatedPerson|{ctx.patient_key}|{name.get('family', '')}|{'.'.join(name.get('given', []))}|{relationship}"


def relationship_concepts(ctx: Ctx, text: str) -> list[dict]:
    """Every coding of a relationship CWE through the IG Relationship map (HL7 table 0063)."""
    concept = cwe(text, ctx.enc) if text else None
    out = []
    for coding in (concept or {}).get("coding", []):
        mapped = table_concept(coding.get("code", ""), "Relationship", "0063")
        if mapped:
            out.append(mapped)
    return out


def nk1(ctx: Ctx, seg: Segment) -> None:
    """NK1 -> RelatedPerson (US Core), also listed in Patient.contact."""
    if not ctx.patient:
        return
    res = profiled({"resourceType": "RelatedPerson", "active": True}, "us-core-relatedperson")
    res["patient"] = {"reference": ctx.patient}
    names = [n for n in (xpn(r, ctx.enc) for r in ctx.reps(seg, 2) + ctx.reps(seg, 30)) if n]
    if names:
        res["name"] = names
    relationship = relationship_concepts(ctx, ctx.first(seg, 3))
    role = table_concept(ctx.leaf(seg, 7), "ContactRole", "0131")
    if relationship or role:
        res["relationship"] = relationship + ([role] if role else [])
    addresses = [a for a in (xad(r, ctx.enc) for r in ctx.reps(seg, 4) + ctx.reps(seg, 32)) if a]
    if addresses:
        res["address"] = addresses
    points = (telecom(ctx, seg, 5, "home") + telecom(ctx, seg, 6, "work") + telecom(ctx, seg, 31, "")
              + telecom(ctx, seg, 40, "") + telecom(ctx, seg, 41, ""))
    if points:
        res["telecom"] = points
    gender = lookup("AdministrativeSex", ctx.leaf(seg, 15))
    if gender:
        res["gender"] = gender[0]
    born = dtm(ctx.leaf(seg, 16), ctx.tz, "NK1-16")
    if born:
        res["birthDate"] = date_of(born)
    start, end = dtm(ctx.leaf(seg, 8), ctx.tz, "NK1-8"), dtm(ctx.leaf(seg, 9), ctx.tz, "NK1-9")
    if start or end:
        res["period"] = {k: v for k, v in (("start", start), ("end", end)) if v}
    language = cwe(ctx.first(seg, 20), ctx.enc)
    if language:
        bcp47_language(language)
        res["communication"] = [{"language": language}]
    idents = [i for r in ctx.reps(seg, 12) + ctx.reps(seg, 33) if (i := ctx.identifier(r))]
    if ctx.leaf(seg, 37):
        idents.append({"system": _SSN, "value": ctx.leaf(seg, 37)})
    if idents:
        res["identifier"] = idents
    _contact(ctx, res, _contact_organization(ctx, seg))
    name = names[0] if names else {}
    ctx.bundle.add(res, contact_key(ctx, name, ctx.leaf(seg, 3)))
    ctx.last = res


def _contact_organization(ctx: Ctx, seg: Segment) -> str | None:
    """IG NK1[Patient]: NK1-13 is the contact's Organization; NK1-30/31/32 its contact person."""
    ref = ctx.organization(ctx.first(seg, 13)) if ctx.first(seg, 13) else None
    org = ctx.bundle.resource_of(ref)
    if org is not None and "contact" not in org:
        person: dict = {}
        name = xpn(ctx.first(seg, 30), ctx.enc)
        points = telecom(ctx, seg, 31, "")
        address = xad(ctx.first(seg, 32), ctx.enc)
        for key, value in (("name", name), ("telecom", points), ("address", address)):
            if value:
                person[key] = value
        if person:
            org["contact"] = [person]
    return ref


def _contact(ctx: Ctx, related: dict, organization: str | None = None) -> None:
    """IG NK1[Patient]: the next of kin is also listed in Patient.contact."""
    if ctx.patient_res is None:
        return
    contact = {k: related[k] for k in ("relationship", "telecom", "gender", "period") if k in related}
    for key in ("name", "address"):  # single-valued in Patient.contact
        if related.get(key):
            contact[key] = related[key][0]
    if organization:
        contact["organization"] = {"reference": organization}
    if contact:
        ctx.patient_res.setdefault("contact", []).append(contact)


def insured(ctx: Ctx, seg: Segment) -> str | None:
    """IN1-16..19 (insured person, when not the patient) -> RelatedPerson for Coverage.subscriber."""
    relation = ctx.leaf(seg, 17)
    if not ctx.patient or relation == "SEL" or lookup("Relationship", relation) is None:
        return None  # no typed relationship (HL7 table 0063), no subscriber to link
    names = [n for n in (xpn(r, ctx.enc) for r in ctx.reps(seg, 16)) if n]
    if not names:
        return None
    res = profiled({"resourceType": "RelatedPerson", "active": True}, "us-core-relatedperson")
    res["patient"] = {"reference": ctx.patient}
    res["name"] = names
    res["relationship"] = relationship_concepts(ctx, ctx.first(seg, 17))
    born = dtm(ctx.leaf(seg, 18), ctx.tz, "IN1-18")
    if born:
        res["birthDate"] = date_of(born)
    addresses = [a for a in (xad(r, ctx.enc) for r in ctx.reps(seg, 19)) if a]
    if addresses:
        res["address"] = addresses
    idents = [i for r in ctx.reps(seg, 49) if (i := ctx.identifier(r))]
    if idents:
        res["identifier"] = idents
    family = names[0].get("family", "")
    return ctx.bundle.add(res, f"RelatedPerson|{ctx.patient_key}|insured|{family}|{Comps(ctx.first(seg, 17), ctx.enc).c(1)}")


def mother(ctx: Ctx, seg: Segment) -> None:
    """PID-21 mother's identifier -> RelatedPerson, relationship MTH (IG CX[RelatedPerson-Mother])."""
    if not ctx.patient:
        return
    idents = [i for r in ctx.reps(seg, 21) if (i := ctx.identifier(r))]
    if not idents:
        return
    res = profiled({"resourceType": "RelatedPerson", "active": True}, "us-core-relatedperson")
    res["patient"] = {"reference": ctx.patient}
    res["identifier"] = idents
    res["relationship"] = [{"coding": [dict(_MOTHER)]}]
    ctx.bundle.add(res, f"RelatedPerson|{ctx.patient_key}|mother|{idents[0].get('system', '')}|{idents[0]['value']}")


def insurance_extra(ctx: Ctx, seg: Segment) -> None:
    """IN2 (no IG map): the patient's programme numbers onto the Patient; IN2-1 employee ids, IN2-2 SSN,
    IN2-34 language and IN2-63 home phone onto the insured RelatedPerson of the IN1 it follows."""
    insurance_ids(ctx, seg)
    person = _insured_of(ctx)
    if person is None:
        return
    for rep in ctx.reps(seg, 1):
        add_identifier(person, ctx.identifier(rep))
    ssn = ctx.leaf(seg, 2)
    if ssn:
        add_identifier(person, {"system": _SSN, "value": ssn,
                                "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "SS"}]}})
    language = cwe(ctx.first(seg, 34), ctx.enc)
    if language and "communication" not in person:
        bcp47_language(language)
        person["communication"] = [{"language": language}]
    points = [p for p in telecom(ctx, seg, 63, "home") if p not in person.get("telecom", [])]
    if points:
        person.setdefault("telecom", []).extend(points)


def _insured_of(ctx: Ctx) -> dict | None:
    """The RelatedPerson the preceding IN1's Coverage names as subscriber, if any."""
    coverage = ctx.last
    if coverage is None or coverage.get("resourceType") != "Coverage":
        return None
    ref = coverage.get("subscriber", {}).get("reference")
    found = ctx.bundle.resource_of(ref)
    return found if found is not None and found["resourceType"] == "RelatedPerson" else None
