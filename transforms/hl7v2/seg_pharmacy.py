"""RXA, RXR, RXE and RXO to Immunization and MedicationRequest (IG RXA[Immunization], RXO[MedicationRequest]).

Medication, RXC, CDO and pharmacy helpers live in seg_medication; RXD in seg_dispense."""

from __future__ import annotations

from hl7bridge.engine.errors import ParseError
from hl7bridge.transforms.fhir.profiles import profiled
from hl7bridge.transforms.hl7v2 import seg_medication
from hl7bridge.transforms.hl7v2.codes import THO, V2, lookup
from hl7bridge.transforms.hl7v2.context import Ctx
from hl7bridge.transforms.hl7v2.datatypes import Comps, cwe, date_of, dtm, number, table_concept, xad
from hl7bridge.transforms.hl7v2.message import Segment
from hl7bridge.transforms.hl7v2.seg_medication import PRESCRIPTION_TYPE
from hl7bridge.transforms.hl7v2.seg_order_identity import order_identifiers, order_requester, order_status, ordering_facility
from hl7bridge.transforms.hl7v2.seg_timing import apply_pending

__all__ = ["immunization", "route", "medication_request", "vaccine_observation"]

_MR_STATUS = {"revoked": "cancelled", "completed": "completed", "active": "active", "on-hold": "on-hold",
              "entered-in-error": "entered-in-error", "draft": "draft"}


def _orc(ctx: Ctx) -> Segment | None:
    seg = ctx.group.get("orc")
    return seg if isinstance(seg, Segment) and not ctx.group.get("detail") else None


def _key(ctx: Ctx, rtype: str, idents: list[dict], fallback: str) -> tuple[str, dict | None]:
    ident = next((i for i in idents if i["type"]["coding"][0]["code"] == "FILL"), idents[0] if idents else None)
    if ident:
        return f"{rtype}|{ident.get('system', '')}|{ident['value']}", ident
    return f"{rtype}|{ctx.patient_key}|{fallback}", None


def immunization(ctx: Ctx, seg: Segment) -> None:
    """RXA (+ ORC) -> Immunization (US Core)."""
    orc_seg = _orc(ctx)
    vaccine = cwe(ctx.first(seg, 5), ctx.enc)
    if vaccine is None:
        raise ParseError("required field RXA-5 (administered code) is empty", location="RXA-5", hl7_code=101)
    occurred = dtm(ctx.leaf(seg, 3), ctx.tz, "RXA-3")
    if occurred is None:
        raise ParseError("required field RXA-3 (start of administration) is empty", location="RXA-3", hl7_code=101)
    res = profiled({"resourceType": "Immunization"}, "us-core-immunization")
    idents = order_identifiers(ctx, orc_seg, None)
    if idents:
        res["identifier"] = idents
    completion = lookup("CompletionStatus", ctx.leaf(seg, 20))
    res["status"] = "entered-in-error" if ctx.leaf(seg, 21) == "D" else completion[0] if completion else "completed"
    res["vaccineCode"] = vaccine
    ctx.subject(res, "patient")
    if ctx.encounter:
        res["encounter"] = {"reference": ctx.encounter}
    res["occurrenceDateTime"] = occurred
    _source(ctx, seg, res)
    dose = ctx.leaf(seg, 6)
    if dose and dose != "999":
        quantity: dict = {"value": number(dose, "RXA-6")}
        unit = Comps(ctx.first(seg, 7), ctx.enc)
        if unit.c(1):
            quantity.update(unit=unit.c(2) or unit.c(1), code=unit.c(1), system="http://unitsofmeasure.org")
        res["doseQuantity"] = quantity
    _lot(ctx, seg, res)
    performers = [({"coding": [{"system": THO + "v2-0443", "code": "AP", "display": "Administering Provider"}]}, r)
                  for r in (ctx.practitioner(x) for x in ctx.reps(seg, 10)) if r]
    if orc_seg is not None:  # IG ORC[Immunization]: ORC-12 as a PractitionerRole (XCN[PractitionerRole])
        performers += [({"coding": [{"system": THO + "v2-0443", "code": "OP", "display": "Ordering Provider"}]}, r)
                       for r in (ctx.practitioner_role(x, V2 + "0443", "OP") for x in ctx.reps(orc_seg, 12)) if r]
    if performers:
        res["performer"] = [{"function": f, "actor": {"reference": r}} for f, r in performers]
    reason = cwe(ctx.first(seg, 18), ctx.enc)
    if reason:
        res["statusReason"] = reason
    _administered_at(ctx, seg, res)
    key, ident = _key(ctx, "Immunization", idents, f"{vaccine.get('coding', [{}])[0].get('code', '')}|{occurred}")
    ctx.bundle.add(res, key, ident)
    pending = ctx.group.get("pending_tq1", [])
    vxu = orc_seg is not None and ctx.msg.message_type == "VXU"
    order = _vaccine_order(ctx, orc_seg, idents, pending) if vxu and orc_seg is not None else None
    ctx.group = {"orc": orc_seg, "detail": seg, "imm": res, "owner_key": key, "order": order}
    ctx.last = res


