"""ORC, OBR, TQ1, SPM and NTE to ServiceRequest, DiagnosticReport, Specimen and notes.

ORC opens an order group; the next OBR (or RXO / RXE / RXA, in seg_pharmacy; ODS / RQD here) completes it.
Where the message structure puts ORC after its OBR (OUL_R22 / R23 / R24, OPU_R25) the OBR takes the ORC
that follows it (``following_orc``) and that ORC opens no group of its own.
In result messages (ORU, OUL) OBR also gives a DiagnosticReport that collects the OBX results.
"""

from __future__ import annotations

from hl7bridge.engine.errors import ParseError
from hl7bridge.transforms.fhir.profiles import absent, profiled
from hl7bridge.transforms.hl7v2.codes import V2, lookup
from hl7bridge.transforms.hl7v2.context import Ctx
from hl7bridge.transforms.hl7v2.datatypes import Comps, cwe, cx, dtm, ei, instant, ndl_person, xad, xtn
from hl7bridge.transforms.hl7v2.message import Segment
from hl7bridge.transforms.hl7v2 import seg_lab
from hl7bridge.transforms.hl7v2.seg_timing import PRIORITY, apply_pending, apply_tq

__all__ = ["orc", "following_orc", "anchor_late_participants", "obr", "spm", "sac", "nte", "diet", "requisition", "supplier", "order_identifiers", "order_status",
           "order_requester", "ordering_facility", "support_order", "order_reason"]

_NOTE_CATEGORY = {  # OBR-24 (HL7 table 0074) sections reported as notes rather than lab results
    "RAD": ("LP29684-5", "Radiology"), "CT": ("LP29684-5", "Radiology"), "NMR": ("LP29684-5", "Radiology"),
    "NMS": ("LP29684-5", "Radiology"), "RUS": ("LP29684-5", "Radiology"), "VUS": ("LP29684-5", "Radiology"),
    "XRC": ("LP29684-5", "Radiology"), "CUS": ("LP29708-2", "Cardiology"), "EC": ("LP29708-2", "Cardiology"),
    "CTH": ("LP29708-2", "Cardiology"), "SP": ("LP7839-6", "Pathology"), "CP": ("LP7839-6", "Pathology"),
}
_NOTE_TYPES = frozenset(("Observation", "ServiceRequest", "Immunization", "MedicationRequest", "Procedure",
                         "AllergyIntolerance", "Specimen", "Condition", "MedicationAdministration", "NutritionOrder"))
_RESULT_MESSAGES = frozenset(("ORU", "OUL"))
# DFT (P03, P11) carries the charged order's results after its OBR (the OBSERVATION group): they are reported
# as in a result message, but the report is only created, never updated, by a charge (the IG has no DFT map;
# the laboratory's ORU, not the billing feed, owns the report's status).
_CHARGE_MESSAGES = frozenset(("DFT",))
_REFERRAL_MESSAGES = frozenset(("REF", "RRI"))  # their OBR groups carry results, not specimen orders
# No OBR[Specimen] there: referral OBR groups carry results; the MDM_T02 message map (COMMON_ORDER,
# rows 17-26) makes the order's ServiceRequest only.
_NO_OBR_SPECIMEN = _REFERRAL_MESSAGES | {"MDM"}
_SPECIAL_HANDLING = "http://hl7.org/fhir/StructureDefinition/specimen-specialHandling"
# Message structures whose ORDER group has the OBR first, then its PRTs, then [ORC (COMMON_ORDER)]: v2.5.1 to
# v2.8.2 OUL_R22 / OUL_R23 / OUL_R24 and (from v2.6) OPU_R25.  Every other order structure starts with ORC.
_ORC_AFTER_OBR = frozenset((("OUL", "R22"), ("OUL", "R23"), ("OUL", "R24"), ("OPU", "R25")))


def orc(ctx: Ctx, seg: Segment) -> None:
    """Remember the ORC for the detail segment that follows; an ORC its OBR already took changes nothing."""
    if ctx.group.get("orc") is seg:
        return
    ctx.group = {"orc": seg}


def following_orc(ctx: Ctx, obr_seg: Segment) -> Segment | None:
    """The ORC of ``obr_seg`` in a structure that puts it after the OBR (and the OBR's PRTs), else None."""
    if (ctx.msg.message_type, ctx.event) not in _ORC_AFTER_OBR:
        return None
    found = False
    for seg in ctx.msg:
        if seg is obr_seg:
            found = True
        elif found and seg.name != "PRT":
            return seg if seg.name == "ORC" else None
    return None


