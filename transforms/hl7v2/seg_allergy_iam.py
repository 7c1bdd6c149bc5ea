"""IAM (patient adverse reaction information: ADT_A60, ADT_A01/A05 ...) to AllergyIntolerance (US Core).

Follows the IG sheet IAM[AllergyIntolerance] row by row; where it says nothing (IAM-8 to IAM-10,
IAM-16, IAM-18 to IAM-26 and IAM-28 to IAM-30) nothing is mapped.  IAM-6 (action code) has no row
either, but a ``D`` (delete) IAM upserted as an active allergy would tell every downstream service
the patient still has it.  We treat it as the IG treats the same action code on a diagnosis
(DG1[Condition] DG1-21: ``D`` -> verificationStatus entered-in-error): the allergy is upserted on
its key as entered-in-error, without a clinicalStatus (FHIR ait-2), so the record is marked, not
lost.  AL1's helpers (seg_clinical) and the NK1 relationship map (seg_related) are shared, not copied.
"""

from __future__ import annotations

from hl7bridge.engine.errors import ParseError
from hl7bridge.transforms.fhir.profiles import profiled
from hl7bridge.transforms.hl7v2.codes import THO, V2, lookup
from hl7bridge.transforms.hl7v2.context import Ctx, practitioner_key
from hl7bridge.transforms.hl7v2.datatypes import Comps, cwe, dtm, xpn
from hl7bridge.transforms.hl7v2.message import Segment
from hl7bridge.transforms.hl7v2.seg_clinical import allergen_kind, identifier_of_ei
from hl7bridge.transforms.hl7v2.seg_related import contact_key, relationship_concepts

__all__ = ["allergy"]

_CLINICAL = THO + "allergyintolerance-clinical"
_VERIFICATION = THO + "allergyintolerance-verification"
_SEVERITY = "AllergySeverity[AllergyIntolerance.reaction.severity]"  # the map AL1-4 uses too


def allergy(ctx: Ctx, seg: Segment) -> None:
    """IAM -> AllergyIntolerance (US Core), upserted on IAM-7 (else on the patient and IAM-3)."""
    code = _allergen(ctx, seg)
    res = profiled({"resourceType": "AllergyIntolerance"}, "us-core-allergyintolerance")
    if ctx.leaf(seg, 6) == "D":  # see the module docstring
        res["verificationStatus"] = {"coding": [{"system": _VERIFICATION, "code": "entered-in-error"}]}
    else:
        res["clinicalStatus"] = _clinical_status(ctx, seg)
    allergen_kind(res, ctx.leaf(seg, 2))
    res["code"] = code
    ctx.subject(res, "patient")
    ident = identifier_of_ei(ctx, ctx.first(seg, 7))
    if ident:
        res["identifier"] = [ident]
    reaction = _reaction(ctx, seg)
    if reaction:
        res["reaction"] = [reaction]
    _onset(ctx, seg, res)
    recorded = dtm(ctx.leaf(seg, 13), ctx.tz, "IAM-13")
    if recorded:
        res["recordedDate"] = recorded
    recorder = _recorder(ctx, seg)
    if recorder:
        res["recorder"] = {"reference": recorder}
    ctx.bundle.add(res, _key(ctx, code, ident), ident)
    ctx.last = res  # a following NTE is a note on the allergy


def _allergen(ctx: Ctx, seg: Segment) -> dict:
    """IAM-3 is the code; IAM-27 (clinician identified code) adds its codings to it (IG rows 3 and 27)."""
    code = cwe(ctx.first(seg, 3), ctx.enc)
    if code is None:
        raise ParseError("required field IAM-3 (allergen) is empty", location="IAM-3", hl7_code=101)
    extra = cwe(ctx.first(seg, 27), ctx.enc)
    codings = code.setdefault("coding", [])
    for coding in (extra or {}).get("coding", []):
        if coding not in codings:
            codings.append(coding)
    if not codings:
        del code["coding"]
    return code


