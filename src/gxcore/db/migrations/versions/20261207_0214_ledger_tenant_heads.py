"""Ledger tenant heads: one head per tenant, so tenants' blocks do not queue behind each other.

Until now every submit locked the one row of `ledger.head` first and held it to commit, so all
tenants' blocks ran strictly one after the other. A submit now locks the rows of its tenants in
`ledger.tenant_heads` instead while it reads state and runs its commands, and takes
`ledger.head` only at the end, to number the block and append it (gxcore.ledger.block). Block
numbers stay global and gapless, and blocks still commit in number order.

`height` is the last block holding a command of the tenant. Existing tenants get their row
here; a new tenant gets it on its first block. Like the rest of schema `ledger`, the
application roles get no access.

Revision ID: 70e9ae4e8a7d
Revises: 639a5f906bd9
Create Date: 2026-12-07 02:14:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "70e9ae4e8a7d"
down_revision: str | None = "639a5f906bd9"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE ledger.tenant_heads (
          tenant_id text PRIMARY KEY,
          height bigint NOT NULL CHECK (height >= 0)
        )
        """
    )
    op.execute(
        "INSERT INTO ledger.tenant_heads (tenant_id, height) "
        "SELECT tenant_id, max(block_number) FROM ledger.transactions GROUP BY tenant_id"
    )


def downgrade() -> None:
    op.execute("DROP TABLE ledger.tenant_heads")
