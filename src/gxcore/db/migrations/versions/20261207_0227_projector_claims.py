"""Projector claims: which projector process feeds each tenant's read models.

Several projector processes may run at once, each on its own group of tenants
(`gx projector run --tenants ...`). `ProjectorClaim` holds one row per (tenant, channel): the
projector name and process (owner id) that feeds it, and a lease the owner renews. A projector
claims its tenants at start and is refused (PROJECTOR_TENANT_OWNED) while another owner's lease
runs; once a lease expires (its owner crashed or hung), a new process takes the claim over.
Written and read by the system role only (the projector); the application never sees it.
A new, empty table under RLS like every tenant table.

Revision ID: 3e0cb13a83e2
Revises: 70e9ae4e8a7d
Create Date: 2026-12-07 02:27:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "3e0cb13a83e2"
down_revision: str | None = "70e9ae4e8a7d"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LOCK_TIMEOUT = "SET lock_timeout = '5s'"

TABLE = "ProjectorClaim"
TENANT_MATCH = "\"tenantId\" = current_setting('app.tenant_id', true)"
TIMESTAMP = postgresql.TIMESTAMP(timezone=True, precision=3)
NOW = sa.text("CURRENT_TIMESTAMP")


def upgrade() -> None:
    op.execute(LOCK_TIMEOUT)
    op.create_table(
        TABLE,
        sa.Column("tenantId", sa.Text(), nullable=False),
        sa.Column("channel", sa.Text(), nullable=False),
        sa.Column("projectorName", sa.Text(), nullable=False),
        sa.Column("ownerId", sa.Text(), nullable=False),
        sa.Column("claimedAt", TIMESTAMP, server_default=NOW, nullable=False),
        sa.Column("heartbeatAt", TIMESTAMP, server_default=NOW, nullable=False),
        sa.Column("expiresAt", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("tenantId", "channel", name="ProjectorClaim_pkey"),
    )
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
    op.execute(LOCK_TIMEOUT)
    op.drop_table(TABLE)
