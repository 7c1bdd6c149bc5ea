"""OBX to Observation (IG OBX[Observation]); ED results become DiagnosticReport.presentedForm."""

from __future__ import annotations

import re

from hl7bridge.engine.errors import ParseError
from hl7bridge.transforms.fhir.profiles import profiled
from hl7bridge.transforms.hl7v2.codes import THO, lookup, system_uri
from hl7bridge.transforms.hl7v2.context import Ctx
from hl7bridge.transforms.hl7v2.datatypes import Comps, cwe, dtm, ed_attachment, ei, number, sn_value
from hl7bridge.transforms.hl7v2.message import Segment

__all__ = ["observation", "value_of", "attachment_of"]

_CATEGORY = THO + "observation-category"
_VITALS = frozenset(("8867-4", "8480-6", "8462-4", "85354-9", "9279-1", "8310-5", "8302-2", "29463-7", "39156-5",
                     "59408-5", "2708-6", "9843-4", "8287-5", "3141-9"))
_RANGE = re.compile(r"^\s*([<>]=?)?\s*(-?\d+\.?\d*)\s*(?:-\s*(-?\d+\.?\d*))?\s*$")
_ATTACHMENT_TYPES = frozenset(("ED", "RP"))
_NATURE_OF_TEST = "http://hl7.org/fhir/StructureDefinition/observation-nature-of-abnormal-test"
# the URL as the IG writes it
_VALUE_ATTACHMENT = "https://hl7.org/fhir/5.0/StructureDefinition/extension-Observation.valueAttachment"
_MIME_TYPES = {"im": "image", "ap": "application", "au": "audio", "tx": "text", "mu": "multipart", "vi": "video"}
_TEXT_TYPES = frozenset(("ST", "TX", "FT", "ID", "IS", "XPN", "XAD", "XTN", "XCN", "XON", "CX", "EI", "RP", "HD", "PN"))


def observation(ctx: Ctx, seg: Segment) -> None:
    """OBX -> Observation in the current report (or standalone, e.g. in ADT / VXU)."""
    value_type = ctx.leaf(seg, 2)
    report = ctx.group.get("dr")
    attachment = _attachment(ctx, seg, value_type)
    if attachment and isinstance(report, dict):
        report.setdefault("presentedForm", []).append(attachment)
        return
    code = cwe(ctx.first(seg, 3), ctx.enc)
    if code is None:
        if not ctx.reps(seg, 5) or value_type in _ATTACHMENT_TYPES:
            return  # an empty result line carries nothing to map
        raise ParseError("required field OBX-3 (observation identifier) is empty", location="OBX-3", hl7_code=101)
    res: dict = {"resourceType": "Observation"}
    status = lookup("ObservationResultStatusCodesInterpretation", ctx.leaf(seg, 11))
    res["status"] = status[0] if status else ("final" if not ctx.leaf(seg, 11) else "unknown")
    _categorise(res, code, isinstance(report, dict))
    res["code"] = code
    ctx.subject(res, required=False)
    if ctx.encounter:
        res["encounter"] = {"reference": ctx.encounter}
    _effective(ctx, seg, res)
    value = value_of(ctx, seg, value_type) if value_type not in _ATTACHMENT_TYPES else None
    if attachment:  # IG OBX[Observation]: ED / RP as the R5 valueAttachment extension (R4 has no such value)
        res.setdefault("extension", []).append({"url": _VALUE_ATTACHMENT, "valueAttachment": attachment})
    reps = ctx.reps(seg, 5)
    if value and len(reps) > 1 and value_type in ("NM", "SN", "CE", "CWE"):
        # IG OBX[Observation-Component]: a repeating OBX-5 becomes one component per value.
        res["component"] = [{"code": code, value[0]: v[1]} for r in reps
                            if (v := value_of(ctx, seg, value_type, r)) and v[0] == value[0]]
    elif value:
        res[value[0]] = value[1]
    else:
        reason = "unsupported" if attachment else "unknown"
        res["dataAbsentReason"] = {"coding": [{"system": THO + "data-absent-reason", "code": reason}]}
    _details(ctx, seg, res)
    _kinds(ctx, seg, res)
    if "component" in res and "referenceRange" in res:
        ranges = res.pop("referenceRange")  # IG OBX[Observation-Component]: component[each].referenceRange
        for component in res["component"]:
            component["referenceRange"] = ranges
    ident = ei(ctx.first(seg, 21), ctx.enc, ctx.sender_system)
    if ident:
        ident["type"] = {"coding": [{"system": THO + "v2-0203", "code": "FILL"}]}
        res["identifier"] = [ident]
    order = ctx.group.get("sr_ref")
    if isinstance(order, str):
        res["basedOn"] = [{"reference": order}]
    _specimens(ctx, res)
    first_code = code.get("coding", [{}])[0].get("code", code.get("text", ""))
    key = f"Observation|{_owner_key(ctx)}|{first_code}|{ctx.leaf(seg, 4)}|{ctx.leaf(seg, 1)}"
    ref = ctx.bundle.add(res, key, ident)
    if isinstance(report, dict):
        report.setdefault("result", []).append({"reference": ref})
    ctx.last = res


