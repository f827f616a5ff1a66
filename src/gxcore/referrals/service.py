"""The referral program: a user invites people by email and earns points for those who join.

Lifecycle (gxcore.db.lifecycle): PENDING -> REGISTERED when a registration completes with the
invited address (`on_registered`, called by identity's registration in the transaction that
creates the profile) -> REWARDED when an administrator approves that profile (`on_approved`,
called by identity's review), which adds `referralRewardPoints` to the referrer's points.
Rewarding at approval rather than at registration keeps points away from accounts nobody vetted.

Points are not coins: they never reach the ledger. They are `Referral.pointsAwarded` and the
referrer's running sum in `ReferralPoints`, both written here in the reward's transaction.

Rules:
- at most `referralMaxPerReferrer` referrals per user, counted under a transaction-scoped
  advisory lock per (tenant, referrer), so parallel invitations take turns and the count is
  exact; a referral once sent is never withdrawn (its email is out: a withdrawal that freed the
  slot would turn the cap into a rate of invitation emails);
- one referral per (referrer, address) (REFERRAL_DUPLICATE: the caller's own list shows it);
  one's own address is refused (SELF_REFERRAL);
- several users may invite one address: the earliest invitation wins the registration, the
  others stay PENDING, as an invitation nobody answers does;
- an address that already has an account is answered exactly like a new one (201, PENDING) and
  no email is sent: it never registers again, so the referral stays PENDING. Refusing it would
  tell any signed-in user which addresses have accounts, which registration never reveals.

The invitation email is queued in the invitation's transaction (gxcore.notifications.service)
and leaves after commit. Every row change is audited by the tenant session's flush.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from gxcore.admin.service import read_ints
from gxcore.db import pages
from gxcore.db.lifecycle import transition
from gxcore.db.scope import tenant_of
from gxcore.enums import ReferralStatus
from gxcore.errors import ReferralDuplicate, ReferralLimitReached, ReferralNotFound, SelfReferral
from gxcore.identity.access import Principal
from gxcore.identity.models import UserProfile
from gxcore.identity.users import get_or_raise
from gxcore.notifications import service as messages
from gxcore.referrals.models import Referral, ReferralPoints
from gxcore.referrals.schemas import (
    ReferralAdminPage,
    ReferralAdminRead,
    ReferralIn,
    ReferralPage,
    ReferralRead,
    ReferralSummary,
)

S = ReferralStatus
REWARD_KEY = "referralRewardPoints"
LIMIT_KEY = "referralMaxPerReferrer"


@dataclass(frozen=True)
class Actor:
    """Who acts, in which unit of work, when."""

    session: AsyncSession
    principal: Principal
    now: datetime

    @property
    def me(self) -> str:
        return self.principal.profile_id


def read(row: Referral) -> ReferralRead:
    return ReferralRead(
        referralId=row.referral_id,
        referrerProfileId=row.referrer_profile_id,
        inviteeEmail=row.invitee_email,
        status=row.status,
        pointsAwarded=row.points_awarded,
        registeredAt=row.registered_at,
        rewardedAt=row.rewarded_at,
        createdAt=row.created_at,
        updatedAt=row.updated_at,
    )


def admin_read(row: Referral) -> ReferralAdminRead:
    return ReferralAdminRead(**read(row).model_dump(), inviteeProfileId=row.invitee_profile_id)


async def _lock_referrer(session: AsyncSession, profile_id: str) -> None:
    """Transaction-scoped advisory lock on one referrer's referrals and points."""
    tenant = tenant_of(session, "referrals change in a tenant scope")
    await session.execute(
        text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
        {"key": f"referrals:{tenant}:{profile_id}"},
    )


# --------------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------------


def _newest_first() -> pages.Order:
    return pages.Order.newest_first(Referral.created_at, Referral.referral_id)


async def page(*, actor: Actor, paging: pages.PageRequest, status: S | None = None) -> ReferralPage:
    """The caller's referrals, newest first."""
    stmt = select(Referral).where(Referral.referrer_profile_id == actor.me)
    if status is not None:
        stmt = stmt.where(Referral.status == status)
    found = await pages.fetch_scalars(actor.session, stmt, _newest_first(), paging)
    return ReferralPage.of(found, [read(r) for r in found.rows])


async def get(referral_id: str, *, actor: Actor) -> ReferralRead:
    row = await actor.session.scalar(
        select(Referral).where(
            Referral.referral_id == referral_id, Referral.referrer_profile_id == actor.me
        )
    )
    if row is None:
        raise ReferralNotFound(f"no referral {referral_id!r}", referralId=referral_id)
    return read(row)


async def summary(*, actor: Actor) -> ReferralSummary:
    session = actor.session
    made = await session.scalar(
        select(func.count()).where(Referral.referrer_profile_id == actor.me)
    )
    points = await session.scalar(
        select(ReferralPoints.points).where(ReferralPoints.profile_id == actor.me)
    )
    limit = (await read_ints(session, (LIMIT_KEY,)))[LIMIT_KEY]
    return ReferralSummary(points=points or 0, referrals=made or 0, maxReferrals=limit)


