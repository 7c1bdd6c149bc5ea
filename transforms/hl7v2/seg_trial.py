"""CTI (clinical trial identification) -> ResearchStudy, supporting the order it follows.

The IG lists CTI in the order messages without a target; a pharmacy or order service still wants
to know that an order belongs to a trial, so the study is referenced from the order's
supportingInformation (MedicationRequest) / supportingInfo (ServiceRequest).
"""

from __future__ import annotations

from hl7bridge.transforms.hl7v2.context import Ctx
from hl7bridge.transforms.hl7v2.datatypes import cwe, ei
from hl7bridge.transforms.hl7v2.message import Segment

__all__ = ["trial"]


def trial(ctx: Ctx, seg: Segment) -> None:
    """CTI-1 sponsor study id -> ResearchStudy.identifier, CTI-2 study phase -> phase."""
    ident = ei(ctx.first(seg, 1), ctx.enc, ctx.sender_system)
    if ident is None:
        return
    study: dict = {"resourceType": "ResearchStudy", "identifier": [ident], "status": "active"}  # an order names a running trial
    phase = cwe(ctx.first(seg, 2), ctx.enc)
    if phase:
        study["phase"] = phase
    ref = ctx.bundle.add(study, f"ResearchStudy|{ident.get('system', '')}|{ident['value']}", ident, create_only=True)
    request = ctx.group.get("mr") if isinstance(ctx.group.get("mr"), dict) else ctx.group.get("sr")
    if not isinstance(request, dict):
        return
    element = "supportingInformation" if request["resourceType"] == "MedicationRequest" else "supportingInfo"
    if {"reference": ref} not in request.get(element, []):
        request.setdefault(element, []).append({"reference": ref})