def _clinical_status(ctx: Ctx, seg: Segment) -> dict:
    """IG row 0 assigns ``active`` (constraint ait-1 needs a clinicalStatus); row 17 adds IAM-17 as sent.

    IAM-17 (HL7 table 0438: confirmed, suspect, erroneous ...) has no IG concept map, so its codings
    sit beside ``active``, which keeps the US Core required binding met.
    """
    status: dict = {"coding": [{"system": _CLINICAL, "code": "active"}]}
    sent = cwe(ctx.first(seg, 17), ctx.enc)
    if sent is None:
        return status
    codings = sent.get("coding", [])
    if codings and "system" not in codings[0] and not Comps(ctx.first(seg, 17), ctx.enc).c(3):
        codings[0] = {"system": V2 + "0438", **codings[0]}  # no coding system named: the field's own table
    status["coding"] += codings
    if "text" in sent:
        status["text"] = sent["text"]
    return status


def _reaction(ctx: Ctx, seg: Segment) -> dict | None:
    """IAM-5 -> reaction.manifestation (text, or the CWE when coded); IAM-4 its severity, as for AL1.

    A severity without a manifestation is dropped: reaction.manifestation is required.
    """
    manifestations = [m for m in (_manifestation(ctx, rep) for rep in ctx.reps(seg, 5)) if m]
    if not manifestations:
        return None
    reaction: dict = {"manifestation": manifestations}
    severity = lookup(_SEVERITY, ctx.leaf(seg, 4))
    if severity:
        reaction["severity"] = severity[0]
    return reaction


def _manifestation(ctx: Ctx, rep: str) -> dict | None:
    if ctx.enc.component in rep:  # sent as a CWE (IAM-5 is CWE from v2.5 on): the IG's CWE[CodeableConcept]
        return cwe(rep, ctx.enc)
    return {"text": ctx.enc.unescape(rep)}


def _onset(ctx: Ctx, seg: Segment, res: dict) -> None:
    """IAM-11 -> onsetDateTime; IAM-12 (onset text) -> onsetString only when IAM-11 is empty."""
    onset = dtm(ctx.leaf(seg, 11), ctx.tz, "IAM-11")
    if onset:
        res["onsetDateTime"] = onset
    elif ctx.first(seg, 12):
        res["onsetString"] = ctx.enc.unescape(ctx.first(seg, 12))


def _recorder(ctx: Ctx, seg: Segment) -> str | None:
    """IAM-14 reported by: the patient when IAM-15 is SEL, a RelatedPerson for another IAM-15
    relationship, else a Practitioner known by name only (IG rows 14 and 15)."""
    name = xpn(ctx.first(seg, 14), ctx.enc)
    if name is None:
        return None
    relation = ctx.leaf(seg, 15)
    if relation == "SEL":
        return ctx.patient
    if relation:
        return _related_person(ctx, seg, name)
    return _named_practitioner(ctx, name)


def _related_person(ctx: Ctx, seg: Segment, name: dict) -> str:
    res = profiled({"resourceType": "RelatedPerson", "active": True}, "us-core-relatedperson")
    ctx.subject(res, "patient")
    res["name"] = [name]
    relationship = relationship_concepts(ctx, ctx.first(seg, 15))
    if relationship:
        res["relationship"] = relationship
    return ctx.bundle.add(res, contact_key(ctx, name, ctx.leaf(seg, 15)))  # one RelatedPerson with NK1's


def _named_practitioner(ctx: Ctx, name: dict) -> str:
    """A Practitioner from an XPN: no identifier, so no US Core profile (it requires one)."""
    res = {"resourceType": "Practitioner", "name": [name]}
    return ctx.bundle.add(res, practitioner_key(None, name))


def _key(ctx: Ctx, code: dict, ident: dict | None) -> str:
    """IAM-7 (allergy unique identifier) when sent, else the key AL1 uses (patient + allergen code)."""
    if ident:
        return f"AllergyIntolerance|{ident.get('system', '')}|{ident['value']}"
    label = code.get("coding", [{}])[0].get("code", code.get("text", ""))
    return f"AllergyIntolerance|{ctx.patient_key}|{label}"