async def admin_page(
    session: AsyncSession, *, paging: pages.PageRequest, status: S | None = None
) -> ReferralAdminPage:
    """The tenant's referrals, newest first."""
    stmt = select(Referral)
    if status is not None:
        stmt = stmt.where(Referral.status == status)
    found = await pages.fetch_scalars(session, stmt, _newest_first(), paging)
    return ReferralAdminPage.of(found, [admin_read(r) for r in found.rows])


async def admin_get(session: AsyncSession, referral_id: str) -> ReferralAdminRead:
    row = await session.get(Referral, referral_id)
    if row is None:
        raise ReferralNotFound(f"no referral {referral_id!r}", referralId=referral_id)
    return admin_read(row)


# --------------------------------------------------------------------------------------------
# Inviting
# --------------------------------------------------------------------------------------------


async def invite(data: ReferralIn, *, actor: Actor) -> ReferralRead:
    session, email = actor.session, data.email
    referrer = await get_or_raise(session, actor.me)
    if email == (referrer.email or "").lower():
        raise SelfReferral("you cannot refer yourself", field="email")
    await _lock_referrer(session, actor.me)
    existing = await session.scalar(
        select(Referral.referral_id).where(
            Referral.referrer_profile_id == actor.me, Referral.invitee_email == email
        )
    )
    if existing is not None:
        raise ReferralDuplicate("you already invited this address", referralId=existing)
    limit = (await read_ints(session, (LIMIT_KEY,)))[LIMIT_KEY]
    made = await session.scalar(
        select(func.count()).where(Referral.referrer_profile_id == actor.me)
    )
    if (made or 0) >= limit:
        raise ReferralLimitReached(f"you have {limit} referrals, the most allowed", limit=limit)
    row = Referral(
        referrer_profile_id=actor.me, invitee_email=email, status=S.PENDING, created_at=actor.now
    )
    session.add(row)
    await session.flush()
    await session.refresh(row, ["updated_at"])
    member = await session.scalar(select(UserProfile.profile_id).where(UserProfile.email == email))
    if member is None:
        await messages.queue_email(
            session,
            to=email,
            subject="You are invited to GX",
            text=f"{referrer.first_name} {referrer.last_name} invited you to GX. Register with "
            "this email address to accept the invitation.",
            now=actor.now,
        )
    return read(row)


# --------------------------------------------------------------------------------------------
# Registration and reward (called by identity, in its transaction)
# --------------------------------------------------------------------------------------------


async def on_registered(
    session: AsyncSession, *, profile_id: str, email: str, now: datetime
) -> str | None:
    """A registration completed with `email`: the earliest PENDING invitation of the address
    becomes REGISTERED, for `profile_id`. Returns its id, or None when nobody invited it."""
    rows = (
        await session.scalars(
            select(Referral)
            .where(Referral.invitee_email == email.lower(), Referral.status == S.PENDING)
            .order_by(Referral.created_at, Referral.referral_id)
            .with_for_update()
        )
    ).all()
    if not rows:
        return None
    row = rows[0]
    transition(row, S.REGISTERED)
    row.invitee_profile_id = profile_id
    row.registered_at = now
    await session.flush()
    return row.referral_id


async def on_approved(session: AsyncSession, *, profile_id: str, now: datetime) -> str | None:
    """An administrator approved `profile_id`: its REGISTERED referral becomes REWARDED, and
    its referrer earns `referralRewardPoints`. Returns the referral's id, or None."""
    found = await session.scalar(
        select(Referral.referrer_profile_id).where(
            Referral.invitee_profile_id == profile_id, Referral.status == S.REGISTERED
        )
    )
    if found is None:
        return None
    await _lock_referrer(session, found)  # before the row's lock, in `invite`'s order
    row = await session.scalar(
        select(Referral)
        .where(Referral.invitee_profile_id == profile_id, Referral.status == S.REGISTERED)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if row is None:
        return None  # rewarded meanwhile by a concurrent approval
    points = (await read_ints(session, (REWARD_KEY,)))[REWARD_KEY]
    transition(row, S.REWARDED)
    row.points_awarded = points
    row.rewarded_at = now
    balance = await session.get(ReferralPoints, (_tenant(session), row.referrer_profile_id))
    if balance is None:
        session.add(ReferralPoints(profile_id=row.referrer_profile_id, points=points))
    else:
        balance.points += points
    await session.flush()
    referrer = await get_or_raise(session, row.referrer_profile_id)
    if referrer.email:
        await messages.queue_email(
            session,
            to=referrer.email,
            subject="You earned GX referral points",
            text=f"Someone you invited ({row.invitee_email}) joined GX. You earned {points} "
            "referral points.",
            now=now,
        )
    return row.referral_id


def _tenant(session: AsyncSession) -> str:
    return tenant_of(session, "referral points are kept per tenant")