def _attachment(ctx: Ctx, seg: Segment, value_type: str) -> dict | None:
    """OBX-5 of type ED or RP (its first repetition) as an Attachment."""
    return attachment_of(ctx, ctx.first(seg, 5), value_type)


def attachment_of(ctx: Ctx, text: str, value_type: str) -> dict | None:
    """One OBX-5 value of type ED (ED[Attachment]) or RP (RP[Attachment]: .1 url, .3 / .4 content type)."""
    if value_type == "ED":
        found = ed_attachment(text, ctx.enc)
        kind, _, subtype = (found or {}).get("contentType", "").partition("/")
        if found and kind in _MIME_TYPES:  # ED.2 is HL7 table 0191 (IM, AP ...), not a MIME type
            found["contentType"] = f"{_MIME_TYPES[kind]}/{subtype}"
        return found
    if value_type != "RP" or not text:
        return None
    f = Comps(text, ctx.enc)
    if not f.c(1):
        return None
    out = {"url": f.c(1)}
    kind, subtype = f.c(3).lower(), f.c(4).lower()
    if kind and subtype:
        out["contentType"] = f"{_MIME_TYPES.get(kind, kind)}/{subtype}"
    return out


def _specimens(ctx: Ctx, res: dict) -> None:
    """IG ORU_R01: every Observation of an OBR references the OBR's Specimen; an OBX in the SPECIMEN
    group (after SPM) is about that specimen: ``focus``.  Elsewhere (OUL) the SPM before is the specimen."""
    spm_ref, obr_ref = ctx.group.get("specimen_ref"), ctx.group.get("obr_specimen_ref")
    if ctx.msg.message_type == "ORU" and isinstance(spm_ref, str):
        res["focus"] = [{"reference": spm_ref}]
        spm_ref = None
    specimen = spm_ref or obr_ref
    if isinstance(specimen, str):
        res["specimen"] = {"reference": specimen}


def _owner_key(ctx: Ctx) -> str:
    """What an Observation's key hangs on: its report (or document, or patient) and the SPM it follows,
    so a patient-level OBX and a specimen-level OBX with the same code and set id stay apart."""
    owner = str(ctx.group.get("dr_key") or ctx.group.get("owner_key") or ctx.patient_key)
    specimen = ctx.group.get("specimen_ref")
    return f"{owner}|{ctx.bundle.key_of(specimen)}" if isinstance(specimen, str) else owner


def _categorise(res: dict, code: dict, in_report: bool) -> None:
    loinc = next((c.get("code") for c in code.get("coding", []) if c.get("system") == "http://loinc.org"), None)
    if in_report:
        profiled(res, "us-core-observation-lab")
        res["category"] = [{"coding": [{"system": _CATEGORY, "code": "laboratory", "display": "Laboratory"}]}]
    elif loinc in _VITALS:
        res["category"] = [{"coding": [{"system": _CATEGORY, "code": "vital-signs", "display": "Vital Signs"}]}]
    else:
        profiled(res, "us-core-simple-observation")
        res["category"] = [{"coding": [{"system": _CATEGORY, "code": "exam", "display": "Exam"}]}]


def _effective(ctx: Ctx, seg: Segment, res: dict) -> None:
    when = dtm(ctx.leaf(seg, 14), ctx.tz, "OBX-14")
    detail = ctx.group.get("detail")
    if not when and isinstance(detail, Segment) and detail.name == "OBR":
        when = dtm(ctx.leaf(detail, 7), ctx.tz, "OBR-7")
    if when:
        res["effectiveDateTime"] = when
    analysed = dtm(ctx.leaf(seg, 19), ctx.tz, "OBX-19")
    if analysed:
        res.setdefault("extension", []).append(
            {"url": "http://hl7.org/fhir/StructureDefinition/observation-analysis-date-time", "valueDateTime": analysed})


