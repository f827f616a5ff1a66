"""/api/v1/referrals (the caller's invitations and points) and /api/v1/admin/referrals."""

from __future__ import annotations

from fastapi import APIRouter

from gxcore.bodies import Ident
from gxcore.enums import ReferralStatus
from gxcore.http import CREATED, Now, Paging, Session
from gxcore.identity.principal import CurrentAdmin, CurrentUser
from gxcore.referrals import service
from gxcore.referrals.schemas import (
    ReferralAdminPage,
    ReferralAdminRead,
    ReferralIn,
    ReferralPage,
    ReferralRead,
    ReferralSummary,
)
from gxcore.referrals.service import Actor

router = APIRouter(prefix="/referrals", tags=["referrals"])


@router.get("")
async def referrals(
    user: CurrentUser,
    session: Session,
    now: Now,
    paging: Paging,
    status: ReferralStatus | None = None,
) -> ReferralPage:
    """The caller's referrals, newest first."""
    return await service.page(actor=Actor(session, user, now), paging=paging, status=status)


@router.post("", status_code=CREATED)
async def invite(body: ReferralIn, user: CurrentUser, session: Session, now: Now) -> ReferralRead:
    """Invite someone by email; the invitation email leaves once the referral is saved."""
    return await service.invite(body, actor=Actor(session, user, now))


@router.get("/summary")
async def summary(user: CurrentUser, session: Session, now: Now) -> ReferralSummary:
    """The caller's referral points, and how many referrals they made of how many allowed."""
    return await service.summary(actor=Actor(session, user, now))


@router.get("/{referral_id}")
async def referral(
    referral_id: Ident, user: CurrentUser, session: Session, now: Now
) -> ReferralRead:
    return await service.get(referral_id, actor=Actor(session, user, now))


admin = APIRouter(prefix="/admin/referrals", tags=["admin"])


@admin.get("")
async def all_referrals(
    admin: CurrentAdmin,
    session: Session,
    paging: Paging,
    status: ReferralStatus | None = None,
) -> ReferralAdminPage:
    """The tenant's referrals, newest first."""
    return await service.admin_page(session, paging=paging, status=status)


@admin.get("/{referral_id}")
async def any_referral(
    referral_id: Ident, admin: CurrentAdmin, session: Session
) -> ReferralAdminRead:
    return await service.admin_get(session, referral_id)
