"""The built-in step ``hl7v2_to_fhir``: an HL7v2 message becomes a FHIR R4 transaction Bundle.

Mapping follows the HL7 v2-to-FHIR IG spreadsheets segment by segment (see
docs/hl7v2-to-fhir.md); resources declare US Core 6.1 profiles they meet.  Every entry is an
idempotent upsert (see transforms/fhir/bundle.py), so replays never duplicate.

The walk is two passes: the first PID and PV1 are mapped first (SIU carries SCH before PID,
and every resource wants the patient and encounter), then every other segment in order, each
by the mapper registered for its name.  Unknown and Z-segments are skipped here; mapping code
can read them from the parsed message.
"""

from __future__ import annotations

from collections.abc import Callable

from hl7bridge.engine.errors import HL7BridgeError, ParseError, TransformError
from hl7bridge.transforms.fhir.bundle import BundleBuilder
from hl7bridge.transforms.hl7v2 import (
    seg_allergy_iam, seg_clinical, seg_device, seg_diet_supply, seg_dispense, seg_document, seg_finance, seg_lab,
    seg_medication, seg_notes, seg_order_groups, seg_orders, seg_patient, seg_pharmacy, seg_referral, seg_related,
    seg_results, seg_roles, seg_schedule, seg_specimen, seg_timing, seg_trial, seg_visit,
)
from hl7bridge.transforms.hl7v2.context import Ctx
from hl7bridge.transforms.hl7v2.datatypes import Comps, authority_system, dtm, instant
from hl7bridge.transforms.hl7v2.message import Message, Segment

__all__ = ["hl7v2_to_fhir", "SEGMENT_MAPPERS"]

Mapper = Callable[[Ctx, Segment], object]


def _pid(ctx: Ctx, seg: Segment) -> None:
    seg_patient.patient(ctx, seg)
    seg_related.mother(ctx, seg)


def _obx(ctx: Ctx, seg: Segment) -> None:
    if seg_document.document_content(ctx, seg) or seg_pharmacy.vaccine_observation(ctx, seg):
        return
    seg_results.observation(ctx, seg)
    seg_device.equipment_authorities(ctx, seg, ctx.last)  # OBX-18 authority-only repetitions
    seg_pharmacy.part_of_immunization(ctx)  # IG VXU_V04: an order OBX is partOf its Immunization
    seg_order_groups.support_order(ctx)  # IG order messages: ServiceRequest.supportingInfo


def _dg1(ctx: Ctx, seg: Segment) -> None:
    seg_clinical.diagnosis(ctx, seg)
    seg_order_groups.order_reason(ctx)  # IG order messages: ServiceRequest.reasonReference


def _obr(ctx: Ctx, seg: Segment) -> None:
    enclosing = seg_lab.enclosing_specimen(ctx)  # OUL_R22/R23: the SPM group holds the order
    seg_orders.obr(ctx, seg)
    seg_lab.report_details(ctx, seg, enclosing)  # result messages: report performers, OBR[Specimen]


SEGMENT_MAPPERS: dict[str, Mapper] = {
    "PD1": seg_patient.pd1, "NK1": seg_related.nk1, "ROL": seg_roles.role, "PRT": seg_roles.participation, "MRG": seg_patient.merge,
    "PV2": seg_visit.pv2, "DG1": _dg1, "PR1": seg_clinical.procedure, "AL1": seg_clinical.allergy,
    "IAM": seg_allergy_iam.allergy,
    "IN1": seg_finance.coverage, "GT1": seg_finance.guarantor, "FT1": seg_finance.charge,
    "ORC": seg_orders.orc, "OBR": _obr, "TQ1": seg_timing.tq1, "SPM": seg_specimen.spm, "NTE": seg_notes.nte,
    "SAC": seg_specimen.sac, "INV": seg_lab.inventory, "RF1": seg_referral.referral, "PRD": seg_referral.provider, "AUT": seg_referral.authorization,
    "ODS": seg_diet_supply.diet, "RQD": seg_diet_supply.requisition, "RQ1": seg_diet_supply.supplier,
    "OBX": _obx, "RXA": seg_pharmacy.immunization, "RXR": seg_pharmacy.route,
    "RXE": seg_pharmacy.medication_request, "RXO": seg_pharmacy.medication_request,
    "RXD": seg_dispense.dispense, "RXC": seg_medication.component, "CDO": seg_medication.cumulative_dose,
    "CTI": seg_trial.trial, "BLG": seg_trial.billing,
    "SCH": seg_schedule.appointment, "AIS": seg_schedule.service, "AIP": seg_schedule.resource_person,
    "AIL": seg_schedule.resource_location, "TXA": seg_document.document, "CON": seg_document.consent,
    "AIG": seg_schedule.resource_general, "RGS": seg_schedule.resource_group,
    "DB1": seg_patient.disability, "IN2": seg_related.insurance_extra, "ACC": seg_visit.accident,
    "PDA": seg_patient.death,
}