def _vaccine_order(ctx: Ctx, orc_seg: Segment, idents: list[dict], pending: list) -> str | None:
    """IG VXU_V04 ORDER.ORC: the order that led to the immunization as a ServiceRequest (ORC[ServiceRequest]),
    with the TQ1s of the order group; only when the ORC numbers the order."""
    if not idents:
        return None
    order: dict = {"resourceType": "ServiceRequest", "identifier": [dict(i) for i in idents],
                   "status": order_status(ctx, orc_seg, "unknown"), "intent": "order"}
    ctx.subject(order)
    if ctx.encounter:
        order["encounter"] = {"reference": ctx.encounter}
    authored = dtm(ctx.leaf(orc_seg, 9), ctx.tz, "ORC-9")
    if authored and ctx.leaf(orc_seg, 1) == "NW":
        order["authoredOn"] = authored
    requester = order_requester(ctx, orc_seg)
    if requester:
        order["requester"] = {"reference": requester}
    key, ident = _key(ctx, "ServiceRequest", idents, "")
    ref = ctx.bundle.add(order, key, ident)
    apply_pending(ctx, pending, order)
    return ref


def _source(ctx: Ctx, seg: Segment, res: dict) -> None:
    """RXA-9 (NIP001): 00 new record -> primarySource; the IG leaves RXA-9 to realm guides, and the US CDC
    guide maps it to ``reportOrigin`` as well."""
    note = cwe(ctx.first(seg, 9), ctx.enc)
    source = ctx.leaf(seg, 9)
    if source in ("00", "01"):
        res["primarySource"] = source == "00"
    if note and source:
        res["reportOrigin"] = note


def _administered_at(ctx: Ctx, seg: Segment, res: dict) -> None:
    """IG RXA-27 (PL) -> Immunization.location, RXA-28 (XAD) -> that Location's (and its parents') address."""
    place = ctx.location(ctx.first(seg, 27)) if ctx.first(seg, 27) else None
    if place is None:
        return
    res["location"] = {"reference": place}
    address = xad(ctx.first(seg, 28), ctx.enc) if ctx.first(seg, 28) else None
    by_url = {e["fullUrl"]: e["resource"] for e in ctx.bundle.entries} if address else {}
    target, seen = by_url.get(place), set()
    while target is not None and id(target) not in seen:  # every level of the PL hierarchy stands at that address
        seen.add(id(target))
        target.setdefault("address", address)
        target = by_url.get(target.get("partOf", {}).get("reference", ""))


