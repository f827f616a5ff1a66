"""The tenant registry, and `Country` written by the owner only.

- `Tenant`: a tenant exists once `gx tenant create` (or `gx up`) has registered it; a request or
  command naming any other id is refused. Not tenant-scoped (it is the list of tenants), so no
  row-level security: `gx_app` may read it, only `gx_system` writes it.
- `Country` is shared by every tenant. Only `gx db seed` (the owner) changes it; `gx_system`,
  which runs the projector, loses its writes, so no tenant's ledger event can change it.
- Tenants seeded before this revision are registered from their `SystemParameter` rows. Rows
  under forced row-level security are visible to the owner only when it is a superuser (the
  embedded server's is); otherwise register such tenants again with `gx tenant create`.

Revision ID: e2b3c4d5f6a7
Revises: d1a2b3c4e5f6
Create Date: 2026-12-04 07:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "e2b3c4d5f6a7"
down_revision: str | None = "d1a2b3c4e5f6"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Rules `gx db lint` waives for this revision only, and why.
SQUAWK_IGNORE = {
    "gx-lock-timeout": "written before revisions set lock_timeout themselves; env.py's "
    "run-wide lock_timeout (5s) was in force for every statement",
}


def upgrade() -> None:
    op.create_table(
        "Tenant",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column(
            "createdAt",
            postgresql.TIMESTAMP(timezone=True, precision=3),
            server_default=sa.text("CURRENT_TIMESTAMP"),
            nullable=False,
        ),
        sa.Column("updatedAt", postgresql.TIMESTAMP(timezone=True, precision=3), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("Tenant_pkey")),
    )
    op.execute('GRANT SELECT ON "Tenant" TO gx_app')
    op.execute('GRANT SELECT, INSERT, UPDATE ON "Tenant" TO gx_system')
    op.execute('REVOKE INSERT, UPDATE, DELETE ON "Country" FROM gx_system')
    op.execute(
        'INSERT INTO "Tenant" ("id", "name", "updatedAt") '
        'SELECT DISTINCT "tenantId", "tenantId", CURRENT_TIMESTAMP FROM "SystemParameter"'
    )


def downgrade() -> None:
    op.execute('GRANT INSERT, UPDATE, DELETE ON "Country" TO gx_system')
    op.drop_table("Tenant")