def anchor_late_participants(ctx: Ctx) -> None:
    """PRTs after an ORC that followed its OBR belong to the order that OBR already built: start their
    search (seg_roles.finish_participants looks from the PRT on) at that order's ServiceRequest."""
    entries = ctx.bundle.entries
    for i, (holder, mark, orc_seg) in enumerate(ctx.pending_participants):
        if holder["resourceType"] != "ServiceRequest" or not _follows_obr(ctx, orc_seg):
            continue
        built = [n for n, e in enumerate(entries[:mark]) if e["resource"]["resourceType"] == "ServiceRequest"]
        if built:
            ctx.pending_participants[i] = (holder, built[-1], orc_seg)


def _follows_obr(ctx: Ctx, orc_seg: Segment | None) -> bool:
    """True for an ORC the OBR before it took (``following_orc``)."""
    previous = None
    for seg in ctx.msg:
        if seg is orc_seg:
            return previous is not None and following_orc(ctx, previous) is orc_seg
        if seg.name == "OBR":
            previous = seg
    return False


def order_identifiers(ctx: Ctx, orc_seg: Segment | None, detail: Segment | None) -> list[dict]:
    """Placer (ORC-2 / OBR-2) and filler (ORC-3 / OBR-3) order numbers as typed Identifiers.

    IG ORC[ServiceRequest] rows 9 / 12 take ORC-2 / ORC-3 only when OBR-2 / OBR-3 are empty; we keep
    the ORC's numbers first, which the FHIR-to-v2 round trip writes back into ORC-2 / ORC-3."""
    out = []
    for n, code in ((2, "PLAC"), (3, "FILL")):
        text = (ctx.first(orc_seg, n) if orc_seg else "") or (ctx.first(detail, n) if detail and detail.name == "OBR" else "")
        ident = ei(text, ctx.enc, ctx.sender_system)
        if ident:
            ident["type"] = {"coding": [{"system": V2 + "0203", "code": code}]}
            out.append(ident)
    return out


def _alternate_placer_numbers(ctx: Ctx, seg: Segment) -> list[dict]:
    """IG OBR[ServiceRequest] row 53: OBR-53 alternate placer order numbers (CX), typed PLAC whatever CX-5 says."""
    if seg.name != "OBR":
        return []
    out = []
    for rep in ctx.reps(seg, 53):
        ident = cx(rep, ctx.enc, ctx.sender_system)
        if ident:
            ident["type"] = {"coding": [{"system": V2 + "0203", "code": "PLAC"}]}
            out.append(ident)
    return out


def order_status(ctx: Ctx, orc_seg: Segment | None, default: str) -> str:
    """ORC-5 (order status) first, then ORC-1 (order control), per the IG concept maps.

    An order message whose ORC-1 the map leaves open (``SC`` status changed, ``XO`` ...) gets
    ``unknown`` from the caller: the message says the status changed, not to what."""
    if orc_seg is not None:
        for table, n in (("OrderStatus", 5), ("OrderControlCode[ServiceRequest.status]", 1)):
            mapped = lookup(table, ctx.leaf(orc_seg, n))
            if mapped:
                return mapped[0]
    return default


def ordering_facility(ctx: Ctx, orc_seg: Segment | None) -> str | None:
    """IG ORC[ServiceRequest] ORC-21/22/23: the ordering facility Organization with its address and phone."""
    facility = ctx.first(orc_seg, 21) if orc_seg is not None else ""
    org = ctx.organization(facility) if facility and orc_seg is not None else None
    target = next((e["resource"] for e in ctx.bundle.entries if e["fullUrl"] == org), None) if org else None
    if target is None or orc_seg is None:
        return org
    address = xad(ctx.first(orc_seg, 22), ctx.enc) if ctx.first(orc_seg, 22) else None
    if address and "address" not in target:
        target["address"] = [address]
    phones = [p for p in (xtn(r, ctx.enc) for r in ctx.reps(orc_seg, 23)) if p]
    if phones and "telecom" not in target:
        target["telecom"] = phones
    return org


def order_requester(ctx: Ctx, orc_seg: Segment | None, fallback_xcn: str = "") -> str | None:
    """IG ORC-12 (else OBR-16 / RXO-14 ...) with ORC-21..23: the orderer as a PractitionerRole of the
    ordering facility, coded ``OP`` (v2 table 0443 ordering provider; the IG gives no role code).  With no
    orderer named, the ordering facility alone is the requester (IG ORC-21 requester(PractitionerRole.organization))."""
    xcn = (ctx.first(orc_seg, 12) if orc_seg is not None else "") or fallback_xcn
    return ctx.practitioner_role(xcn, V2 + "0443", "OP", ordering_facility(ctx, orc_seg))


def _key(ctx: Ctx, rtype: str, idents: list[dict], fallback: str) -> tuple[str, dict | None]:
    ident = next((i for i in idents if i["type"]["coding"][0]["code"] == "FILL"), idents[0] if idents else None)
    if ident:
        return f"{rtype}|{ident.get('system', '')}|{ident['value']}", ident
    return f"{rtype}|{ctx.patient_key}|{fallback}", None


