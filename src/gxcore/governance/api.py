"""/api/v1: governance proposals, votes and their execution (svc-governance)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from gxcore.bodies import Ident
from gxcore.governance import service
from gxcore.governance.schemas import (
    ProposalAccepted,
    ProposalCreate,
    ProposalPage,
    ProposalRead,
    VoteIn,
)
from gxcore.http import ACCEPTED, Now, Paging, Session
from gxcore.identity.principal import CurrentUser
from gxcore.wallet.schemas import CommandAccepted

router = APIRouter(tags=["governance"])


@router.post("/proposals", status_code=ACCEPTED)
async def propose(body: ProposalCreate, user: CurrentUser, session: Session) -> ProposalAccepted:
    """Propose a new value for a ledger parameter; open for votes once the ledger records it."""
    return await service.submit(body, session=session, principal=user)


@router.get("/proposals")
async def proposals(
    user: CurrentUser,
    session: Session,
    now: Now,
    paging: Paging,
    status: Annotated[Literal["OPEN", "EXECUTED"], Query()] = "OPEN",
) -> ProposalPage:
    """Proposals not yet executed (or, with `status=EXECUTED`, executed), newest first."""
    return await service.list_page(session=session, now=now, status=status, paging=paging)


@router.get("/proposals/{proposal_id}")
async def proposal(
    proposal_id: Ident, user: CurrentUser, session: Session, now: Now
) -> ProposalRead:
    return await service.get(proposal_id, session=session, principal=user, now=now)


@router.post("/proposals/{proposal_id}/vote", status_code=ACCEPTED)
async def vote(
    proposal_id: Ident, body: VoteIn, user: CurrentUser, session: Session, now: Now
) -> CommandAccepted:
    """Vote for or against, once, while voting is open; the tally counts it once projected."""
    return await service.vote(proposal_id, body, session=session, principal=user, now=now)


@router.post("/proposals/{proposal_id}/execute", status_code=ACCEPTED)
async def execute(
    proposal_id: Ident, user: CurrentUser, session: Session, now: Now
) -> CommandAccepted:
    """Apply a passed proposal's change once its voting period has ended."""
    return await service.execute(proposal_id, session=session, principal=user, now=now)
