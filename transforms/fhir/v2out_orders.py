"""ServiceRequest / DiagnosticReport -> ORC + OBR (+ NTE) (IG ORC[ServiceRequest], OBR[ServiceRequest],
OBR[DiagnosticReport] read in reverse).

Placer and filler order numbers come from identifiers typed PLAC / FILL (v2-0203); an untyped
identifier counts as the placer's on a ServiceRequest and the filler's on a DiagnosticReport.
"""

from __future__ import annotations

from hl7bridge.engine.errors import TransformError
from hl7bridge.transforms.fhir.v2out_bundle import Found, ResourceIndex
from hl7bridge.transforms.fhir.v2out_er7 import SegmentOut, Version, comps, dtm, reps
from hl7bridge.transforms.fhir.v2out_patient import practitioner_xcn
from hl7bridge.transforms.fhir.v2out_results import notes
from hl7bridge.transforms.fhir.v2out_types import ce, ei, first_coding, type_code, v2_code
from hl7bridge.transforms.hl7v2.codes import V2

__all__ = ["order_segments", "order_numbers"]

# ServiceRequest.status -> ORC-1 order control for a new-order message.
_CONTROL = {"active": "NW", "draft": "NW", "unknown": "NW", "on-hold": "HD", "revoked": "CA",
            "entered-in-error": "CA", "completed": "SC"}
# DiagnosticReport.status -> OBR-25 (HL7 table 0123).
_RESULT_STATUS = {"registered": "I", "partial": "R", "preliminary": "P", "final": "F", "amended": "C",
                  "corrected": "C", "appended": "C", "cancelled": "X", "entered-in-error": "X"}
_PRIORITY = {"stat": "S", "asap": "A", "routine": "R", "urgent": "T"}
# US Core note categories (LOINC parts) -> OBR-24 diagnostic service section (HL7 table 0074).
_SECTIONS = {"LP29684-5": "RAD", "LP29708-2": "CUS", "LP7839-6": "SP"}


def order_numbers(*sources: Found | None) -> tuple[dict | None, dict | None]:
    """(placer, filler) Identifiers from the first source that has each."""
    placer = filler = None
    for found in sources:
        if found is None:
            continue
        idents = [i for i in found.res.get("identifier") or [] if isinstance(i, dict) and i.get("value")]
        typed = {type_code(i.get("type")): i for i in reversed(idents)}
        untyped = next((i for i in idents if not type_code(i.get("type"))), None)
        is_request = found.rtype == "ServiceRequest"
        placer = placer or typed.get("PLAC") or (untyped if is_request else None)
        filler = filler or typed.get("FILL") or (None if is_request else untyped)
    return placer, filler


def order_segments(sr: Found | None, dr: Found | None, set_id: int, kind: str, index: ResourceIndex,
                   version: Version) -> list[SegmentOut]:
    """ORC, [TQ1,] OBR and the order's NTEs for message type ``kind`` (ORU: order control RE, report fields)."""
    results = kind == "ORU^R01"
    placer, filler = order_numbers(sr, dr)
    orc = _orc(sr, placer, filler, results, index, version)
    obr = SegmentOut("OBR")
    obr[1] = str(set_id)
    obr[2], obr[3] = orc[2], orc[3]
    code_owner = dr if results and dr is not None else sr
    obr[4] = ce(code_owner.res.get("code")) if code_owner is not None else ""
    if not obr[4] and code_owner is not None:
        raise TransformError("no code for the order (OBR-4 is required)", location=code_owner.loc + ".code")
    obr[16] = orc[12]
    if sr is not None:
        _request_fields(obr, sr)
    if dr is not None:
        _report_fields(obr, dr)
    # TQ1 exists from 2.5, in OML_O21 after ORC and in ORU_R01 after the OBR and its notes;
    # ORM_O01 (kept for backward compatibility) has none, OBR-27 carries the priority there.
    timing = _tq1(sr) if sr is not None and version.at_least("2.5") and kind != "ORM^O01" else None
    out = [orc] + ([timing] if timing and not results else []) + [obr]
    if sr is not None:
        out += notes(sr.res.get("note"))
    return out + ([timing] if timing and results else [])


def _tq1(sr: Found) -> SegmentOut | None:
    """TQ1 (2.5 and later): TQ1-7/8 from occurrence[x], TQ1-9 priority (table 0485)."""
    res = sr.res
    period = res.get("occurrencePeriod") if isinstance(res.get("occurrencePeriod"), dict) else {}
    seg = SegmentOut("TQ1")
    seg[7] = dtm(res.get("occurrenceDateTime") or period.get("start"), sr.loc + ".occurrence[x]")
    seg[8] = dtm(period.get("end"), sr.loc + ".occurrencePeriod.end")
    seg[9] = comps(_PRIORITY.get(res.get("priority") or ""))
    if not seg.fields:
        return None
    seg[1] = "1"
    return seg


def _orc(sr: Found | None, placer: dict | None, filler: dict | None, results: bool, index: ResourceIndex,
         version: Version) -> SegmentOut:
    seg = SegmentOut("ORC")
    status = sr.res.get("status") if sr is not None else None
    seg[1] = "RE" if results else _CONTROL.get(status or "active", "NW")
    seg[2], seg[3] = ei(placer), ei(filler)
    if sr is not None:
        requisition = sr.res.get("requisition")
        seg[4] = ei(requisition if isinstance(requisition, dict) else None)
        if results or status != "active":
            seg[5] = v2_code("OrderStatus", status)
        seg[9] = dtm(sr.res.get("authoredOn"), sr.loc + ".authoredOn")
        seg[12] = practitioner_xcn(sr, "requester", index, version)
    return seg


def _request_fields(obr: SegmentOut, sr: Found) -> None:
    res = sr.res
    obr[6] = dtm(res.get("occurrenceDateTime"), sr.loc + ".occurrenceDateTime")
    priority = _PRIORITY.get(res.get("priority") or "")
    if priority:
        # OBR-27 is kept for backward compatibility from 2.5 (TQ1 carries it too), and it is the
        # only place before 2.5.
        obr[27] = comps(None, None, None, None, None, priority)
    obr[31] = reps(ce(c) for c in res.get("reasonCode") or [])


def _report_fields(obr: SegmentOut, dr: Found) -> None:
    res = dr.res
    period = res.get("effectivePeriod") if isinstance(res.get("effectivePeriod"), dict) else {}
    obr[7] = dtm(res.get("effectiveDateTime") or period.get("start"), dr.loc + ".effective[x]")
    obr[8] = dtm(period.get("end"), dr.loc + ".effectivePeriod.end")
    obr[22] = dtm(res.get("issued"), dr.loc + ".issued")
    obr[24] = _section(res.get("category") or [])
    obr[25] = _RESULT_STATUS.get(res.get("status") or "", "")
    # "unknown" is what an empty OBR-25 became on the way in: it goes back out empty, not invented
    if not obr[25] and res.get("status") != "unknown":
        raise TransformError("DiagnosticReport.status has no HL7 table 0123 equivalent",
                             location=dr.loc + ".status")


def _section(categories: list) -> str:
    codes = [c for c in (first_coding(cat, V2 + "0074") for cat in categories) if c]
    for coding in codes:
        if coding.get("system") == V2 + "0074" and coding["code"] != "LAB":
            return comps(coding["code"])
        if coding["code"] in _SECTIONS:
            return _SECTIONS[coding["code"]]
    return "LAB" if codes else ""
