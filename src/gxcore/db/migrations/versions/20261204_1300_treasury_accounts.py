"""Treasury accounts: each country's treasury, mirrored from the ledger, with its balance.

The reference keeps no read model of treasuries; `GET /treasury/{countryCode}/balance` needs one.
`TreasuryAccount` is written by the projector only (TreasuryActivated opens a row, every balance
event touching the account moves it), read by the application: a read model like `Wallet`, one
row per (tenant, country), under RLS like every tenant table.

Revision ID: a6b7c8d9e0f1
Revises: f5a6b7c8d9e0
Create Date: 2026-12-04 13:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "a6b7c8d9e0f1"
down_revision: str | None = "f5a6b7c8d9e0"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Rules `gx db lint` waives for this revision only, and why.
SQUAWK_IGNORE = {
    "gx-lock-timeout": "written before revisions set lock_timeout themselves; env.py's "
    "run-wide lock_timeout (5s) was in force for every statement",
    "ban-char-field": "countryCode references Country.countryCode, character(2) in the "
    "reference schema; the two columns keep one type",
}

TABLE = "TreasuryAccount"
TENANT_MATCH = "\"tenantId\" = current_setting('app.tenant_id', true)"
TIMESTAMP = postgresql.TIMESTAMP(timezone=True, precision=3)
NOW = sa.text("CURRENT_TIMESTAMP")


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column("tenantId", sa.Text(), nullable=False),
        sa.Column("countryCode", sa.CHAR(2), nullable=False),
        sa.Column("accountId", sa.Text(), nullable=False),
        sa.Column("balance", sa.Numeric(36, 9), server_default=sa.text("0"), nullable=False),
        sa.Column("blockNumber", sa.BigInteger(), nullable=False),
        sa.Column("activatedAt", TIMESTAMP, nullable=False),
        sa.Column("updatedAt", TIMESTAMP, server_default=NOW, nullable=False),
        sa.CheckConstraint('"balance" >= 0', name="TreasuryAccount_balance_check"),
        sa.ForeignKeyConstraint(
            ["countryCode"],
            ["Country.countryCode"],
            name="TreasuryAccount_countryCode_fkey",
            ondelete="RESTRICT",
            onupdate="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenantId", "countryCode", name="TreasuryAccount_pkey"),
    )
    op.create_index(
        "TreasuryAccount_tenantId_accountId_key", TABLE, ["tenantId", "accountId"], unique=True
    )
    op.execute(f'GRANT SELECT ON "{TABLE}" TO gx_app')
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