def obr(ctx: Ctx, seg: Segment) -> None:
    """OBR (+ the pending ORC, or the ORC that follows it) -> ServiceRequest, and a DiagnosticReport in
    result messages."""
    orc_seg = ctx.group.get("orc") if not ctx.group.get("detail") else None
    orc_seg = orc_seg if isinstance(orc_seg, Segment) else following_orc(ctx, seg)
    code = cwe(ctx.first(seg, 4), ctx.enc)
    if code is None:
        raise ParseError("required field OBR-4 (universal service identifier) is empty", location="OBR-4", hl7_code=101)
    idents = order_identifiers(ctx, orc_seg, seg)
    pending = ctx.group.get("pending_tq1", [])
    sr_ref, sr = _service_request(ctx, orc_seg, seg, code, idents)
    ctx.group = {"orc": orc_seg, "detail": seg, "sr": sr, "sr_ref": sr_ref, "sr_key": ctx.group.get("sr_key")}
    apply_pending(ctx, pending, sr)
    ctx.last = sr
    if ctx.msg.message_type in _RESULT_MESSAGES:
        _report(ctx, seg, code, idents, sr_ref)
    elif ctx.msg.message_type in _CHARGE_MESSAGES:
        _report(ctx, seg, code, idents, sr_ref, create_only=True)
    elif ctx.msg.message_type not in _NO_OBR_SPECIMEN:
        _obr_specimen(ctx, seg, sr)


def _service_request(ctx: Ctx, orc_seg: Segment | None, seg: Segment, code: dict,
                     idents: list[dict]) -> tuple[str, dict]:
    res = profiled({"resourceType": "ServiceRequest"}, "us-core-servicerequest")
    idents = idents + _alternate_placer_numbers(ctx, seg)
    if idents:
        res["identifier"] = idents
    res["status"] = order_status(ctx, orc_seg, "completed" if ctx.msg.message_type in _RESULT_MESSAGES else
                                 ("unknown" if orc_seg is not None and ctx.leaf(orc_seg, 1) else "active"))
    res["intent"] = "order"
    res["code"] = code
    ctx.subject(res)
    if ctx.encounter:
        res["encounter"] = {"reference": ctx.encounter}
    priority = PRIORITY.get(ctx.leaf(seg, 5) or ctx.leaf(seg, 27, 6))
    if priority:
        res["priority"] = priority
    # IG ORC-9 is authoredOn for a new order (ORC-1 NW); OBR-6 (requested date/time) is when to perform it.
    authored = dtm(ctx.leaf(orc_seg, 9), ctx.tz, "ORC-9") if orc_seg is not None and ctx.leaf(orc_seg, 1) in ("NW", "") else None
    if authored:
        res["authoredOn"] = authored
    requested = dtm(ctx.leaf(seg, 6), ctx.tz, "OBR-6")
    if requested:
        res["occurrenceDateTime"] = requested
    ref = order_requester(ctx, orc_seg, ctx.first(seg, 16))
    if ref:
        res["requester"] = {"reference": ref}
    reasons = [c for c in (cwe(r, ctx.enc) for r in ctx.reps(seg, 31)) if c]
    if reasons:
        res["reasonCode"] = reasons
    _order_details(ctx, orc_seg, seg, res)
    group = res.get("requisition", {}).get("value", "")
    code_text = code.get("coding", [{}])[0].get("code", "") or code.get("text", "")
    key, ident = _key(ctx, "ServiceRequest", idents, f"{code_text}|{authored or requested}|{group}|{ctx.leaf(seg, 1)}")
    if ident is not None and ctx.msg.message_type not in _RESULT_MESSAGES and _other_service(ctx, key, code):
        # a second OBR under the same order numbers orders another service: its own request, keyed by
        # the numbers and the service (one conditional update per identifier in a transaction)
        key, ident = f"{key}|{code_text}|{ctx.leaf(seg, 1)}", None
    ctx.group["sr_key"] = key
    return ctx.bundle.add(res, key, ident), res


def _other_service(ctx: Ctx, key: str, code: dict) -> bool:
    """True when ``key`` already holds a ServiceRequest for a different service code."""
    url = ctx.bundle.ref(key)
    found = next((e["resource"] for e in ctx.bundle.entries if e["fullUrl"] == url), None) if url else None
    return isinstance(found, dict) and found.get("code") != code


