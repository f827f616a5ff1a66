"""Relationships and their notifications: `NotificationType` gains `RELATIONSHIP_UPDATED`.

The reference names invitations and their answers; a relationship removed, or marked DECEASED,
DIVORCED or NOT_APPLICABLE, is told to the other side as RELATIONSHIP_UPDATED.

Online-safe: ADD VALUE rewrites nothing (PostgreSQL 12+ accepts it in a transaction that does
not use the value) and can be rerun. Downgrade refuses while notifications of the new type
exist (deleting a user's notices is the operator's call), then recreates the type without it.

Revision ID: 81638b401b3c
Revises: a6b7c8d9e0f1
Create Date: 2026-12-06 22:59:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "81638b401b3c"
down_revision: str | None = "a6b7c8d9e0f1"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_TYPES = (
    "RELATIONSHIP_INVITATION",
    "RELATIONSHIP_CONFIRMED",
    "RELATIONSHIP_REJECTED",
    "BUSINESS_SIGNATORY_INVITATION",
    "TRANSACTION_APPROVAL_REQUEST",
    "TRANSACTION_APPROVED",
    "TRANSACTION_REJECTED",
    "TRANSACTION_COMPLETED",
    "KYC_STATUS_UPDATE",
    "WALLET_CREDITED",
    "WALLET_DEBITED",
    "SYSTEM_ANNOUNCEMENT",
    "SECURITY_ALERT",
)
NEW_TYPE = "RELATIONSHIP_UPDATED"


def upgrade() -> None:
    op.execute(
        f"ALTER TYPE \"NotificationType\" ADD VALUE IF NOT EXISTS '{NEW_TYPE}' "
        f"AFTER '{OLD_TYPES[-1]}'"
    )


def downgrade() -> None:
    op.execute(
        "DO $$ BEGIN "
        f"IF EXISTS (SELECT 1 FROM \"Notification\" WHERE type::text = '{NEW_TYPE}') THEN "
        f"RAISE EXCEPTION 'notifications of type {NEW_TYPE} exist; downgrading would lose "
        "them. Delete them first if that is really meant'; END IF; END $$"
    )
    # PostgreSQL cannot drop an enum value: recreate the type without it.
    op.execute('ALTER TYPE "NotificationType" RENAME TO "NotificationType_old"')
    sa.Enum(*OLD_TYPES, name="NotificationType").create(op.get_bind())
    op.execute(
        'ALTER TABLE "Notification" ALTER COLUMN type TYPE "NotificationType" '
        'USING type::text::"NotificationType"'
    )
    op.execute('DROP TYPE "NotificationType_old"')
