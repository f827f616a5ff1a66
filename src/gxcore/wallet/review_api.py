"""/api/v1/admin/transfers: the review of transfers held for their risk; administrators only."""

from __future__ import annotations

from fastapi import APIRouter

from gxcore.bodies import Ident
from gxcore.http import Now, Paging, Session
from gxcore.identity.principal import CurrentAdmin
from gxcore.identity.schemas import OptionalReason, ReviewReason
from gxcore.wallet import risk
from gxcore.wallet.schemas import TransferReview, TransferReviewPage

router = APIRouter(prefix="/admin/transfers", tags=["admin"])


@router.get("/held")
async def held(
    admin: CurrentAdmin,
    session: Session,
    paging: Paging,
) -> TransferReviewPage:
    """Transfers held for review, oldest first, with their risk factors; in pages."""
    return await risk.held_page(session=session, paging=paging)


@router.post("/{command_id}/release")
async def release(
    command_id: Ident,
    admin: CurrentAdmin,
    session: Session,
    now: Now,
    body: OptionalReason | None = None,
) -> TransferReview:
    """HELD -> PENDING: the transfer goes to the ledger; the sender is told."""
    notes = body.reason if body else None
    return await risk.release(command_id, notes, session=session, admin=admin, now=now)


@router.post("/{command_id}/reject")
async def reject(
    command_id: Ident, body: ReviewReason, admin: CurrentAdmin, session: Session, now: Now
) -> TransferReview:
    """HELD -> FAILED (RISK_REJECTED): the held amount is available again; the sender is told."""
    return await risk.reject(command_id, body.reason, session=session, admin=admin, now=now)
