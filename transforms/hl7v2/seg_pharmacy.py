"""RXA, RXR, RXE and RXO to Immunization and MedicationRequest (IG RXA[Immunization], RXO/RXE)."""

from __future__ import annotations

from hl7bridge.engine.errors import ParseError
from hl7bridge.transforms.fhir.profiles import profiled
from hl7bridge.transforms.hl7v2.codes import THO, lookup
from hl7bridge.transforms.hl7v2.context import Ctx
from hl7bridge.transforms.hl7v2.datatypes import Comps, cwe, date_of, dtm, number, xad
from hl7bridge.transforms.hl7v2.message import Segment
from hl7bridge.transforms.hl7v2.seg_orders import order_identifiers, order_status
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
    source = ctx.leaf(seg, 9)
    if source in ("00", "01"):
        res["primarySource"] = source == "00"
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
    if orc_seg is not None:
        performers += [({"coding": [{"system": THO + "v2-0443", "code": "OP", "display": "Ordering Provider"}]}, r)
                       for r in (ctx.practitioner(x) for x in ctx.reps(orc_seg, 12)) if r]
    if performers:
        res["performer"] = [{"function": f, "actor": {"reference": r}} for f, r in performers]
    reason = cwe(ctx.first(seg, 18), ctx.enc)
    if reason:
        res["statusReason"] = reason
    _administered_at(ctx, seg, res)
    key, ident = _key(ctx, "Immunization", idents, f"{vaccine.get('coding', [{}])[0].get('code', '')}|{occurred}")
    ctx.bundle.add(res, key, ident)
    ctx.group = {"orc": orc_seg, "detail": seg, "imm": res, "owner_key": key}
    ctx.last = res


def _administered_at(ctx: Ctx, seg: Segment, res: dict) -> None:
    """IG RXA-27 (PL) -> Immunization.location, RXA-28 (XAD) -> that Location's address."""
    place = ctx.location(ctx.first(seg, 27)) if ctx.first(seg, 27) else None
    if place is None:
        return
    res["location"] = {"reference": place}
    address = xad(ctx.first(seg, 28), ctx.enc) if ctx.first(seg, 28) else None
    target = next((e["resource"] for e in ctx.bundle.entries if e["fullUrl"] == place), None) if address else None
    if target is not None and "address" not in target:
        target["address"] = address


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
    """RXR-1 route and RXR-2 site -> the current Immunization or MedicationRequest dosage."""
    routed = cwe(ctx.first(seg, 1), ctx.enc)
    site = cwe(ctx.first(seg, 2), ctx.enc)
    imm = ctx.group.get("imm")
    if isinstance(imm, dict):
        if routed:
            imm["route"] = routed
        if site:
            imm["site"] = site
        return
    mr = ctx.group.get("mr")
    if isinstance(mr, dict):
        dosage = mr.setdefault("dosageInstruction", [{}])[0]
        if routed:
            dosage["route"] = routed
        if site:
            dosage["site"] = site


def medication_request(ctx: Ctx, seg: Segment) -> None:
    """RXE (give code RXE-2) or RXO (requested give code RXO-1) + ORC -> MedicationRequest (US Core)."""
    orc_seg = _orc(ctx)
    is_rxe = seg.name == "RXE"
    medication = cwe(ctx.first(seg, 2 if is_rxe else 1), ctx.enc)
    if medication is None:
        where = "RXE-2" if is_rxe else "RXO-1"
        raise ParseError(f"required field {where} (medication code) is empty", location=where, hl7_code=101)
    res = profiled({"resourceType": "MedicationRequest"}, "us-core-medicationrequest")
    idents = order_identifiers(ctx, orc_seg, None)
    if idents:
        res["identifier"] = idents
    res["status"] = _MR_STATUS.get(order_status(ctx, orc_seg, "active"), "unknown")
    res["intent"] = "order"
    res["medicationCodeableConcept"] = medication
    ctx.subject(res)
    if ctx.encounter:
        res["encounter"] = {"reference": ctx.encounter}
    authored = dtm(ctx.leaf(orc_seg, 9), ctx.tz, "ORC-9") if orc_seg is not None else None
    if authored:
        res["authoredOn"] = authored
    requester = ctx.requester(orc_seg)
    if requester:
        res["requester"] = {"reference": requester}
    _dosage(ctx, seg, res, is_rxe)
    key, ident = _key(ctx, "MedicationRequest", idents, f"{medication.get('coding', [{}])[0].get('code', '')}|{authored}")
    ctx.bundle.add(res, key, ident)
    pending = ctx.group.get("pending_tq1", [])
    ctx.group = {"orc": orc_seg, "detail": seg, "mr": res, "owner_key": key}
    apply_pending(ctx, pending, res)
    ctx.last = res


def _dosage(ctx: Ctx, seg: Segment, res: dict, is_rxe: bool) -> None:
    amount_n, unit_n = (3, 5) if is_rxe else (2, 4)
    amount = ctx.leaf(seg, amount_n)
    dosage: dict = {}
    if amount:
        dose: dict = {"value": number(amount, f"{seg.name}-{amount_n}")}
        unit = Comps(ctx.first(seg, unit_n), ctx.enc)
        if unit.c(1):
            dose.update(unit=unit.c(2) or unit.c(1), code=unit.c(1), system="http://unitsofmeasure.org")
        dosage["doseAndRate"] = [{"doseQuantity": dose}]
    instructions = cwe(ctx.first(seg, 7 if is_rxe else 6), ctx.enc)
    if instructions:
        dosage["text"] = instructions.get("text") or instructions.get("coding", [{}])[0].get("display", "")
        if not dosage["text"]:
            del dosage["text"]
    if dosage:
        res["dosageInstruction"] = [dosage]
    dispense_n, refills_n = (10, 12) if is_rxe else (11, 13)
    dispense = ctx.leaf(seg, dispense_n)
    request: dict = {}
    if dispense:
        request["quantity"] = {"value": number(dispense, f"{seg.name}-{dispense_n}")}
    refills = ctx.leaf(seg, refills_n)
    if refills.isdigit():
        request["numberOfRepeatsAllowed"] = int(refills)
    if request:
        res["dispenseRequest"] = request


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
