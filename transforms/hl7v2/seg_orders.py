"""ORC and OBR: the entry points of an order group.

ORC opens an order group; the next OBR (or RXO / RXE / RXA, in seg_pharmacy; ODS / RQD in seg_diet_supply)
completes it.  Where the message structure puts ORC after its OBR (OUL_R22 / R23 / R24, OPU_R25) the OBR
takes the ORC that follows it (seg_order_groups.following_orc) and that ORC opens no group of its own.
OBR gives a ServiceRequest (seg_service_request); in result messages (ORU, OUL) also a DiagnosticReport
(seg_diagnostic_report) that collects the OBX results, in order messages the OBR[Specimen] (seg_lab).
"""

from __future__ import annotations

from hl7bridge.engine.errors import ParseError
from hl7bridge.transforms.hl7v2 import seg_lab
from hl7bridge.transforms.hl7v2.context import Ctx
from hl7bridge.transforms.hl7v2.datatypes import cwe
from hl7bridge.transforms.hl7v2.message import Segment
from hl7bridge.transforms.hl7v2.seg_diagnostic_report import report
from hl7bridge.transforms.hl7v2.seg_order_groups import following_orc
from hl7bridge.transforms.hl7v2.seg_order_identity import RESULT_MESSAGES, order_identifiers
from hl7bridge.transforms.hl7v2.seg_service_request import service_request
from hl7bridge.transforms.hl7v2.seg_timing import apply_pending

__all__ = ["orc", "obr"]

# DFT (P03, P11) carries the charged order's results after its OBR (the OBSERVATION group): they are reported
# as in a result message, but the report is only created, never updated, by a charge (the IG has no DFT map;
# the laboratory's ORU, not the billing feed, owns the report's status).
_CHARGE_MESSAGES = frozenset(("DFT",))
_REFERRAL_MESSAGES = frozenset(("REF", "RRI"))  # their OBR groups carry results, not specimen orders
# No OBR[Specimen] there: referral OBR groups carry results; the MDM_T02 message map (COMMON_ORDER,
# rows 17-26) makes the order's ServiceRequest only.
_NO_OBR_SPECIMEN = _REFERRAL_MESSAGES | {"MDM"}


def orc(ctx: Ctx, seg: Segment) -> None:
    """Remember the ORC for the detail segment that follows; an ORC its OBR already took changes nothing."""
    if ctx.group.get("orc") is seg:
        return
    ctx.group = {"orc": seg}


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
    sr_ref, sr = service_request(ctx, orc_seg, seg, code, idents)
    ctx.group = {"orc": orc_seg, "detail": seg, "sr": sr, "sr_ref": sr_ref, "sr_key": ctx.group.get("sr_key")}
    apply_pending(ctx, pending, sr)
    ctx.last = sr
    if ctx.msg.message_type in RESULT_MESSAGES:
        report(ctx, seg, code, idents, sr_ref)
    elif ctx.msg.message_type in _CHARGE_MESSAGES:
        report(ctx, seg, code, idents, sr_ref, create_only=True)
    elif ctx.msg.message_type not in _NO_OBR_SPECIMEN:
        _obr_specimen(ctx, seg, sr)


def _obr_specimen(ctx: Ctx, seg: Segment, sr: dict) -> None:
    """IG OBR[Specimen] in order messages (seg_lab builds it): the order's ``specimen``."""
    ref = seg_lab.obr_specimen(ctx, seg, f"obr|{ctx.group.get('sr_key', '')}")
    if ref:
        sr.setdefault("specimen", []).append({"reference": ref})