def _order_details(ctx: Ctx, orc_seg: Segment | None, seg: Segment, res: dict) -> None:
    """IG ORC[ServiceRequest] / OBR[ServiceRequest]: ORC-4 requisition, ORC-29 location code,
    OBR-11 `G` a reflex order, OBR-46 / OBR-47 order details."""
    if orc_seg is not None:
        _group_numbers(ctx, orc_seg, res)
    where = cwe(ctx.first(orc_seg, 29), ctx.enc) if orc_seg is not None else None
    if where:  # the order type as sent, with its IG OrderType translation (v3 RoleCode) beside it
        translated = _mapped(ctx, ctx.first(orc_seg, 29), "OrderType") or {}
        where["coding"] = where.get("coding", []) + [c for c in translated.get("coding", []) if c not in where.get("coding", [])]
        res["locationCode"] = [where]
    if ctx.leaf(seg, 11) == "G":
        res["intent"] = "reflex-order"
    details = [c for n in (46, 47) for c in (cwe(r, ctx.enc) for r in ctx.reps(seg, n)) if c]
    if details:
        res["orderDetail"] = details
    tq = (ctx.first(orc_seg, 7) if orc_seg is not None else "") or ctx.first(seg, 27)
    if tq:  # IG ORC-7, else OBR-27: TQ[ServiceRequest]
        apply_tq(ctx, tq, res, "ORC-7" if orc_seg is not None and ctx.first(orc_seg, 7) else "OBR-27")
    parents = _parent_orders(ctx, ctx.first(seg, 29))
    if parents:
        res["basedOn"] = parents


def _group_numbers(ctx: Ctx, orc_seg: Segment, res: dict) -> None:
    """IG ORC-4 (EI, or EIP from v2.7): the placer group number is the ``requisition``; a filler group
    number (ORC-4.2 of an EIP, else ORC-38) is an identifier typed FGN."""
    text = ctx.first(orc_seg, 4)
    filler = ei(ctx.first(orc_seg, 38), ctx.enc, ctx.sender_system)
    if filler:
        filler["type"] = {"coding": [{"system": V2 + "0203", "code": "FGN"}]}
    if ctx.enc.subcomponent in text:
        f = Comps(text, ctx.enc)
        placer = _eip_part(ctx, f.subs(1), "PGN")
        filler = filler or _eip_part(ctx, f.subs(2), "FGN")
    else:
        placer = ei(text, ctx.enc, ctx.sender_system)
        if placer:
            placer["type"] = {"coding": [{"system": V2 + "0203", "code": "PGN"}]}
    if placer:
        res["requisition"] = placer
    if filler:
        res.setdefault("identifier", []).append(filler)


def _parent_orders(ctx: Ctx, text: str) -> list[dict]:
    """IG OBR-29 (EIP): the parent order as logical references by placer / filler number."""
    out = []
    f = Comps(text, ctx.enc)
    for i, code in ((1, "PLAC"), (2, "FILL")):
        ident = _eip_part(ctx, f.subs(i), code)
        if ident:
            out.append({"type": "ServiceRequest", "identifier": ident})
    return out


def _eip_part(ctx: Ctx, subs: list[str], code: str) -> dict | None:
    """One EI of an EIP (its parts are subcomponents) as an Identifier typed ``code``."""
    if not subs or not subs[0]:
        return None
    ident = ei(ctx.enc.component.join(ctx.enc.escape(s) for s in subs[:4]), ctx.enc, ctx.sender_system)
    if ident:
        ident["type"] = {"coding": [{"system": V2 + "0203", "code": code}]}
    return ident


def _mapped(ctx: Ctx, text: str, table: str) -> dict | None:
    """CWE -> CodeableConcept, each coding without a system (or in a v2 table) through an IG concept map."""
    concept = cwe(text, ctx.enc)
    for i, coding in enumerate((concept or {}).get("coding", [])):
        if coding.get("system", V2).startswith(V2):
            mapped = lookup(table, coding.get("code", ""))
            if mapped:
                concept["coding"][i] = {"system": mapped[2], "code": mapped[0]}
                if mapped[1]:
                    concept["coding"][i]["display"] = mapped[1]
    return concept


_DIET_KINDS = {"D": "oralDiet", "S": "supplement", "P": "preference"}  # ODS-1, HL7 table 0159
_SUPPLY_STATUS = {"revoked": "cancelled", "on-hold": "suspended", "active": "active", "completed": "completed",
                  "draft": "draft", "entered-in-error": "entered-in-error"}


def _order_time(ctx: Ctx, orc_seg: Segment | None) -> str | None:
    """ORC-9, else the message time (MSH-7): when the order was placed."""
    when = dtm(ctx.leaf(orc_seg, 9), ctx.tz, "ORC-9") if orc_seg is not None else None
    if when:
        return when
    try:  # MSH-7 only gives a default here: a malformed one is reported (or not) by the header's reader
        return dtm(ctx.msg.get("MSH-7.1") or "", ctx.tz, "MSH-7")
    except ParseError:
        return None


