"""Administrators: `UserProfile.role`.

The reference schema has no notion of who may review registrations. `role` is `USER` for every
profile (existing ones included) and `ADMIN` for the operators `gx admin create` makes; the
access token carries it, and the admin endpoints require it (gxcore.identity.principal).

A constant default on a new column: PostgreSQL adds it without rewriting the table.

Revision ID: c6d7e8f9a0b1
Revises: b4c5d6e7f8a9
Create Date: 2026-11-25 17:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c6d7e8f9a0b1"
down_revision: str | None = "b4c5d6e7f8a9"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Rules `gx db lint` waives for this revision only, and why.
SQUAWK_IGNORE = {
    "gx-lock-timeout": "written before revisions set lock_timeout themselves; env.py's "
    "run-wide lock_timeout (5s) was in force for every statement",
}


def upgrade() -> None:
    op.add_column(
        "UserProfile",
        sa.Column("role", sa.Text(), server_default=sa.text("'USER'"), nullable=False),
    )


def downgrade() -> None:
    op.drop_column("UserProfile", "role")
