"""OBR -> the DiagnosticReport of a result message (IG OBR[DiagnosticReport]); seg_results adds its OBX."""

from __future__ import annotations

from hl7bridge.transforms.fhir.profiles import profiled
from hl7bridge.transforms.hl7v2.codes import V2, lookup
from hl7bridge.transforms.hl7v2.context import Ctx
from hl7bridge.transforms.hl7v2.datatypes import dtm, instant, ndl_person, put_time
from hl7bridge.transforms.hl7v2.message import Segment
from hl7bridge.transforms.hl7v2.seg_order_identity import order_key

__all__ = ["report"]

_NOTE_CATEGORY = {  # OBR-24 (HL7 table 0074) sections reported as notes rather than lab results
    "RAD": ("LP29684-5", "Radiology"), "CT": ("LP29684-5", "Radiology"), "NMR": ("LP29684-5", "Radiology"),
    "NMS": ("LP29684-5", "Radiology"), "RUS": ("LP29684-5", "Radiology"), "VUS": ("LP29684-5", "Radiology"),
    "XRC": ("LP29684-5", "Radiology"), "CUS": ("LP29708-2", "Cardiology"), "EC": ("LP29708-2", "Cardiology"),
    "CTH": ("LP29708-2", "Cardiology"), "SP": ("LP7839-6", "Pathology"), "CP": ("LP7839-6", "Pathology"),
}
_REPORTED = frozenset(("partial", "preliminary", "final", "amended", "corrected", "appended"))


def report(ctx: Ctx, seg: Segment, code: dict, idents: list[dict], sr_ref: str, create_only: bool = False) -> None:
    """The DiagnosticReport of an OBR in a result message, based on its order ``sr_ref``; kept in ``ctx.group``."""
    res: dict = {"resourceType": "DiagnosticReport"}
    if idents:
        res["identifier"] = [dict(i) for i in idents]
    res["basedOn"] = [{"reference": sr_ref}]
    status = lookup("ResultStatus[Non-Queries]", ctx.leaf(seg, 25))
    # OBR-25 is required; an empty one is the sender's error (IG OBR[DiagnosticReport] row 33), and
    # claiming "final" for it would tell downstream services the results were verified.
    res["status"] = status[0] if status else "unknown"
    section = ctx.leaf(seg, 24)
    note = _NOTE_CATEGORY.get(section)
    if note:
        profiled(res, "us-core-diagnosticreport-note")
        res["category"] = [{"coding": [{"system": "http://loinc.org", "code": note[0], "display": note[1]}]}]
    else:
        profiled(res, "us-core-diagnosticreport-lab")
        res["category"] = [{"coding": [{"system": V2 + "0074", "code": "LAB", "display": "Laboratory"}]}]
        if section and section != "LAB":
            res["category"].append({"coding": [{"system": V2 + "0074", "code": section}]})
    res["code"] = code
    ctx.subject(res, required=False)
    if ctx.encounter:
        res["encounter"] = {"reference": ctx.encounter}
    start = dtm(ctx.leaf(seg, 7), ctx.tz, "OBR-7")
    end = dtm(ctx.leaf(seg, 8), ctx.tz, "OBR-8")
    put_time(res, "effective", start, end)
    issued = instant(dtm(ctx.leaf(seg, 22), ctx.tz, "OBR-22"))
    if issued:
        res["issued"] = issued
    if res["status"] in _REPORTED and not (start and (issued or note)):
        del res["meta"]  # US Core us-core-8/9/10: a reported result needs OBR-7 (and a lab one OBR-22) to claim it
    interpreter = _ndl_practitioner(ctx, ctx.first(seg, 32))
    if interpreter:
        res["resultsInterpreter"] = [{"reference": interpreter}]
    key, ident = order_key(ctx, "DiagnosticReport", idents, f"{code.get('coding', [{}])[0].get('code', '')}|{start}")
    ctx.group["dr"] = res
    ctx.group["dr_ref"] = ctx.bundle.add(res, key, ident, create_only=create_only)
    ctx.group["dr_key"] = key


def _ndl_practitioner(ctx: Ctx, text: str) -> str | None:
    """The NDL's person (see datatypes.ndl_person) through the practitioner builder."""
    if not text:
        return None
    return ctx.practitioner(ndl_person(text, ctx.enc)[0])