def diet(ctx: Ctx, seg: Segment) -> None:
    """ODS (+ the pending ORC) -> NutritionOrder.  No IG map (ORM_O01 names ODS only without a PID);
    ODS-1 (table 0159) picks oral diet, supplement or food preference for the ODS-3 codes, ODS-4 the text."""
    orc_seg = ctx.group.get("orc") if not ctx.group.get("detail") else None
    orc_seg = orc_seg if isinstance(orc_seg, Segment) else None
    codes = [c for c in (cwe(r, ctx.enc) for r in ctx.reps(seg, 3)) if c]
    text = "\n".join(ctx.enc.unescape(r) for r in ctx.reps(seg, 4))
    if not codes and not text:
        return
    idents = order_identifiers(ctx, orc_seg, None)
    res: dict = {"resourceType": "NutritionOrder"}
    if idents:
        res["identifier"] = idents
    status = order_status(ctx, orc_seg, "active")
    res["status"] = status if status in ("draft", "active", "on-hold", "revoked", "completed",
                                         "entered-in-error") else "unknown"
    res["intent"] = "order"
    ctx.subject(res, "patient")
    if ctx.encounter:
        res["encounter"] = {"reference": ctx.encounter}
    when = _order_time(ctx, orc_seg)
    if not when:
        return  # NutritionOrder.dateTime is required
    res["dateTime"] = when
    orderer = order_requester(ctx, orc_seg)
    if orderer:
        res["orderer"] = {"reference": orderer}
    allergies = [{"reference": e["fullUrl"]} for e in ctx.bundle.entries
                 if e["resource"]["resourceType"] == "AllergyIntolerance"]
    if allergies:
        res["allergyIntolerance"] = allergies
    kind = _DIET_KINDS.get(ctx.leaf(seg, 1), "preference")
    if kind == "oralDiet":
        res["oralDiet"] = {k: v for k, v in (("type", codes), ("instruction", text)) if v}
    elif kind == "supplement":
        res["supplement"] = [{"type": c, **({"instruction": text} if text else {})} for c in codes] or \
            [{"instruction": text}]
    else:
        if codes:
            res["foodPreferenceModifier"] = codes
        if text:
            res["note"] = [{"text": text}]
    annotation = Comps(ctx.first(orc_seg, 7), ctx.enc).c(8) if orc_seg is not None else ""
    if annotation:  # TQ.8 text of ORC-7
        res.setdefault("note", []).insert(0, {"text": annotation})
    key, ident = _key(ctx, "NutritionOrder", idents, f"{ctx.leaf(seg, 1)}|{res['dateTime']}")
    ctx.group = {"orc": orc_seg, "detail": seg, "nutrition": res}
    ctx.bundle.add(res, key, ident)
    ctx.last = res


def requisition(ctx: Ctx, seg: Segment) -> None:
    """RQD (+ the pending ORC, a later RQ1) -> SupplyRequest.  No IG map; RQD field definitions:
    RQD-4 / -2 / -3 item codes, RQD-5/6 quantity, RQD-9 deliver-to, RQD-10 date needed."""
    orc_seg = ctx.group.get("orc") if not ctx.group.get("detail") else None
    orc_seg = orc_seg if isinstance(orc_seg, Segment) else None
    codings = [c for n in (4, 2, 3) for c in (cwe(ctx.first(seg, n), ctx.enc) or {}).get("coding", [])]
    amount = Comps(ctx.first(seg, 5), ctx.enc).c(1)
    if not codings or not amount:
        return  # SupplyRequest.item and .quantity are required
    idents = order_identifiers(ctx, orc_seg, None)
    res: dict = {"resourceType": "SupplyRequest"}
    group = ei(ctx.first(orc_seg, 4), ctx.enc, ctx.sender_system) if orc_seg is not None else None
    if group:  # no requisition element on SupplyRequest: the placer group number as a PGN identifier
        group["type"] = {"coding": [{"system": V2 + "0203", "code": "PGN"}]}
    if idents or group:
        res["identifier"] = idents + ([group] if group else [])
    res["status"] = _SUPPLY_STATUS.get(order_status(ctx, orc_seg, "active"), "unknown")
    authored = _order_time(ctx, orc_seg) if orc_seg is not None and ctx.leaf(orc_seg, 9) else None
    if authored:
        res["authoredOn"] = authored
    requester = order_requester(ctx, orc_seg)
    if requester:
        res["requester"] = {"reference": requester}
    res["itemCodeableConcept"] = {"coding": codings}
    quantity = _cq(ctx, amount) or {"value": 0}
    unit = cwe(ctx.first(seg, 6), ctx.enc)
    unit_coding = (unit or {}).get("coding", [{}])[0]
    if unit_coding.get("code"):
        quantity["code"] = unit_coding["code"]
        if unit_coding.get("system"):
            quantity["system"] = unit_coding["system"]
        quantity["unit"] = unit_coding.get("display", unit_coding["code"])
    res["quantity"] = quantity
    needed = dtm(ctx.leaf(seg, 10), ctx.tz, "RQD-10")
    if needed:
        res["occurrenceDateTime"] = needed
    to = Comps(ctx.first(seg, 9), ctx.enc)
    place = _department(ctx, to.c(1), to.c(2))
    if place:
        res["deliverTo"] = {"reference": place}
    key, ident = _key(ctx, "SupplyRequest", res.get("identifier", []),
                      f"{codings[0].get('code', '')}|{ctx.leaf(seg, 1)}|{needed}")
    ctx.group = {"orc": orc_seg, "detail": seg, "supply": res}
    ctx.bundle.add(res, key, ident)
    ctx.last = None


