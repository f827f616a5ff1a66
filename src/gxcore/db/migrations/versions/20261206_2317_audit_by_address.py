"""An index over AuditLog by client address and time, for the per-address rate limits.

Transfers and registration changes are limited per client address (gxcore.identity.throttle),
read from the audit log within a short window: without this index each check would scan every
entry of the tenant's window for the address. Built CONCURRENTLY, so the table keeps taking
writes meanwhile.

Revision ID: 57ef9d0202a6
Revises: 01f4e2e6fcb3
Create Date: 2026-12-06 23:17:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "57ef9d0202a6"
down_revision: str | None = "01f4e2e6fcb3"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Rules `gx db lint` waives for this revision only, and why.
SQUAWK_IGNORE = {
    "gx-lock-timeout": "written before revisions set lock_timeout themselves; env.py's "
    "run-wide lock_timeout (5s) was in force for every statement",
}

INDEX = '"AuditLog_tenantId_ipAddress_timestamp_idx"'


def upgrade() -> None:
    with op.get_context().autocommit_block():
        # An invalid index left by an interrupted build would satisfy IF NOT EXISTS.
        op.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {INDEX}")
        op.execute(
            f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {INDEX} "
            'ON "AuditLog" ("tenantId", "ipAddress", "timestamp")'
        )


def downgrade() -> None:
    with op.get_context().autocommit_block():
        op.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {INDEX}")