def _lot(ctx: Ctx, seg: Segment, res: dict) -> None:
    lot = ctx.leaf(seg, 15)
    if lot:
        res["lotNumber"] = lot
    expires = dtm(ctx.leaf(seg, 16), ctx.tz, "RXA-16")
    if expires:
        res["expirationDate"] = date_of(expires)
    maker = Comps(ctx.first(seg, 17), ctx.enc)
    if maker.c(1) or maker.c(2):
        org: dict = {"resourceType": "Organization", "active": True, "name": maker.c(2) or maker.c(1)}
        ident = None
        if maker.c(1):
            ident = {"system": THO + "MVX", "value": maker.c(1)}
            org["identifier"] = [ident]
        profiled(org, "us-core-organization")
        res["manufacturer"] = {"reference": ctx.bundle.add(org, f"Organization|mvx|{maker.c(1)}|{maker.c(2)}", ident, create_only=True)}


def route(ctx: Ctx, seg: Segment) -> None:
    """RXR-1 route and RXR-2 site -> the current Immunization, or the dosage of the current order / dispense
    (IG RXR[MedicationRequest]: also RXR-4 method and RXR-5 routing instruction)."""
    routed = cwe(ctx.first(seg, 1), ctx.enc)
    site = cwe(ctx.first(seg, 2), ctx.enc)
    imm = ctx.group.get("imm")
    if isinstance(imm, dict):
        if routed:
            imm["route"] = routed
        if site:
            imm["site"] = site
        return
    target = ctx.group.get("dosed")
    if not isinstance(target, dict):
        return
    dosage = target.setdefault("dosageInstruction", [{}])[0]
    for key, value in (("route", routed), ("site", site), ("method", cwe(ctx.first(seg, 4), ctx.enc))):
        if value:
            dosage[key] = value
    routing = cwe(ctx.first(seg, 5), ctx.enc)
    if routing:
        dosage.setdefault("additionalInstruction", []).append(routing)


# RXO / RXE field numbers (RXE has no IG sheet: its fields follow the RXO sheet's mapping).
_FIELDS = {
    "RXO": {"code": 1, "min": 2, "max": 3, "units": 4, "form": 5, "admin": 7, "subst": 9, "amount": 11,
            "amount_units": 12, "refills": 13, "provider": 14, "strength": 18, "strength_units": 19,
            "indication": 20, "rate": 21, "rate_units": 22, "daily": 23, "volume": 25, "volume_units": 26,
            "interval": 28, "pharmacy": 32, "pharmacy_address": 33, "pharmacy_phone": 36},
    "RXE": {"code": 2, "min": 3, "max": 4, "units": 5, "form": 6, "admin": 7, "subst": 9, "amount": 10,
            "amount_units": 11, "refills": 12, "provider": 13, "prescription": 15, "daily": 19, "rate": 23,
            "rate_units": 24, "strength": 25, "strength_units": 26, "indication": 27, "volume": 33,
            "volume_units": 34, "initial": 39, "pharmacy": 40, "pharmacy_address": 41, "pharmacy_phone": 45},
}
_ORDERED = {"coding": [{"system": THO + "dose-rate-type", "code": "ordered", "display": "Ordered"}]}


def _order_orc(ctx: Ctx, seg: Segment) -> tuple[Segment | None, dict | None]:
    """The group's ORC, and the RXO request an RXE of the same ORC group encodes (RDE_O11 / RDS_O13)."""
    orc_seg = ctx.group.get("orc")
    detail = ctx.group.get("detail")
    if not isinstance(orc_seg, Segment):
        return None, None
    if detail is None:
        return orc_seg, None
    encodes_rxo = isinstance(detail, Segment) and detail.name == "RXO" and isinstance(ctx.group.get("mr"), dict)
    if seg.name == "RXE" and encodes_rxo:
        return orc_seg, ctx.group["mr"]
    return None, None