def supplier(ctx: Ctx, seg: Segment) -> None:
    """RQ1 -> the current SupplyRequest's ``deliverFrom``: RQ1-4 vendor, else RQ1-2 manufacturer."""
    res = ctx.group.get("supply")
    if not isinstance(res, dict):
        return
    for n in (4, 2):
        f = Comps(ctx.first(seg, n), ctx.enc)
        ref = _department(ctx, f.c(1), f.c(2))
        if ref:
            res["deliverFrom"] = {"reference": ref}
            return


def _department(ctx: Ctx, code: str, name: str) -> str | None:
    """A CWE naming a department or firm (code ^ name) -> Organization (conditional create)."""
    if not code and not name:
        return None
    org: dict = {"resourceType": "Organization", "active": True}
    ident = {"system": ctx.sender_system + ":organization", "value": code} if code else None
    if ident:
        org["identifier"] = [ident]
    if name:
        org["name"] = name
    return ctx.bundle.add(org, f"Organization|{ident['system']}|{code}" if ident else f"Organization|name|{name}",
                          ident, create_only=True)


_REPORTED = frozenset(("partial", "preliminary", "final", "amended", "corrected", "appended"))


def _report(ctx: Ctx, seg: Segment, code: dict, idents: list[dict], sr_ref: str, create_only: bool = False) -> None:
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
    if start and end:
        res["effectivePeriod"] = {"start": start, "end": end}
    elif start:
        res["effectiveDateTime"] = start
    issued = instant(dtm(ctx.leaf(seg, 22), ctx.tz, "OBR-22"))
    if issued:
        res["issued"] = issued
    if res["status"] in _REPORTED and not (start and (issued or note)):
        del res["meta"]  # US Core us-core-8/9/10: a reported result needs OBR-7 (and a lab one OBR-22) to claim it
    interpreter = _ndl_practitioner(ctx, ctx.first(seg, 32))
    if interpreter:
        res["resultsInterpreter"] = [{"reference": interpreter}]
    key, ident = _key(ctx, "DiagnosticReport", idents, f"{code.get('coding', [{}])[0].get('code', '')}|{start}")
    ctx.group["dr"] = res
    ctx.group["dr_ref"] = ctx.bundle.add(res, key, ident, create_only=create_only)
    ctx.group["dr_key"] = key


def _ndl_practitioner(ctx: Ctx, text: str) -> str | None:
    """The NDL's person (see datatypes.ndl_person) through the practitioner builder."""
    if not text:
        return None
    return ctx.practitioner(ndl_person(text, ctx.enc)[0])


def spm(ctx: Ctx, seg: Segment) -> None:
    """SPM -> Specimen (US Core), referenced from the current request, report and results (IG SPM[Specimen])."""
    res = profiled({"resourceType": "Specimen"}, "us-core-specimen")
    f = Comps(ctx.first(seg, 2), ctx.enc)
    # IG EIP[Identifier-Placer/FillerAssignedIdentifier]: SPM-2's parts are typed PGN / FGN.
    idents = [i for i in (_eip_part(ctx, f.subs(1), "PGN"), _eip_part(ctx, f.subs(2), "FGN")) if i]
    idents += [i for i in (ctx.identifier(r) for r in ctx.reps(seg, 31)) if i]
    shipment = ei(ctx.first(seg, 32), ctx.enc, ctx.sender_system)
    if shipment:
        shipment["type"] = {"coding": [{"system": V2 + "0203", "code": "SHIP"}]}
        idents.append(shipment)
    if idents:
        res["identifier"] = idents
    accession = ctx.identifier(ctx.first(seg, 30))
    if accession:
        res["accessionIdentifier"] = accession
    res["type"] = _specimen_type(ctx, ctx.first(seg, 4)) or absent()
    ctx.subject(res, required=False)
    parents = [p for p in (_parent_specimen(ctx, r) for r in ctx.reps(seg, 3)) if p]
    if parents:
        res["parent"] = [{"reference": p} for p in parents]
    _spm_collection(ctx, seg, res)
    received = dtm(ctx.leaf(seg, 18), ctx.tz, "SPM-18")
    if received:
        res["receivedTime"] = received
    conditions = [c for c in (_mapped(ctx, r, "SpecimenCondition") for r in ctx.reps(seg, 24)) if c]
    if conditions:
        res["condition"] = conditions
    container = _spm_container(ctx, seg)
    if container:
        res["container"] = [container]
    if ctx.leaf(seg, 14):
        res["note"] = [{"text": ctx.leaf(seg, 14)}]
    available = lookup("YesNoIndicator[AvailabilityStatus]", ctx.leaf(seg, 20))
    if available:
        res["status"] = available[0]
    owner = ctx.group.get("dr_key") or ctx.group.get("sr_key") or ""
    ident = next((i for i in idents if i.get("system")), None)
    key = f"Specimen|{ident.get('system', '')}|{ident['value']}" if ident else f"Specimen|{owner}|{ctx.leaf(seg, 1)}"
    ref = ctx.bundle.add(res, key, ident)
    if seg_lab.specimen_encloses_orders(ctx):
        ctx.group = {}  # OUL_R22 / R23: a new SPECIMEN group, whose orders follow it (seg_lab.enclosing_specimen)
    for holder in ("sr", "dr"):
        target = ctx.group.get(holder)
        if isinstance(target, dict):
            target.setdefault("specimen", []).append({"reference": ref})
    ctx.group["specimen_ref"] = ref
    ctx.group["specimen"] = res
    ctx.last = res


