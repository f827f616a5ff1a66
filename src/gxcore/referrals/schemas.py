"""Referral bodies for /api/v1/referrals and /api/v1/admin/referrals."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from gxcore.bodies import RequestBody
from gxcore.db.pages import Page
from gxcore.enums import ReferralStatus
from gxcore.identity.schemas import Email


class ReferralIn(RequestBody):
    """Invite someone to the platform by email (normalized as registration normalizes it)."""

    email: Email


class ReferralRead(BaseModel):
    referralId: str
    referrerProfileId: str
    inviteeEmail: str
    #: PENDING until the invitee completes registration with this address (REGISTERED), then
    #: REWARDED once an administrator approves the invitee's profile.
    status: ReferralStatus
    pointsAwarded: int
    registeredAt: datetime | None
    rewardedAt: datetime | None
    createdAt: datetime
    updatedAt: datetime


class ReferralAdminRead(ReferralRead):
    #: The profile that registered with the address (administrators only).
    inviteeProfileId: str | None


class ReferralPage(Page[ReferralRead]):
    pass


class ReferralAdminPage(Page[ReferralAdminRead]):
    pass


class ReferralSummary(BaseModel):
    """The caller's points and how many more referrals they may make."""

    points: int
    referrals: int
    maxReferrals: int
