"""Partner scopes: the operations an administrator opened to a licensed partner's application.

The reference's `PartnerGrant` is a grant of money (an amount, a purpose, a ledger transaction)
to a partner, not a permission, and nothing in the reference says what a partner's application
may call. `PartnerScope` holds one row per application and operation name; the request check
(gxcore.partners.principal) reads it on every partner call, so taking a grant away takes effect
at once. Application data under RLS like every tenant table; a new, empty table, so its unique
index is built in the same transaction.

Revision ID: 639a5f906bd9
Revises: ca853486a303
Create Date: 2026-12-07 00:08:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "639a5f906bd9"
down_revision: str | None = "ca853486a303"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Rules `gx db lint` waives for this revision only, and why.
SQUAWK_IGNORE = {
    "gx-lock-timeout": "written before revisions set lock_timeout themselves; env.py's "
    "run-wide lock_timeout (5s) was in force for every statement",
}

TABLE = "PartnerScope"
TENANT_MATCH = "\"tenantId\" = current_setting('app.tenant_id', true)"
TIMESTAMP = postgresql.TIMESTAMP(timezone=True, precision=3)
NOW = sa.text("CURRENT_TIMESTAMP")


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column("scopeId", sa.Text(), nullable=False),
        sa.Column("tenantId", sa.Text(), nullable=False),
        sa.Column("appId", sa.Text(), nullable=False),
        sa.Column("operation", sa.Text(), nullable=False),
        sa.Column("grantedBy", sa.Text(), nullable=True),
        sa.Column("createdAt", TIMESTAMP, server_default=NOW, nullable=False),
        sa.ForeignKeyConstraint(
            ["appId"],
            ["Application.appId"],
            name="PartnerScope_appId_fkey",
            ondelete="CASCADE",
            onupdate="CASCADE",
        ),
        sa.PrimaryKeyConstraint("scopeId", name="PartnerScope_pkey"),
    )
    op.create_index(
        "PartnerScope_tenantId_appId_operation_key",
        TABLE,
        ["tenantId", "appId", "operation"],
        unique=True,
    )
    op.execute(f'GRANT SELECT, INSERT, UPDATE, DELETE ON "{TABLE}" TO gx_app')
    op.execute(f'GRANT SELECT, INSERT, UPDATE, DELETE ON "{TABLE}" TO gx_system')
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
    op.drop_table(TABLE)