def _spm_collection(ctx: Ctx, seg: Segment, res: dict) -> None:
    """SPM-7 method, -8 body site, -12 amount, -15 special handling, -17 collection time."""
    collection: dict = {}
    collected = Comps(ctx.first(seg, 17), ctx.enc)
    start, end = dtm(collected.c(1), ctx.tz, "SPM-17"), dtm(collected.c(2), ctx.tz, "SPM-17")
    if start and end:
        collection["collectedPeriod"] = {"start": start, "end": end}
    elif start:
        collection["collectedDateTime"] = start
    method = _mapped(ctx, ctx.first(seg, 7), "SpecimenCollectionMethod")
    if method:
        collection["method"] = method
    site = cwe(ctx.first(seg, 8), ctx.enc)
    if site:
        collection["bodySite"] = site
    amount = _cq(ctx, ctx.first(seg, 12))
    if amount:
        collection["quantity"] = amount
    handling = [c for c in (cwe(r, ctx.enc) for r in ctx.reps(seg, 15)) if c]
    if handling:  # the IG leaves SPM-15 open; FHIR's core extension on Specimen.collection fits it
        collection["extension"] = [{"url": _SPECIAL_HANDLING, "valueCodeableConcept": c} for c in handling]
    if collection:
        res["collection"] = collection


def _spm_container(ctx: Ctx, seg: Segment) -> dict:
    """SPM-6 additive (Additive/Preservative map) and SPM-27 container type -> Specimen.container."""
    container: dict = {}
    additive = _mapped(ctx, ctx.first(seg, 6), "AdditivePreservative")
    if additive:
        container["additiveCodeableConcept"] = additive
    kind = cwe(ctx.first(seg, 27), ctx.enc)
    if kind:
        container["type"] = kind
    return container


def _parent_specimen(ctx: Ctx, text: str) -> str | None:
    """IG SPM-3: a parent specimen named by its placer / filler ids (EIP), referenced from ``parent``."""
    f = Comps(text, ctx.enc)
    idents = [i for i in (_eip_part(ctx, f.subs(1), "PGN"), _eip_part(ctx, f.subs(2), "FGN")) if i]
    if not idents:
        return None
    res = profiled({"resourceType": "Specimen", "identifier": idents, "type": absent()}, "us-core-specimen")
    ctx.subject(res, required=False)
    ident = idents[0]
    return ctx.bundle.add(res, f"Specimen|{ident.get('system', '')}|{ident['value']}", ident, create_only=True)


def _cq(ctx: Ctx, text: str) -> dict | None:
    """CQ (quantity ^ unit CWE in subcomponents) -> Quantity (IG CQ[Quantity])."""
    f = Comps(text, ctx.enc)
    try:
        value = float(f.c(1))
    except ValueError:
        return None
    quantity: dict = {"value": int(value) if value.is_integer() and "." not in f.c(1) else value}
    units = f.subs(2) + ["", ""]
    if units[0] or units[1]:
        quantity["unit"] = units[1] or units[0]
    return quantity


def _obr_specimen(ctx: Ctx, seg: Segment, sr: dict) -> None:
    """IG OBR[Specimen] in order messages (seg_lab builds it): the order's ``specimen``."""
    ref = seg_lab.obr_specimen(ctx, seg, f"obr|{ctx.group.get('sr_key', '')}")
    if ref:
        sr.setdefault("specimen", []).append({"reference": ref})


