"""Outbox relay: when each command is next due, and the index the relay claims through.

Adds `OutboxCommand.nextAttemptAt timestamptz(3) NOT NULL DEFAULT CURRENT_TIMESTAMP`. The relay
reads it as "due at": a PENDING command waits for it (backoff after a transient failure), and a
LOCKED one carries its lease's expiry in it, after which another worker may take it over. NOT NULL
with a default keeps the claim predicate one plain comparison (no `IS NULL OR ...`) and lets
writers that do not know the column (`enqueue`, a reference-schema service) insert commands that
are due at once. `CURRENT_TIMESTAMP` is stable, not volatile, so PostgreSQL 11+ adds the column
without rewriting the table; existing rows become due at migration time.

`OutboxCommand_nextAttemptAt_idx` is partial: only commands still in flight (PENDING, LOCKED,
SUBMITTED) are in it, ordered by due time, so the claim (`ORDER BY "nextAttemptAt" LIMIT n FOR
UPDATE SKIP LOCKED`) reads the first n entries of a small index however many delivered commands
the table keeps. It is built CONCURRENTLY, outside the migration's transaction.

Revision ID: a2b3c4d5e6f7
Revises: e9c3a4b5d6f7
Create Date: 2026-11-25 15:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "a2b3c4d5e6f7"
down_revision: str | None = "e9c3a4b5d6f7"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Rules `gx db lint` waives for this revision only, and why.
SQUAWK_IGNORE = {
    "gx-lock-timeout": "written before revisions set lock_timeout themselves; env.py's "
    "run-wide lock_timeout (5s) was in force for every statement",
}

INDEX = "OutboxCommand_nextAttemptAt_idx"
IN_FLIGHT = "status IN ('PENDING', 'LOCKED', 'SUBMITTED')"


def upgrade() -> None:
    op.execute(
        'ALTER TABLE "OutboxCommand" ADD COLUMN IF NOT EXISTS "nextAttemptAt" '
        "timestamp(3) with time zone DEFAULT CURRENT_TIMESTAMP NOT NULL"
    )
    # CONCURRENTLY cannot run in a transaction; a build that failed leaves an invalid index
    # behind, which IF NOT EXISTS would keep: drop it first.
    with op.get_context().autocommit_block():
        op.execute(f'DROP INDEX CONCURRENTLY IF EXISTS "{INDEX}"')
        op.execute(
            f'CREATE INDEX CONCURRENTLY IF NOT EXISTS "{INDEX}" '
            f'ON "OutboxCommand" ("nextAttemptAt") WHERE {IN_FLIGHT}'
        )


def downgrade() -> None:
    op.execute(f'DROP INDEX IF EXISTS "{INDEX}"')
    op.execute('ALTER TABLE "OutboxCommand" DROP COLUMN IF EXISTS "nextAttemptAt"')