def value_of(ctx: Ctx, seg: Segment, value_type: str, one: str | None = None) -> tuple[str, object] | None:
    """OBX-5 (or its repetition ``one``) as a FHIR value[x], chosen by OBX-2."""
    reps = [one] if one is not None else ctx.reps(seg, 5)
    if not reps:
        return None
    loc = "OBX-5"
    if value_type == "NM":
        quantity: dict = {"value": number(ctx.enc.unescape(reps[0]), loc)}
        _unit(ctx, seg, quantity)
        return "valueQuantity", quantity
    if value_type == "SN":
        got = sn_value(reps[0], ctx.enc, loc)
        if got and got[0] == "valueQuantity":
            _unit(ctx, seg, got[1])
        return got
    if value_type in ("CE", "CWE", "CNE", "CF"):
        concept = cwe(reps[0], ctx.enc)
        return ("valueCodeableConcept", concept) if concept else None
    if value_type in ("DT", "TS", "DTM"):
        when = dtm(Comps(reps[0], ctx.enc).c(1), ctx.tz, loc)
        return ("valueDateTime", when) if when else None
    if value_type == "TM":
        text = reps[0][:6]
        if text.isdigit() and len(text) >= 4:
            return "valueTime", f"{text[:2]}:{text[2:4]}:{text[4:6] or '00'}"
        raise ParseError("not a valid HL7 time (TM)", location=loc, hl7_code=102)
    if value_type == "IS":  # IG IS[CodeableConcept]
        code = ctx.enc.unescape(reps[0])
        return ("valueCodeableConcept", {"coding": [{"code": code}]}) if code else None
    if value_type == "DR":  # IG DR[Period]
        f = Comps(reps[0], ctx.enc)
        period = {k: v for k, v in (("start", dtm(f.c(1), ctx.tz, loc)), ("end", dtm(f.c(2), ctx.tz, loc))) if v}
        return ("valuePeriod", period) if period else None
    if value_type == "VR":  # IG: OBX-5.1 "-" OBX-5.2
        f = Comps(reps[0], ctx.enc)
        return "valueString", f"{f.c(1)}-{f.c(2)}"
    if value_type == "NR":
        f = Comps(reps[0], ctx.enc)
        rng = {k: {"value": number(v, loc)} for k, v in (("low", f.c(1)), ("high", f.c(2))) if v}
        return ("valueRange", rng) if rng else None
    if value_type in ("FT", "TX"):
        return "valueString", "\n".join(ctx.enc.unescape(r) for r in reps)
    text = ctx.enc.unescape(reps[0])
    if value_type in _TEXT_TYPES or not value_type:
        if ctx.enc.component in text and value_type in ("CX", "EI", "XCN", "XPN", "XAD"):
            text = " ".join(p for p in text.split(ctx.enc.component) if p)
        return ("valueString", text) if text else None
    return ("valueString", text) if text else None


def _unit(ctx: Ctx, seg: Segment, quantity: dict) -> None:
    units = Comps(ctx.first(seg, 6), ctx.enc)
    code, display, system = units.c(1), units.c(2), units.c(3)
    if not code and not display:
        return
    quantity["unit"] = display or code
    if code:
        uri = system_uri(system) if system else None
        if uri or system in ("", "ISO+", "ANSI+"):
            quantity["system"] = uri if uri and system not in ("ISO+", "ANSI+") else "http://unitsofmeasure.org"
        quantity["code"] = code


def _details(ctx: Ctx, seg: Segment, res: dict) -> None:
    interpretation = []
    for rep in ctx.reps(seg, 8):
        code = Comps(rep, ctx.enc).c(1)
        mapped = lookup("InterpretationCodes", code)
        if mapped:
            interpretation.append({"coding": [{"system": mapped[2], "code": mapped[0], "display": mapped[1]}]})
        elif code:
            interpretation.append({"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0078", "code": code}]})
    if interpretation:
        res["interpretation"] = interpretation
    reference = _reference_range(ctx.leaf(seg, 7))
    if reference:
        res["referenceRange"] = [reference]
    performers = [r for r in (ctx.practitioner_role(x, THO + "practitioner-role", "responsibleObserver")
                              for x in ctx.reps(seg, 16)) if r]
    lab = ctx.organization(ctx.first(seg, 23)) if ctx.first(seg, 23) else None
    director = ctx.practitioner_role(ctx.first(seg, 25), THO + "v2-0912", "MDIR", lab) if ctx.first(seg, 25) else None
    performers += [r for r in (director or lab, ctx.organization_cwe(ctx.first(seg, 15))) if r]
    if performers:
        res["performer"] = [{"reference": r} for r in performers]
    devices = [r for r in (ctx.device(x) for x in ctx.reps(seg, 18)) if r]
    if devices:
        res["device"] = {"reference": devices[0]}
    for n, key in ((17, "method"), (20, "bodySite")):
        concept = cwe(ctx.first(seg, n), ctx.enc)
        if concept:
            res[key] = concept


def _kinds(ctx: Ctx, seg: Segment, res: dict) -> None:
    """IG OBX-29 observation type as a category (table 0936); OBX-10 nature of abnormal test (table 0080)."""
    if ctx.leaf(seg, 29):
        res["category"].append({"coding": [{"system": THO + "v2-0936", "code": ctx.leaf(seg, 29)}]})
    for rep in ctx.reps(seg, 10):
        code = Comps(rep, ctx.enc).c(1)
        if code:
            concept = {"coding": [{"system": THO + "v2-0080", "code": code}]}
            res.setdefault("extension", []).append({"url": _NATURE_OF_TEST, "valueCodeableConcept": concept})


def _reference_range(text: str) -> dict | None:
    if not text:
        return None
    m = _RANGE.match(text)
    if m is None:
        return {"text": text}
    comparator, low, high = m.groups()
    if high is not None:
        return {"low": {"value": _num(low)}, "high": {"value": _num(high)}, "text": text}
    if comparator and comparator.startswith("<"):
        return {"high": {"value": _num(low)}, "text": text}
    if comparator:
        return {"low": {"value": _num(low)}, "text": text}
    return {"text": text}


def _num(text: str) -> int | float:
    return float(text) if "." in text else int(text)

