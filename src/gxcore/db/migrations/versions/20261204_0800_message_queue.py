"""Message queue: `MessageOutbox`, the emails and SMS waiting for the worker.

Use cases insert a row in their own transaction; the worker (`gx messages run`, or the one in
`gx api`) delivers it after commit, so no carrier is ever called inside a request's transaction
or under its locks. A tenant table like every other: `tenantId` leads the primary key, row-level
security is forced with the `tenant_isolation` and `system_scope` policies. `gx_app` may only
INSERT: a request can queue a message but never read one back (an OTP code's body) nor change
its fate; `gx_system` (the worker) claims, records and reads them.

`MessageOutbox_nextAttemptAt_idx` is partial (PENDING only), so the claim reads a small index
however many delivered messages the table keeps.

Revision ID: f3c4d5e6a7b8
Revises: e2b3c4d5f6a7
Create Date: 2026-12-04 08:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "f3c4d5e6a7b8"
down_revision: str | None = "e2b3c4d5f6a7"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Rules `gx db lint` waives for this revision only, and why.
SQUAWK_IGNORE = {
    "gx-lock-timeout": "written before revisions set lock_timeout themselves; env.py's "
    "run-wide lock_timeout (5s) was in force for every statement",
    "prefer-bigint-over-int": "attempts, bounded by the worker's max attempts",
}

TABLE = "MessageOutbox"
TENANT_MATCH = "\"tenantId\" = current_setting('app.tenant_id', true)"
TIMESTAMP = postgresql.TIMESTAMP(timezone=True, precision=3)
NOW = sa.text("CURRENT_TIMESTAMP")


def upgrade() -> None:
    channel = postgresql.ENUM("EMAIL", "SMS", name="MessageChannel", create_type=False)
    status = postgresql.ENUM("PENDING", "SENT", "FAILED", name="MessageStatus", create_type=False)
    channel.create(op.get_bind())
    status.create(op.get_bind())
    op.create_table(
        TABLE,
        sa.Column("tenantId", sa.Text(), nullable=False),
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("channel", channel, nullable=False),
        sa.Column("recipient", sa.Text(), nullable=False),
        sa.Column("subject", sa.Text(), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("status", status, server_default=sa.text("'PENDING'"), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("nextAttemptAt", TIMESTAMP, server_default=NOW, nullable=False),
        sa.Column("lastError", sa.Text(), nullable=True),
        sa.Column("createdAt", TIMESTAMP, server_default=NOW, nullable=False),
        sa.Column("sentAt", TIMESTAMP, nullable=True),
        sa.Column("expiresAt", TIMESTAMP, nullable=True),
        sa.PrimaryKeyConstraint("tenantId", "id", name=op.f("MessageOutbox_pkey")),
    )
    op.create_index(
        op.f("MessageOutbox_nextAttemptAt_idx"),
        TABLE,
        ["nextAttemptAt"],
        postgresql_where=sa.text("status = 'PENDING'"),
    )
    op.execute(f'GRANT INSERT ON "{TABLE}" TO gx_app')
    op.execute(f'GRANT SELECT, INSERT, UPDATE ON "{TABLE}" TO gx_system')
    op.execute(f'ALTER TABLE "{TABLE}" ENABLE ROW LEVEL SECURITY')
    op.execute(f'ALTER TABLE "{TABLE}" FORCE ROW LEVEL SECURITY')
    op.execute(
        f'CREATE POLICY tenant_isolation ON "{TABLE}" TO gx_app '
        f"USING ({TENANT_MATCH}) WITH CHECK ({TENANT_MATCH})"
    )
    op.execute(
        f'CREATE POLICY system_scope ON "{TABLE}" TO gx_system USING (true) WITH CHECK (true)'
    )


def downgrade() -> None:
    op.drop_table(TABLE)  # its index, policies and grants go with it
    op.execute('DROP TYPE "MessageStatus"')
    op.execute('DROP TYPE "MessageChannel"')