def hl7v2_to_fhir(message: str | bytes | Message, *, strict: bool = False, default_timezone: str = "Z") -> dict:
    """Convert one HL7v2 message to a FHIR R4 transaction Bundle (a plain dict).

    ``default_timezone`` (``Z`` or ``+HH:MM``) is used for timestamps without an offset when
    MSH-7 carries none either.  ``strict`` validates the Bundle with fhir.resources (R4B).
    Raises ParseError for unreadable input and TransformError when the message cannot be mapped;
    both name the HL7 position, never a value.
    """
    msg = message if isinstance(message, Message) else Message.parse(message)
    try:
        bundle = _convert(msg, default_timezone)
    except HL7BridgeError:
        raise
    except Exception as exc:  # never a bare exception out of a step: name where, not what
        raise TransformError(f"{type(exc).__name__} while building the Bundle", location="MSH") from exc
    if strict:
        from hl7bridge.transforms.fhir.validate import validate_bundle
        validate_bundle(bundle)
    return bundle


def _convert(msg: Message, default_timezone: str) -> dict:
    ctx = _context(msg, default_timezone)
    first_pid = msg.segment("PID")
    first_pv1 = msg.segment("PV1")
    for seg in (first_pid, first_pv1):
        if seg is not None:
            _map_segment(ctx, seg, 1)
    counts: dict[str, int] = {}
    for seg in msg:
        counts[seg.name] = counts.get(seg.name, 0) + 1
        if seg is first_pid or seg is first_pv1:
            ctx.last = ctx.patient_res if seg is first_pid else ctx.encounter_res  # what NTE / ROL attach to
        else:
            _map_segment(ctx, seg, counts[seg.name])
    for doc in ctx.bundle.resources("DocumentReference"):
        seg_document.finish_document(doc)
    seg_finance.finish_charges(ctx)
    seg_roles.finish_participants(ctx)  # PRT after ORC: onto the order the ORC started
    if not ctx.bundle.resources():
        raise TransformError("no FHIR resource could be built from this message", location="MSH-9")
    stamp = instant(_quiet_dtm(msg.get("MSH-7.1") or "", ctx.tz))
    bundle = ctx.bundle.to_bundle(timestamp=stamp)
    bundle["identifier"] = {"system": ctx.sender_system + ":message", "value": msg.control_id or ""}
    if not bundle["identifier"]["value"]:
        del bundle["identifier"]
    return bundle


def _map_segment(ctx: Ctx, seg: Segment, index: int) -> None:
    if seg.name in ("PID", "PV1"):
        mapper: Mapper | None = _pid if seg.name == "PID" else seg_visit.encounter
    else:
        mapper = SEGMENT_MAPPERS.get(seg.name)
    if mapper is None:
        return
    try:
        mapper(ctx, seg)
    except (ParseError, TransformError) as exc:
        if index > 1 and exc.location and exc.location.startswith(seg.name + "-"):
            located = f"{seg.name}[{index}]{exc.location[3:]}"
            raise type(exc)(exc.reason, location=located, hl7_code=exc.hl7_code) from exc
        raise
    except HL7BridgeError:
        raise
    except Exception as exc:  # a mapper bug must still surface as a specific, located error
        where = seg.name if index <= 1 else f"{seg.name}[{index}]"
        raise TransformError(f"{type(exc).__name__} while mapping segment {where}", location=where) from exc


def _context(msg: Message, default_timezone: str) -> Ctx:
    tz = default_timezone
    sent = _quiet_dtm(msg.get("MSH-7.1") or "", "")
    if sent and len(sent) > 19 and sent[-6] in "+-":
        tz = sent[-6:]
    sender_system = ""
    for path in ("MSH-4", "MSH-3"):
        raw = msg.get_raw(path)
        if raw:
            f = Comps(raw, msg.encoding)
            sender_system = authority_system(f.c(1), f.c(2), f.c(3))
            if sender_system:
                break
    scope = "|".join(msg.get_raw(p) or "" for p in ("MSH-3", "MSH-4", "MSH-10"))
    return Ctx(msg, BundleBuilder(scope), tz, sender_system or "urn:hl7bridge:id:unknown-sender")


def _quiet_dtm(text: str, tz: str) -> str | None:
    # MSH-7 only sets defaults; a bad MSH-7 must not stop the conversion.
    try:
        return dtm(text, tz or "Z", "MSH-7")
    except ParseError:
        return None
