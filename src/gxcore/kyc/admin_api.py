"""/api/v1/admin/kyc: the verification review queue and its decisions; administrators only."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from gxcore.bodies import Ident
from gxcore.enums import KycStatus
from gxcore.http import Now, Paging, Session
from gxcore.identity.principal import CurrentAdmin
from gxcore.identity.schemas import ReviewReason
from gxcore.kyc import verification as service
from gxcore.kyc.schemas import KycPage, KycRead
from gxcore.kyc.verification import Review

router = APIRouter(prefix="/admin/kyc", tags=["admin"])


def _review(session: Session, admin: CurrentAdmin, now: Now) -> Review:
    return Review(session=session, admin=admin, now=now)


Rev = Annotated[Review, Depends(_review, scope="function")]


@router.get("")
async def list_verifications(
    admin: CurrentAdmin,
    session: Session,
    paging: Paging,
    status: Annotated[list[KycStatus] | None, Query()] = None,
    submitted: Annotated[bool | None, Query(description="submitted by the user")] = None,
) -> KycPage:
    """Verifications, oldest first, filtered by `status` (repeatable); in pages."""
    return await service.list_page(session, paging, statuses=status, submitted=submitted)


@router.get("/{kyc_id}")
async def get(kyc_id: Ident, admin: CurrentAdmin, session: Session) -> KycRead:
    return await service.get(kyc_id, session=session)


@router.post("/{kyc_id}/approve")
async def approve(kyc_id: Ident, review: Rev) -> KycRead:
    """PENDING -> APPROVED: submitted, every document scanned clean, none expired."""
    return await service.approve(kyc_id, review=review)


@router.post("/{kyc_id}/reject")
async def reject(kyc_id: Ident, body: ReviewReason, review: Rev) -> KycRead:
    """PENDING -> REJECTED, with the reason the user will read."""
    return await service.reject(kyc_id, body.reason, review=review)