def medication_request(ctx: Ctx, seg: Segment) -> None:
    """RXO (IG RXO[MedicationRequest]) or RXE (+ ORC) -> MedicationRequest (US Core) and its Medication."""
    fields = _FIELDS[seg.name]
    orc_seg, placed = _order_orc(ctx, seg)
    medication = cwe(ctx.first(seg, fields["code"]), ctx.enc)
    if medication is None:
        where = f"{seg.name}-{fields['code']}"
        raise ParseError(f"required field {where} (medication code) is empty", location=where, hl7_code=101)
    res = profiled({"resourceType": "MedicationRequest"}, "us-core-medicationrequest")
    idents = order_identifiers(ctx, orc_seg, None)
    prescription = ctx.leaf(seg, fields["prescription"]) if "prescription" in fields else ""
    rx_ident = {"system": ctx.sender_system, "value": prescription, "type": PRESCRIPTION_TYPE} if prescription else None
    if idents or rx_ident:
        res["identifier"] = idents + ([rx_ident] if rx_ident else [])
    res["status"] = _MR_STATUS.get(order_status(ctx, orc_seg, "active"), "unknown")
    res["intent"] = "original-order" if seg.name == "RXO" else "order"  # IG RXO[MedicationRequest]
    authored = dtm(ctx.leaf(orc_seg, 9), ctx.tz, "ORC-9") if orc_seg is not None else None
    key, ident = _request_key(ctx, idents, rx_ident, placed, medication, authored)
    res["medicationReference"] = {"reference": medication_resource(ctx, key, medication,
                                                                  cwe(ctx.first(seg, fields["form"]), ctx.enc))}
    _strength(ctx, seg, fields, medication)
    ctx.subject(res)
    if ctx.encounter:
        res["encounter"] = {"reference": ctx.encounter}
    if authored:
        res["authoredOn"] = authored
    _people(ctx, orc_seg, seg, fields, res)
    if "requester" not in res:
        del res["meta"]  # US Core us-core-21: an order names its orderer (ORC-12, RXO-14 / RXE-13) to claim it
    if placed is not None:
        res["basedOn"] = [{"reference": ctx.bundle.ref(str(ctx.group.get("owner_key"))) or ""}]
        if not res["basedOn"][0]["reference"]:
            del res["basedOn"]
    reason = [c for c in (cwe(r, ctx.enc) for r in ctx.reps(seg, fields["indication"])) if c]
    if reason:
        res["reasonCode"] = reason
    _dosage(ctx, seg, fields, res)
    _dispense_request(ctx, seg, fields, res)
    substitution = table_concept(ctx.leaf(seg, fields["subst"]), "", "0161")
    if substitution:
        res["substitution"] = {"allowedCodeableConcept": substitution}
    ctx.bundle.add(res, key, ident)
    pending = ctx.group.get("pending_tq1", [])
    ctx.group = {"orc": orc_seg, "detail": seg, "mr": res, "owner_key": key, "dosed": res,
                 "med": ctx.group.get("med")}
    apply_pending(ctx, pending, res)
    ctx.last = res


def medication_resource(ctx: Ctx, owner_key: str, code: dict, form: dict | None) -> str:
    """The Medication the order references (IG ``medication(Medication.code)``, RXO-5 ``Medication.form``)."""
    return seg_medication.medication(ctx, owner_key, code, form)


def _request_key(ctx: Ctx, idents: list[dict], rx_ident: dict | None, placed: dict | None,
                 medication: dict, authored: str | None) -> tuple[str, dict | None]:
    """The upsert key: the prescription number, else the order number (an RXE encoding an RXO of the same
    ORC must not claim the RXO's order number for its conditional update, so it is keyed under it)."""
    rx_key = f"MedicationRequest|{rx_ident['system']}|{rx_ident['value']}" if rx_ident else ""
    if rx_ident and ctx.bundle.ref(rx_key) is None:  # a number repeated in one message keys the later order apart
        return rx_key, rx_ident
    if placed is not None:
        return f"{ctx.group.get('owner_key')}|encoded", None
    code = medication.get("coding", [{}])[0].get("code", "")
    key, ident = _key(ctx, "MedicationRequest", idents, f"{code}|{authored}")
    if ctx.bundle.ref(key) is not None:  # an order number repeated by another group: a request of its own
        return f"{key}|{code}|{len(ctx.bundle.entries)}", None
    return key, ident


