"""Which order an ORC, PRT, OBX or DG1 belongs to, where the message structure does not say it by position.

Where the structure puts ORC after its OBR (OUL_R22 / R23 / R24, OPU_R25) the OBR takes the ORC that
follows it (``following_orc``) and that ORC opens no group of its own; PRTs after that ORC join the
OBR's order.  In order messages an OBX or DG1 in an order group supports or explains its ServiceRequest.
"""

from __future__ import annotations

from hl7bridge.transforms.hl7v2.context import Ctx
from hl7bridge.transforms.hl7v2.message import Segment
from hl7bridge.transforms.hl7v2.seg_order_identity import RESULT_MESSAGES

__all__ = ["following_orc", "support_order", "order_reason"]

# Message structures whose ORDER group has the OBR first, then its PRTs, then [ORC (COMMON_ORDER)]: v2.5.1 to
# v2.8.2 OUL_R22 / OUL_R23 / OUL_R24 and (from v2.6) OPU_R25.  Every other order structure starts with ORC.
_ORC_AFTER_OBR = frozenset((("OUL", "R22"), ("OUL", "R23"), ("OUL", "R24"), ("OPU", "R25")))


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


def _ref_of(ctx: Ctx, res: dict) -> str | None:
    for entry in reversed(ctx.bundle.entries):
        if entry["resource"] is res:
            return entry["fullUrl"]
    return None


def _order_in_group(ctx: Ctx) -> dict | None:
    """The ServiceRequest of the current ORC / OBR group of an order message, else None."""
    sr, detail = ctx.group.get("sr"), ctx.group.get("detail")
    if ctx.msg.message_type in RESULT_MESSAGES or not isinstance(sr, dict):
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
