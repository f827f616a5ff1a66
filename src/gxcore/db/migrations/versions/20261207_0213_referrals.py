"""Referrals: invitations by email (PENDING -> REGISTERED -> REWARDED) and referral points.

The reference has no referral program (the lecture's Exercise 1 asks for one). `Referral` holds
one invited address per referrer, unique per (tenant, referrer, address); `ReferralPoints` one
counter per (tenant, user), incremented when a referral is rewarded. Points are not coins: they
never reach the ledger, so neither table is a read model, and the application writes both. Both
under RLS like every tenant table; new, empty tables, so their indexes are built in the same
transaction. The application may read, add and update rows, never delete them.

Revision ID: 5c2ad9a00909
Revises: c4f78a0c1086
Create Date: 2026-12-07 02:13:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "5c2ad9a00909"
down_revision: str | None = "c4f78a0c1086"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LOCK_TIMEOUT = "SET lock_timeout = '5s'"

# Rules `gx db lint` waives for this revision only, and why.
SQUAWK_IGNORE = {
    "prefer-bigint-over-int": "points, an Int like FamilyRelationship.pointsAwarded: at most "
    "referralMaxPerReferrer rewards of referralRewardPoints each per user",
}

TENANT_MATCH = "\"tenantId\" = current_setting('app.tenant_id', true)"
TIMESTAMP = postgresql.TIMESTAMP(timezone=True, precision=3)
NOW = sa.text("CURRENT_TIMESTAMP")
STATUS = postgresql.ENUM(
    "PENDING", "REGISTERED", "REWARDED", name="ReferralStatus", create_type=False
)


def _profile_fk(column: str, table: str, on_delete: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column],
        ["UserProfile.profileId"],
        name=f"{table}_{column}_fkey",
        ondelete=on_delete,
        onupdate="CASCADE",
    )


def _secure(table: str) -> None:
    # No DELETE: a referral, once sent, stays (its email is out); points only grow.
    op.execute(f'GRANT SELECT, INSERT, UPDATE ON "{table}" TO gx_app')
    op.execute(f'GRANT SELECT, INSERT, UPDATE, DELETE ON "{table}" TO gx_system')
    op.execute(f'ALTER TABLE "{table}" ENABLE ROW LEVEL SECURITY')
    op.execute(f'ALTER TABLE "{table}" FORCE ROW LEVEL SECURITY')
    op.execute(
        f'CREATE POLICY tenant_isolation ON "{table}" TO gx_app '
        f"USING ({TENANT_MATCH}) WITH CHECK ({TENANT_MATCH})"
    )
    op.execute(
        f'CREATE POLICY system_scope ON "{table}" TO gx_system USING (true) WITH CHECK (true)'
    )


def upgrade() -> None:
    op.execute(LOCK_TIMEOUT)
    sa.Enum("PENDING", "REGISTERED", "REWARDED", name="ReferralStatus").create(op.get_bind())
    op.create_table(
        "Referral",
        sa.Column("referralId", sa.Text(), nullable=False),
        sa.Column("tenantId", sa.Text(), nullable=False),
        sa.Column("referrerProfileId", sa.Text(), nullable=False),
        sa.Column("inviteeEmail", sa.Text(), nullable=False),
        sa.Column("inviteeProfileId", sa.Text(), nullable=True),
        sa.Column("status", STATUS, server_default="PENDING", nullable=False),
        sa.Column("pointsAwarded", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("registeredAt", TIMESTAMP, nullable=True),
        sa.Column("rewardedAt", TIMESTAMP, nullable=True),
        sa.Column("createdAt", TIMESTAMP, server_default=NOW, nullable=False),
        sa.Column("updatedAt", TIMESTAMP, nullable=False),
        _profile_fk("referrerProfileId", "Referral", "CASCADE"),
        _profile_fk("inviteeProfileId", "Referral", "SET NULL"),
        sa.PrimaryKeyConstraint("referralId", name="Referral_pkey"),
    )
    op.create_index(
        "Referral_tenantId_referrerProfileId_inviteeEmail_key",
        "Referral",
        ["tenantId", "referrerProfileId", "inviteeEmail"],
        unique=True,
    )
    op.create_index(
        "Referral_tenantId_referrerProfileId_createdAt_idx",
        "Referral",
        ["tenantId", "referrerProfileId", "createdAt"],
    )
    op.create_index("Referral_tenantId_inviteeEmail_idx", "Referral", ["tenantId", "inviteeEmail"])
    op.create_index(
        "Referral_tenantId_inviteeProfileId_idx", "Referral", ["tenantId", "inviteeProfileId"]
    )
    op.create_index("Referral_tenantId_createdAt_idx", "Referral", ["tenantId", "createdAt"])
    _secure("Referral")

    op.create_table(
        "ReferralPoints",
        sa.Column("tenantId", sa.Text(), nullable=False),
        sa.Column("profileId", sa.Text(), nullable=False),
        sa.Column("points", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("updatedAt", TIMESTAMP, nullable=False),
        sa.CheckConstraint('"points" >= 0', name="ReferralPoints_points_check"),
        _profile_fk("profileId", "ReferralPoints", "CASCADE"),
        sa.PrimaryKeyConstraint("tenantId", "profileId", name="ReferralPoints_pkey"),
    )
    _secure("ReferralPoints")


def downgrade() -> None:
    op.execute(LOCK_TIMEOUT)
    op.drop_table("ReferralPoints")
    op.drop_table("Referral")
    sa.Enum(name="ReferralStatus").drop(op.get_bind())