def _strength(ctx: Ctx, seg: Segment, fields: dict, medication: dict) -> None:
    """RXO-18/19 (RXE-25/26) per RXO-25/26 (RXE-33/34) -> the Medication's ingredient strength."""
    strength = seg_medication.quantity(ctx, ctx.leaf(seg, fields["strength"]), ctx.first(seg, fields["strength_units"]),
                                       f"{seg.name}-{fields['strength']}")
    med = ctx.group.get("med")
    if strength is None or not isinstance(med, dict):
        return
    per = seg_medication.quantity(ctx, ctx.leaf(seg, fields["volume"]), ctx.first(seg, fields["volume_units"]),
                                  f"{seg.name}-{fields['volume']}") or {"value": 1}
    med.setdefault("ingredient", []).append({"itemCodeableConcept": medication,
                                             "strength": {"numerator": strength, "denominator": per}})


def _people(ctx: Ctx, orc_seg: Segment | None, seg: Segment, fields: dict, res: dict) -> None:
    """Requester: ORC-12 (else RXO-14 / RXE-13) as the ordering PractitionerRole of the ORC-21 facility;
    recorder: ORC-10 entered by, else ORC-19 action by."""
    xcn = (ctx.first(orc_seg, 12) if orc_seg is not None else "") or ctx.first(seg, fields["provider"])
    org = ordering_facility(ctx, orc_seg)
    requester = ctx.practitioner_role(xcn, V2 + "0443", "OP", org) if xcn else None
    if requester:
        res["requester"] = {"reference": requester}
    entered = ctx.first(orc_seg, 10) if orc_seg is not None else ""
    if entered:  # v2 table 0443 EP: entering provider
        recorder = ctx.practitioner_role(entered, V2 + "0443", "EP")
    else:
        action_by = ctx.first(orc_seg, 19) if orc_seg is not None else ""
        recorder = ctx.practitioner_role(action_by, "", "") if action_by else None
    if recorder:
        res["recorder"] = {"reference": recorder}


def _dosage(ctx: Ctx, seg: Segment, fields: dict, res: dict) -> None:
    name = seg.name
    dosage: dict = {}
    dose = _dose(ctx, seg, fields)
    rate = _st_number(ctx.leaf(seg, fields["rate"]))
    if dose or rate is not None:
        entry = dict(dose or {})
        if rate is not None:
            entry["rateQuantity"] = {"value": rate, **_units(ctx, ctx.first(seg, fields["rate_units"]))}
        dosage["doseAndRate"] = [entry]
    if name == "RXO":
        pharmacy_text = cwe(ctx.first(seg, 6), ctx.enc)
        text = (pharmacy_text or {}).get("text") or (pharmacy_text or {}).get("coding", [{}])[0].get("display", "")
        if text:
            dosage["text"] = text
    coded, spoken = [], []
    for rep in ctx.reps(seg, fields["admin"]):
        concept = cwe(rep, ctx.enc)
        if concept and concept.get("coding"):
            coded.append(concept)
        elif concept and concept.get("text"):
            spoken.append(concept["text"])
    if coded:
        dosage["additionalInstruction"] = coded
    if spoken:
        dosage["patientInstruction"] = "\n".join(spoken)
    daily = seg_medication.cq_quantity(ctx, ctx.first(seg, fields["daily"]), f"{name}-{fields['daily']}")
    if daily:
        dosage["maxDosePerPeriod"] = seg_medication.per_day(daily)
    if dosage:
        res["dosageInstruction"] = [dosage]


