"""Order-group extras: CTI (clinical trial) -> ResearchStudy, BLG-3 (billing account) -> Account.

The IG lists CTI and BLG in the order messages without a target; a pharmacy or order service still
wants to know the trial an order belongs to and the account it is billed to, so both are referenced
from the order's supportingInformation (MedicationRequest) / supportingInfo (ServiceRequest).
"""

from __future__ import annotations

from hl7bridge.transforms.hl7v2.context import Ctx
from hl7bridge.transforms.hl7v2.datatypes import Comps, cwe, ei
from hl7bridge.transforms.hl7v2.message import Segment

__all__ = ["trial", "billing"]


def trial(ctx: Ctx, seg: Segment) -> None:
    """CTI-1 sponsor study id -> ResearchStudy.identifier, CTI-2 study phase -> phase."""
    ident = ei(ctx.first(seg, 1), ctx.enc, ctx.sender_system)
    if ident is None:
        return
    kind = Comps(ctx.first(seg, 1), ctx.enc).c(4)
    if kind:  # EI.4 universal id type (table 0301), as EI[Identifier-System] row 4 types it
        ident["type"] = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0301", "code": kind}]}
    # an order placed under a trial names a running study
    study: dict = {"resourceType": "ResearchStudy", "identifier": [ident], "status": "active"}
    phase = cwe(ctx.first(seg, 2), ctx.enc)
    if phase:
        study["phase"] = phase
    ref = ctx.bundle.add(study, f"ResearchStudy|{ident.get('system', '')}|{ident['value']}", ident, create_only=True)
    _support(ctx, ref)


def billing(ctx: Ctx, seg: Segment) -> None:
    """BLG-3 account id (CX) -> the Account the order is billed to (only referenced: a conditional create)."""
    text = ctx.first(seg, 3)
    ident = ctx.identifier(text) if text else None
    if ident is None:
        return
    account: dict = {"resourceType": "Account", "identifier": [ident], "status": "active"}
    ctx.subject(account, "subject", required=False)
    if "subject" in account:
        account["subject"] = [account["subject"]]
    ref = ctx.bundle.add(account, f"Account|{ident.get('system', '')}|{ident['value']}", ident, create_only=True)
    _support(ctx, ref)


def _support(ctx: Ctx, ref: str) -> None:
    request = ctx.group.get("mr") if isinstance(ctx.group.get("mr"), dict) else ctx.group.get("sr")
    if not isinstance(request, dict):
        return
    element = "supportingInformation" if request["resourceType"] == "MedicationRequest" else "supportingInfo"
    if {"reference": ref} not in request.get(element, []):
        request.setdefault(element, []).append({"reference": ref})
