"""Optimistic locking: a `version` counter on the rows concurrent writers can collide on.

`version integer NOT NULL DEFAULT 1` on `OutboxCommand`, `UserProfile`, `Wallet`,
`BusinessAccount` and `SignatoryRule`. The ORM checks and bumps it on every update
(`version_id_col`): an UPDATE carries `WHERE version = <the version read>`, and no row matched
is a concurrent modification (CONCURRENT_MODIFICATION, 409). The set-based writers (the relay's
claim and outcomes, the projector's balances and activations, the operator's re-queue) bump it
in SQL. HTTP answers it as the `ETag` and takes it back in `If-Match`.

Online-safe: a constant default makes PostgreSQL 11+ add a NOT NULL column without rewriting
the table (existing rows read 1); under the migration's lock_timeout each ALTER waits at most
that long for its brief ACCESS EXCLUSIVE lock.

Revision ID: 7376e5530022
Revises: 5c2ad9a00909
Create Date: 2026-12-07 02:12:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "7376e5530022"
down_revision: str | None = "5c2ad9a00909"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LOCK_TIMEOUT = "SET lock_timeout = '5s'"

# One row's write count: 2^31 updates of one row is decades at one a second.
SQUAWK_IGNORE = {
    "prefer-bigint-over-int": "a per-row write counter, not an id: integer as the reference's "
    "optimistic-locking `version Int`",
}

TABLES = ("OutboxCommand", "UserProfile", "Wallet", "BusinessAccount", "SignatoryRule")


def upgrade() -> None:
    op.execute(LOCK_TIMEOUT)
    for table in TABLES:
        op.execute(
            f'ALTER TABLE "{table}" ADD COLUMN IF NOT EXISTS "version" integer DEFAULT 1 NOT NULL'
        )


def downgrade() -> None:
    op.execute(LOCK_TIMEOUT)
    for table in reversed(TABLES):
        op.execute(f'ALTER TABLE "{table}" DROP COLUMN IF EXISTS "version"')