def _dose(ctx: Ctx, seg: Segment, fields: dict) -> dict | None:
    """Give amount: a range when a maximum is given, else the (exact) minimum; RXO's is the ordered dose."""
    units = ctx.first(seg, fields["units"])
    low = seg_medication.quantity(ctx, ctx.leaf(seg, fields["min"]), units, f"{seg.name}-{fields['min']}")
    high = seg_medication.quantity(ctx, ctx.leaf(seg, fields["max"]), units, f"{seg.name}-{fields['max']}")
    if low is None and high is None:
        return None
    out: dict = {"type": _ORDERED} if seg.name == "RXO" else {}
    if high is not None:
        out["doseRange"] = {k: v for k, v in (("low", low), ("high", high)) if v}
    else:
        out["doseQuantity"] = low
    return out


def _dispense_request(ctx: Ctx, seg: Segment, fields: dict, res: dict) -> None:
    name = seg.name
    units = ctx.first(seg, fields["amount_units"])
    request: dict = {}
    amount = seg_medication.quantity(ctx, ctx.leaf(seg, fields["amount"]), units, f"{name}-{fields['amount']}")
    initial = seg_medication.quantity(ctx, ctx.leaf(seg, fields["initial"]), units,
                                      f"{name}-{fields['initial']}") if "initial" in fields else None
    if initial:
        request["initialFill"] = {"quantity": initial}
    interval = ctx.leaf(seg, fields["interval"]) if "interval" in fields else ""
    if interval:
        request["dispenseInterval"] = {"value": number(interval, f"{name}-{fields['interval']}"), "unit": "days",
                                       "system": seg_medication.UCUM, "code": "d"}
    refills = ctx.leaf(seg, fields["refills"])
    if refills.isdigit():
        request["numberOfRepeatsAllowed"] = int(refills)
    if amount:
        request["quantity"] = amount
    performer = seg_medication.pharmacy(ctx, seg, fields["pharmacy"], fields["pharmacy_address"], fields["pharmacy_phone"])
    if performer:
        request["performer"] = {"reference": performer}
    if request:
        res["dispenseRequest"] = request


def _units(ctx: Ctx, text: str) -> dict:
    f = Comps(text, ctx.enc)
    return seg_medication.unit_fields(f.c(1), f.c(2), f.c(3)) if text else {}


def _st_number(text: str) -> int | float | None:
    """A number carried in an ST field (RXO-21 / RXE-23 rate): None when it is not one."""
    try:
        value = float(text)
    except ValueError:
        return None
    return int(value) if value.is_integer() and "." not in text else value


# VXU OBX codes the IG maps onto the Immunization itself rather than onto an Observation.
_VACCINE_FACTS = {"64994-7": "programEligibility", "30963-3": "fundingSource"}


def vaccine_observation(ctx: Ctx, seg: Segment) -> bool:
    """Map a VXU OBX about the current Immunization onto it; False when it is an ordinary Observation."""
    imm = ctx.group.get("imm")
    if not isinstance(imm, dict):
        return False
    code = Comps(ctx.first(seg, 3), ctx.enc).c(1)
    target = _VACCINE_FACTS.get(code)
    if target is None:
        return False
    value = cwe(ctx.first(seg, 5), ctx.enc)
    if value:
        if target == "programEligibility":
            imm.setdefault(target, []).append(value)
        else:
            imm[target] = value
    return True


def part_of_immunization(ctx: Ctx) -> None:
    """IG VXU_V04 ORDER.OBSERVATION: an Observation of the order group is ``partOf`` its Immunization."""
    imm = ctx.group.get("imm")
    obs = ctx.last
    if not isinstance(imm, dict) or not isinstance(obs, dict) or obs.get("resourceType") != "Observation":
        return
    ref = ctx.bundle.ref(str(ctx.group.get("owner_key")))
    if ref and {"reference": ref} not in obs.get("partOf", []):
        obs.setdefault("partOf", []).append({"reference": ref})
    order = ctx.group.get("order")
    if isinstance(order, str) and {"reference": order} not in obs.get("basedOn", []):
        obs.setdefault("basedOn", []).append({"reference": order})