def sac(ctx: Ctx, seg: Segment) -> None:
    """SAC -> the container of the specimen it follows: SAC-3 container id, SAC-21/24 capacity,
    SAC-22 available volume; SAC-2 the accession id when SPM gave none (the IG has no SAC map)."""
    res = ctx.group.get("specimen")
    if not isinstance(res, dict):
        return
    container = (res.get("container") or [{}])[0]
    ident = ei(ctx.first(seg, 3), ctx.enc, ctx.sender_system)
    if ident:
        container["identifier"] = [ident]
    unit = cwe(ctx.first(seg, 24), ctx.enc)
    unit_text = (unit or {}).get("coding", [{}])[0].get("code") or (unit or {}).get("text", "")
    for n, key in ((21, "capacity"), (22, "specimenQuantity")):
        quantity = _cq(ctx, ctx.leaf(seg, n))
        if quantity:
            if unit_text:
                quantity["unit"] = unit_text
            container[key] = quantity
    if container:
        res["container"] = [container] + res.get("container", [])[1:]
    accession = ei(ctx.first(seg, 2), ctx.enc, ctx.sender_system)
    if accession and "accessionIdentifier" not in res:
        res["accessionIdentifier"] = accession


def _ref_of(ctx: Ctx, res: dict) -> str | None:
    for entry in reversed(ctx.bundle.entries):
        if entry["resource"] is res:
            return entry["fullUrl"]
    return None


def _order_in_group(ctx: Ctx) -> dict | None:
    """The ServiceRequest of the current ORC / OBR group of an order message, else None."""
    sr, detail = ctx.group.get("sr"), ctx.group.get("detail")
    if ctx.msg.message_type in _RESULT_MESSAGES or not isinstance(sr, dict):
        return None
    return sr if isinstance(detail, Segment) and detail.name == "OBR" else None


def support_order(ctx: Ctx) -> None:
    """IG order messages: an OBX in an order group is ``supportingInfo`` of the ServiceRequest."""
    sr, obs = _order_in_group(ctx), ctx.last
    if sr is None or ctx.group.get("dr") is not None:
        return
    if isinstance(obs, dict) and obs.get("resourceType") == "Observation":
        ref = _ref_of(ctx, obs)
        if ref and {"reference": ref} not in sr.get("supportingInfo", []):
            sr.setdefault("supportingInfo", []).append({"reference": ref})


def order_reason(ctx: Ctx) -> None:
    """IG order messages: a DG1 in an order group is a ``reasonReference`` of the ServiceRequest
    (or of the SupplyRequest of an RQD group)."""
    supply = ctx.group.get("supply")
    sr, cond = (supply if isinstance(supply, dict) else _order_in_group(ctx)), ctx.last
    if sr is None:
        return
    if isinstance(cond, dict) and cond.get("resourceType") == "Condition":
        ref = _ref_of(ctx, cond)
        if ref and {"reference": ref} not in sr.get("reasonReference", []):
            sr.setdefault("reasonReference", []).append({"reference": ref})


def _specimen_type(ctx: Ctx, text: str) -> dict | None:
    """SPM-4 through the IG SpecimenType map (HL7 table 0487) when it names no other system."""
    concept = cwe(text, ctx.enc)
    if concept:
        for i, coding in enumerate(concept.get("coding", [])):
            mapped = None if "system" in coding else lookup("SpecimenType", coding.get("code", ""))
            if mapped:
                concept["coding"][i] = {"system": mapped[2], "code": mapped[0], "display": mapped[1]}
    return concept


def nte(ctx: Ctx, seg: Segment) -> None:
    """NTE-3 -> a note on the resource the NTE follows (Appointment: comment)."""
    text = "\n".join(ctx.enc.unescape(r) for r in ctx.reps(seg, 3))
    target = ctx.last
    if not text or target is None:
        return
    rtype = target["resourceType"]
    # the report's notes are its order's; in a result message TXA (the ORDER_DOCUMENT) has no NTE of its
    # own, so an NTE after it is the ORDER's (OUL_R22 ORDER: OBR, [ORC, [OBX, TXA]], NTE ...)
    in_order = rtype == "DiagnosticReport" or (rtype == "DocumentReference" and ctx.msg.message_type in _RESULT_MESSAGES)
    if in_order and isinstance(ctx.group.get("sr"), dict):
        target = ctx.group["sr"]
        rtype = "ServiceRequest"
    if rtype in _NOTE_TYPES:
        note: dict = {"text": text}
        author = ctx.practitioner(ctx.first(seg, 5)) if ctx.first(seg, 5) else None
        if author:
            note["authorReference"] = {"reference": author}
        when = dtm(ctx.leaf(seg, 6), ctx.tz, "NTE-6")
        if when:
            note["time"] = when
        target.setdefault("note", []).append(note)
    elif rtype == "Appointment":
        target["comment"] = f"{target['comment']}\n{text}" if "comment" in target else text
