"""Referral models: invitations by email and the referral points they earn (gxcore's own)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, text
from sqlalchemy.orm import Mapped, mapped_column

from gxcore.db.base import NOW, Base, TenantScoped, UpdatedAt, new_uuid
from gxcore.enums import ReferralStatus


class Referral(TenantScoped, Base):
    """One address a user invited. `inviteeEmail` is normalized as registration normalizes it
    (`identity.schemas.Email`), so the registration that completes with it finds the row."""

    __tablename__ = "Referral"
    __table_args__ = (
        Index(None, "tenant_id", "referrer_profile_id", "invitee_email", unique=True),
        Index(None, "tenant_id", "referrer_profile_id", "created_at"),
        Index(None, "tenant_id", "invitee_email"),
        Index(None, "tenant_id", "invitee_profile_id"),
        Index(None, "tenant_id", "created_at"),
    )
    referral_id: Mapped[str] = mapped_column(primary_key=True, default=new_uuid)
    tenant_id: Mapped[str]
    referrer_profile_id: Mapped[str] = mapped_column(
        ForeignKey("UserProfile.profile_id", ondelete="CASCADE", onupdate="CASCADE")
    )
    invitee_email: Mapped[str]
    invitee_profile_id: Mapped[str | None] = mapped_column(
        ForeignKey("UserProfile.profile_id", ondelete="SET NULL", onupdate="CASCADE")
    )
    status: Mapped[ReferralStatus] = mapped_column(server_default="PENDING")
    points_awarded: Mapped[int] = mapped_column(server_default=text("0"))
    registered_at: Mapped[datetime | None]
    rewarded_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(server_default=NOW)
    updated_at: Mapped[UpdatedAt]


class ReferralPoints(TenantScoped, Base):
    """A referrer's points: the sum of `pointsAwarded` of their REWARDED referrals, kept as a
    counter the reward increments in its own transaction (points are not coins: no ledger)."""

    __tablename__ = "ReferralPoints"
    __table_args__ = (CheckConstraint('"points" >= 0', name="points"),)
    tenant_id: Mapped[str] = mapped_column(primary_key=True)
    profile_id: Mapped[str] = mapped_column(
        ForeignKey("UserProfile.profile_id", ondelete="CASCADE", onupdate="CASCADE"),
        primary_key=True,
    )
    points: Mapped[int] = mapped_column(server_default=text("0"))
    updated_at: Mapped[UpdatedAt]
