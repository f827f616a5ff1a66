"""/api/v1/organizations and /api/v1/transactions: organizations on the ledger and their
multi-signature transfers (svc-organization). Every write answers 202 with the queued command."""

from __future__ import annotations

from fastapi import APIRouter

from gxcore.bodies import Ident
from gxcore.business import organizations
from gxcore.business.schemas import (
    AuthRuleIn,
    MultisigPage,
    MultisigTransferIn,
    OrganizationIn,
    OrganizationRead,
    OrgCommandAccepted,
    OrgCommandStatus,
)
from gxcore.http import ACCEPTED, Paging, Session
from gxcore.identity.principal import CurrentUser

router = APIRouter(tags=["organizations"])


@router.post("/organizations", status_code=ACCEPTED)
async def propose(body: OrganizationIn, user: CurrentUser, session: Session) -> OrgCommandAccepted:
    """Propose an organization (PROPOSE_ORGANIZATION): the caller and 1 to 19 other users."""
    return await organizations.propose(body, session=session, principal=user)


@router.get("/organizations/{org_id}")
async def get(org_id: Ident, user: CurrentUser, session: Session) -> OrganizationRead:
    """The organization as projected; its stakeholders and administrators only."""
    return await organizations.get(org_id, session=session, principal=user)


@router.post("/organizations/{org_id}/endorse", status_code=ACCEPTED)
async def endorse(org_id: Ident, user: CurrentUser, session: Session) -> OrgCommandAccepted:
    """The caller, a stakeholder, endorses (ENDORSE_MEMBERSHIP)."""
    return await organizations.endorse(org_id, session=session, principal=user)


@router.post("/organizations/{org_id}/activate", status_code=ACCEPTED)
async def activate(org_id: Ident, user: CurrentUser, session: Session) -> OrgCommandAccepted:
    """Open the organization's account once every stakeholder endorsed (ACTIVATE_ORGANIZATION)."""
    return await organizations.activate(org_id, session=session, principal=user)


@router.post("/organizations/{org_id}/rules", status_code=ACCEPTED)
async def define_rule(
    org_id: Ident, body: AuthRuleIn, user: CurrentUser, session: Session
) -> OrgCommandAccepted:
    """An approval rule for transfers above a threshold (DEFINE_AUTH_RULE)."""
    return await organizations.define_rule(org_id, body, session=session, principal=user)


@router.post("/organizations/{org_id}/transactions", status_code=ACCEPTED)
async def initiate(
    org_id: Ident, body: MultisigTransferIn, user: CurrentUser, session: Session
) -> OrgCommandAccepted:
    """A member proposes a transfer from the organization's account (INITIATE_MULTISIG_TX)."""
    return await organizations.initiate(org_id, body, session=session, principal=user)


@router.get("/organizations/{org_id}/transactions/pending")
async def pending(
    org_id: Ident, user: CurrentUser, session: Session, paging: Paging
) -> MultisigPage:
    """Transfers not executed yet, oldest first."""
    return await organizations.pending(org_id, session=session, principal=user, paging=paging)


@router.get("/organizations/{org_id}/commands/{command_id}")
async def command_status(
    org_id: Ident, command_id: Ident, user: CurrentUser, session: Session
) -> OrgCommandStatus:
    """A command queued for the organization; a ledger refusal's code is its `errorCode`."""
    return await organizations.command_status(org_id, command_id, session=session, principal=user)


@router.post("/transactions/{pending_tx_id}/approve", status_code=ACCEPTED)
async def approve(pending_tx_id: Ident, user: CurrentUser, session: Session) -> OrgCommandAccepted:
    """An approver approves (APPROVE_MULTISIG_TX); at the required count it executes."""
    return await organizations.approve(pending_tx_id, session=session, principal=user)
