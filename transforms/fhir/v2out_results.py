"""Observation -> OBX (+ NTE) (IG OBX[Observation] read in reverse).

value[x] picks OBX-2: Quantity NM (SN with a comparator), string ST (TX when long or multi-line),
CodeableConcept CE/CWE, Range / Ratio SN, dateTime TS/DTM, integer NM, boolean CE/CWE (HL7 table
0136), time TM.  A value[x] with no v2 equivalent is an error, never silently dropped.
"""

from __future__ import annotations

from decimal import Decimal

from hl7bridge.engine.errors import TransformError
from hl7bridge.transforms.fhir.v2out_bundle import Found, ResourceIndex
from hl7bridge.transforms.fhir.v2out_er7 import SegmentOut, Version, comps, dtm, esc, reps
from hl7bridge.transforms.fhir.v2out_patient import practitioner_xcn
from hl7bridge.transforms.fhir.v2out_types import ce, coding_system, first_coding

__all__ = ["observation_segments", "notes", "number"]

_ST_MAX = 199  # longer text goes as TX
_STATUS = {"final": "F", "preliminary": "P", "corrected": "C", "amended": "C", "entered-in-error": "W",
           "cancelled": "X", "registered": "I",
           # No table 0085 code means "unknown"; R (entered, not verified) never claims a final result.
           "unknown": "R"}
_MAX_DEPTH = 4  # hasMember nesting we follow (panels of panels)


def number(value: object, loc: str) -> str:
    """A JSON number as HL7 NM text (never in exponent form)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TransformError("expected a number", location=loc)
    if isinstance(value, int):
        return str(value)
    text = format(Decimal(repr(value)), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def observation_segments(obs: Found, index: ResourceIndex, version: Version, counter: list[int],
                         depth: int = 0) -> list[SegmentOut]:
    """OBX segments (and their NTEs) for one Observation; a valueless panel gives its members'."""
    res = obs.res
    members = res.get("hasMember") or []
    has_value = any(k.startswith("value") for k in res) or "dataAbsentReason" in res
    out: list[SegmentOut] = []
    if members and not has_value and depth < _MAX_DEPTH:
        for i in range(len(members)):
            member = index.resolve(obs, f"hasMember[{i}]", required=True, rtypes=("Observation",))
            out += observation_segments(member, index, version, counter, depth + 1)  # type: ignore[arg-type]
        return out
    components = [c for c in res.get("component") or [] if isinstance(c, dict)]
    if has_value or not components:
        counter[0] += 1
        out.append(_obx(obs, res, obs.loc, counter[0], "", index, version))
        out += notes(res.get("note"))
    # Components share one OBX-4 sub-id so a receiver can group them (e.g. systolic + diastolic).
    group = str(counter[0] if out else counter[0] + 1)
    for i, comp in enumerate(components):
        counter[0] += 1
        out.append(_obx(obs, comp, f"{obs.loc}.component[{i}]", counter[0], group, index, version))
    return out


def _obx(obs: Found, node: dict, loc: str, set_id: int, sub_id: str, index: ResourceIndex,
         version: Version) -> SegmentOut:
    """One OBX from an Observation (``node`` is the Observation itself or one of its components)."""
    res = obs.res
    seg = SegmentOut("OBX")
    seg[1] = str(set_id)
    seg[3] = ce(node.get("code"))
    if not seg[3]:
        raise TransformError("Observation has no code (OBX-3 is required)", location=loc + ".code")
    seg[4] = esc(sub_id)
    _value(seg, node, loc, version)
    seg[7] = _reference_range(node.get("referenceRange"))
    seg[8] = reps(esc(c["code"]) for c in (first_coding(i) for i in node.get("interpretation") or []) if c)
    status = res.get("status")
    seg[11] = _STATUS.get(status, "")
    if not seg[11]:
        raise TransformError("Observation.status has no HL7 table 0085 equivalent", location=obs.loc + ".status")
    effective = res.get("effectiveDateTime") or res.get("effectiveInstant") or \
        (res.get("effectivePeriod") or {}).get("start")
    seg[14] = dtm(effective, obs.loc + ".effective[x]")
    seg[16] = reps(practitioner_xcn(obs, f"performer[{i}]", index, version)
                   for i in range(len(res.get("performer") or [])))
    seg[17] = ce(res.get("method"))
    if version.obx_analysis_time:
        seg[19] = dtm(res.get("issued"), obs.loc + ".issued")
    # OBX-20 (site) and OBX-21 (instance identifier) are v2.6 fields, reserved in 2.5.1: not written.
    return seg


