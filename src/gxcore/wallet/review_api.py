"""/api/v1/admin/transfers: the review of transfers held for their risk; administrators only."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from gxcore.http import Ident, Now, Session
from gxcore.identity.principal import CurrentAdmin
from gxcore.identity.schemas import OptionalReason, ReviewReason
from gxcore.wallet import risk
from gxcore.wallet.api import DEFAULT_PAGE, MAX_PAGE
from gxcore.wallet.schemas import TransferReview, TransferReviewPage

router = APIRouter(prefix="/admin/transfers", tags=["admin"])


@router.get("/held")
async def held(
    admin: CurrentAdmin,
    session: Session,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = DEFAULT_PAGE,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> TransferReviewPage:
    """Transfers held for review, oldest first, with their risk factors; keyset pages."""
    return await risk.held_page(session=session, limit=limit, cursor=cursor)


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
