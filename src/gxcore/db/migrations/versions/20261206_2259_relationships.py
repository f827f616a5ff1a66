"""Relationships and the delivery of their notifications.

- `NotificationType` gains `RELATIONSHIP_UPDATED`: the reference names invitations and their
  answers; a relationship removed, or marked DECEASED, DIVORCED or NOT_APPLICABLE, is told to
  the other side as RELATIONSHIP_UPDATED.
- `MessageChannel` gains `PUSH`, and `MessageOutbox.notificationId` (nullable, no foreign key:
  expired notifications are deleted while their messages stay for the record) names the in-app
  notification a message delivers, so the worker can set `sentViaEmail`/`sentViaPush`.

Online-safe: ADD VALUE rewrites nothing (PostgreSQL 12+ accepts it in a transaction that does
not use the value), the column is nullable without a default; each step can be rerun.
Downgrade refuses while notifications of the new type or push messages exist (deleting them is
the operator's call), then recreates the types without the new values.

Revision ID: 81638b401b3c
Revises: 57ef9d0202a6
Create Date: 2026-12-06 22:59:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "81638b401b3c"
down_revision: str | None = "57ef9d0202a6"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Rules `gx db lint` waives for this revision only, and why.
SQUAWK_IGNORE = {
    "gx-lock-timeout": "written before revisions set lock_timeout themselves; env.py's "
    "run-wide lock_timeout (5s) was in force for every statement",
}

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
OLD_CHANNELS = ("EMAIL", "SMS")


def upgrade() -> None:
    op.execute(
        f"ALTER TYPE \"NotificationType\" ADD VALUE IF NOT EXISTS '{NEW_TYPE}' "
        f"AFTER '{OLD_TYPES[-1]}'"
    )
    op.execute("ALTER TYPE \"MessageChannel\" ADD VALUE IF NOT EXISTS 'PUSH' AFTER 'SMS'")
    op.execute('ALTER TABLE "MessageOutbox" ADD COLUMN IF NOT EXISTS "notificationId" text')


def downgrade() -> None:
    op.execute(
        "DO $$ BEGIN "
        f"IF EXISTS (SELECT 1 FROM \"Notification\" WHERE type::text = '{NEW_TYPE}') THEN "
        f"RAISE EXCEPTION 'notifications of type {NEW_TYPE} exist; downgrading would lose "
        "them. Delete them first if that is really meant'; END IF; "
        "IF EXISTS (SELECT 1 FROM \"MessageOutbox\" WHERE channel::text = 'PUSH') THEN "
        "RAISE EXCEPTION 'push messages are queued or kept; downgrading would lose them. "
        "Delete them first if that is really meant'; END IF; END $$"
    )
    op.drop_column("MessageOutbox", "notificationId")
    op.execute('ALTER TYPE "MessageChannel" RENAME TO "MessageChannel_old"')
    sa.Enum(*OLD_CHANNELS, name="MessageChannel").create(op.get_bind())
    op.execute(
        'ALTER TABLE "MessageOutbox" ALTER COLUMN channel TYPE "MessageChannel" '
        'USING channel::text::"MessageChannel"'
    )
    op.execute('DROP TYPE "MessageChannel_old"')
    # PostgreSQL cannot drop an enum value: recreate the type without it.
    op.execute('ALTER TYPE "NotificationType" RENAME TO "NotificationType_old"')
    sa.Enum(*OLD_TYPES, name="NotificationType").create(op.get_bind())
    op.execute(
        'ALTER TABLE "Notification" ALTER COLUMN type TYPE "NotificationType" '
        'USING type::text::"NotificationType"'
    )
    op.execute('DROP TYPE "NotificationType_old"')