def _value(seg: SegmentOut, node: dict, loc: str, version: Version) -> None:
    """OBX-2 value type, OBX-5 value and OBX-6 units from value[x]."""
    keys = [k for k in node if k.startswith("value") and not k.startswith("_")]
    if not keys:
        return  # dataAbsentReason or no value: OBX-5 stays empty
    key, value = keys[0], node[keys[0]]
    where = f"{loc}.{key}"
    if key == "valueQuantity" and isinstance(value, dict):
        _quantity(seg, value, where)
    elif key == "valueString" and isinstance(value, str):
        lines = value.replace("\r\n", "\n").split("\n")
        long_text = len(lines) > 1 or len(value) > _ST_MAX
        seg[2], seg[5] = ("TX", reps(esc(line) or " " for line in lines)) if long_text else ("ST", esc(value))
    elif key == "valueCodeableConcept":
        seg[2], seg[5] = version.coded_value_type, ce(value)
    elif key == "valueBoolean" and isinstance(value, bool):
        seg[2] = version.coded_value_type
        seg[5] = comps("Y", "Yes", "HL70136") if value else comps("N", "No", "HL70136")
    elif key == "valueInteger":
        seg[2], seg[5] = "NM", number(value, where)
    elif key == "valueRange" and isinstance(value, dict):
        low, high = value.get("low") or {}, value.get("high") or {}
        seg[2] = "SN"
        seg[5] = comps(None, _num_or_empty(low, where + ".low"), "-", _num_or_empty(high, where + ".high"))
        seg[6] = _units(low or high)
    elif key == "valueRatio" and isinstance(value, dict):
        num, den = value.get("numerator") or {}, value.get("denominator") or {}
        seg[2] = "SN"
        seg[5] = comps(None, _num_or_empty(num, where + ".numerator"), ":",
                       _num_or_empty(den, where + ".denominator"))
    elif key == "valueDateTime":
        seg[2], seg[5] = ("DTM" if version.at_least("2.5") else "TS"), dtm(value, where)
    elif key == "valueTime" and isinstance(value, str) and len(value) >= 5:
        seg[2], seg[5] = "TM", value.replace(":", "")
    else:
        raise TransformError(f"{key} has no HL7 v2 OBX value type here", location=where)


def _quantity(seg: SegmentOut, quantity: dict, where: str) -> None:
    comparator = quantity.get("comparator")
    value = _num_or_empty(quantity, where)
    if comparator:
        seg[2], seg[5] = "SN", comps(comparator, value)
    else:
        seg[2], seg[5] = "NM", value
    seg[6] = _units(quantity)


def _num_or_empty(quantity: dict, where: str) -> str:
    return number(quantity["value"], where + ".value") if "value" in quantity else ""


def _units(quantity: dict) -> str:
    """Quantity unit -> OBX-6 CE: UCUM code^unit text^UCUM."""
    code, unit = quantity.get("code") or "", quantity.get("unit") or ""
    if not code and not unit:
        return ""
    return comps(code or unit, unit, coding_system(quantity.get("system")))


def _reference_range(ranges: object) -> str:
    """referenceRange[0] -> OBX-7: its text, else "low-high", ">low" or "<high"."""
    if not isinstance(ranges, list) or not ranges or not isinstance(ranges[0], dict):
        return ""
    first = ranges[0]
    if first.get("text"):
        return esc(first["text"])
    low = (first.get("low") or {}).get("value")
    high = (first.get("high") or {}).get("value")
    loc = "referenceRange[0]"
    if low is not None and high is not None:
        return esc(f"{number(low, loc)}-{number(high, loc)}")
    if low is not None:
        return esc(f">{number(low, loc)}")
    return esc(f"<{number(high, loc)}") if high is not None else ""


def notes(annotations: object) -> list[SegmentOut]:
    """Annotation list -> NTE segments (NTE-1 set id, NTE-3 comment)."""
    out = []
    for note in annotations if isinstance(annotations, list) else []:
        text = note.get("text") if isinstance(note, dict) else None
        if text:
            seg = SegmentOut("NTE")
            seg[1], seg[3] = str(len(out) + 1), esc(text)
            out.append(seg)
    return out
