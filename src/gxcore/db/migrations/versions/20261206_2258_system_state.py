"""System state: a tenant's ledger bootstrapped, paused or running, as the projector saw it.

The reference keeps no read model of the ledger's pause switch; the API refuses user writes
while a tenant is paused, and reads the switch on every write request. `SystemState` is that
read model: one row per tenant, written by the projector only (SystemBootstrapped,
SystemPaused, SystemResumed), read by the application, under RLS like every tenant table.
Its primary key is the tenant id, so the per-request check is one index probe, joined to the
tenant registry lookup every request already makes.

Revision ID: cfd5e3396026
Revises: 81638b401b3c
Create Date: 2026-12-06 22:58:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "cfd5e3396026"
down_revision: str | None = "81638b401b3c"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Rules `gx db lint` waives for this revision only, and why.
SQUAWK_IGNORE = {
    "gx-lock-timeout": "written before revisions set lock_timeout themselves; env.py's "
    "run-wide lock_timeout (5s) was in force for every statement",
}

TABLE = "SystemState"
TENANT_MATCH = "\"tenantId\" = current_setting('app.tenant_id', true)"
TIMESTAMP = postgresql.TIMESTAMP(timezone=True, precision=3)
NOW = sa.text("CURRENT_TIMESTAMP")


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column("tenantId", sa.Text(), nullable=False),
        sa.Column("bootstrapped", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("paused", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("pauseReason", sa.Text(), nullable=True),
        sa.Column("changedAt", TIMESTAMP, nullable=False),
        sa.Column("blockNumber", sa.BigInteger(), nullable=False),
        sa.Column("updatedAt", TIMESTAMP, server_default=NOW, nullable=False),
        sa.PrimaryKeyConstraint("tenantId", name="SystemState_pkey"),
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
