"""Velocity tax: the read model's holding timer, and tax snapshots marked paid by the projector.

- `Wallet.aboveThresholdSince date` (nullable): the day the wallet's balance last rose above the
  tenant's `velocityTaxThreshold`, NULL while at or below it. The projector keeps it as it
  applies balance changes, as the ledger keeps its own (`ledger.accounts.above_threshold_since`);
  the daily velocity-tax job and the eligibility route read it. Wallets that existed before
  this revision start NULL: `gx projector rebuild --apply` recomputes it from the ledger's events.
- `HoardingTaxSnapshot` is written by the job (a request-side writer) and marked paid by the
  projector only, when the ledger's `VelocityTaxApplied` arrives: the application role keeps
  SELECT and INSERT and loses UPDATE and DELETE, so no request can mark a tax paid.

Online-safe: adding a nullable column without a default rewrites nothing; grants are catalog
changes.

Revision ID: ca853486a303
Revises: cfd5e3396026
Create Date: 2026-12-06 23:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "ca853486a303"
down_revision: str | None = "cfd5e3396026"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Rules `gx db lint` waives for this revision only, and why.
SQUAWK_IGNORE = {
    "gx-lock-timeout": "written before revisions set lock_timeout themselves; env.py's "
    "run-wide lock_timeout (5s) was in force for every statement",
}


def upgrade() -> None:
    op.execute('ALTER TABLE "Wallet" ADD COLUMN IF NOT EXISTS "aboveThresholdSince" date')
    op.execute('REVOKE UPDATE, DELETE ON "HoardingTaxSnapshot" FROM gx_app')


def downgrade() -> None:
    op.execute('GRANT UPDATE, DELETE ON "HoardingTaxSnapshot" TO gx_app')
    op.execute('ALTER TABLE "Wallet" DROP COLUMN IF EXISTS "aboveThresholdSince"')
