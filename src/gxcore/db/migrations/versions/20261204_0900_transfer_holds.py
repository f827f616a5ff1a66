"""Transfer holds: what requested transfers have reserved, until the ledger's answer is projected.

`TransferHold` is the application's record of money in flight (the `Wallet` read model belongs
to the projector). One row per transfer command; a tenant table under RLS like every other:
`gx_app` reads, adds and deletes its tenant's holds, `gx_system` spans tenants.

Revision ID: b5c6d7e8f9a0
Revises: f3c4d5e6a7b8
Create Date: 2026-12-04 09:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "b5c6d7e8f9a0"
down_revision: str | None = "f3c4d5e6a7b8"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Rules `gx db lint` waives for this revision only, and why.
SQUAWK_IGNORE = {
    "gx-lock-timeout": "written before revisions set lock_timeout themselves; env.py's "
    "run-wide lock_timeout (5s) was in force for every statement",
}

TENANT_MATCH = "\"tenantId\" = current_setting('app.tenant_id', true)"
MONEY = sa.Numeric(36, 9)


def upgrade() -> None:
    op.create_table(
        "TransferHold",
        sa.Column("tenantId", sa.Text(), nullable=False),
        sa.Column("commandId", sa.Text(), nullable=False),
        sa.Column("walletId", sa.Text(), nullable=False),
        sa.Column("receiverWalletId", sa.Text(), nullable=False),
        sa.Column("txId", sa.Text(), nullable=False),
        sa.Column("amount", MONEY, nullable=False),
        sa.Column("fee", MONEY, nullable=False),
        sa.Column(
            "createdAt",
            postgresql.TIMESTAMP(timezone=True, precision=3),
            server_default=sa.text("CURRENT_TIMESTAMP"),
            nullable=False,
        ),
        sa.CheckConstraint('"amount" > 0', name="TransferHold_amount_check"),
        sa.CheckConstraint('"fee" >= 0', name="TransferHold_fee_check"),
        sa.ForeignKeyConstraint(
            ["commandId"],
            ["OutboxCommand.id"],
            name="TransferHold_commandId_fkey",
            ondelete="CASCADE",
            onupdate="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenantId", "commandId", name="TransferHold_pkey"),
    )
    op.create_index("TransferHold_tenantId_walletId_idx", "TransferHold", ["tenantId", "walletId"])
    op.create_index(
        "TransferHold_tenantId_receiverWalletId_idx",
        "TransferHold",
        ["tenantId", "receiverWalletId"],
    )
    op.execute('GRANT SELECT, INSERT, DELETE ON "TransferHold" TO gx_app')
    op.execute('GRANT SELECT, INSERT, UPDATE, DELETE ON "TransferHold" TO gx_system')
    op.execute('ALTER TABLE "TransferHold" ENABLE ROW LEVEL SECURITY')
    op.execute('ALTER TABLE "TransferHold" FORCE ROW LEVEL SECURITY')
    op.execute(
        'CREATE POLICY tenant_isolation ON "TransferHold" TO gx_app '
        f"USING ({TENANT_MATCH}) WITH CHECK ({TENANT_MATCH})"
    )
    op.execute(
        'CREATE POLICY system_scope ON "TransferHold" TO gx_system USING (true) WITH CHECK (true)'
    )


def downgrade() -> None:
    op.drop_table("TransferHold")
