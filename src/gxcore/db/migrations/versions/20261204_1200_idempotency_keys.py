"""HttpIdempotency keyed by the client's Idempotency-Key, per principal, instead of by body.

The reference keys a stored response by (tenant, method, path, bodyHash): two equal requests
made on purpose (the same amount to the same person twice) would be taken for one, and a
retried request with a changed body would not be recognised as a misuse of its key. Here the
key is (tenantId, profileId, method, path, idempotencyKey); `bodyHash` stays, to refuse the
same key with another body.

Rows of the reference's scheme answer no key; they are a response cache with a TTL, and are
dropped. The new columns become NOT NULL the online way (a NOT VALID check validated in its own
transaction proves them, so SET NOT NULL skips its scan), the new key's unique index is built
CONCURRENTLY and the primary key swapped onto it in one quick statement.

Downgrade empties the cache (rows of one body under two keys would collide in the old key).

Revision ID: f5a6b7c8d9e0
Revises: e4f5a6b7c8d9
Create Date: 2026-12-04 12:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "f5a6b7c8d9e0"
down_revision: str | None = "e4f5a6b7c8d9"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Rules `gx db lint` waives for this revision only, and why.
SQUAWK_IGNORE = {
    "gx-lock-timeout": "written before revisions set lock_timeout themselves; env.py's "
    "run-wide lock_timeout (5s) was in force for every statement",
    "ban-drop-constraint": "the primary key is swapped onto an index already built "
    "concurrently, and the temporary NOT VALID checks that proved NOT NULL are dropped",
    "prefer-robust-stmts": "the swap and the SET NOT NULLs are single idempotent steps after "
    "the IF NOT EXISTS ones; a rerun after a failure starts from the cache emptied again",
}

TABLE = '"HttpIdempotency"'
NEW_COLUMNS = ("profileId", "idempotencyKey")
NEW_KEY = ("tenantId", "profileId", "method", "path", "idempotencyKey")
OLD_KEY = ("tenantId", "method", "path", "bodyHash")
BUILDING = "HttpIdempotency_key_building"


def _columns(names: Sequence[str]) -> str:
    return ", ".join(f'"{n}"' for n in names)


def upgrade() -> None:
    for column in NEW_COLUMNS:
        op.execute(f'ALTER TABLE {TABLE} ADD COLUMN IF NOT EXISTS "{column}" text')
        op.execute(f'ALTER TABLE {TABLE} DROP CONSTRAINT IF EXISTS "{column}_not_null"')
        op.execute(
            f'ALTER TABLE {TABLE} ADD CONSTRAINT "{column}_not_null" '
            f'CHECK ("{column}" IS NOT NULL) NOT VALID'
        )
    with op.get_context().autocommit_block():
        op.execute(f'DELETE FROM {TABLE} WHERE "idempotencyKey" IS NULL OR "profileId" IS NULL')
    for column in NEW_COLUMNS:
        op.execute(f'ALTER TABLE {TABLE} VALIDATE CONSTRAINT "{column}_not_null"')
    with op.get_context().autocommit_block():
        op.execute(f'DROP INDEX CONCURRENTLY IF EXISTS "{BUILDING}"')
        op.execute(
            f'CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS "{BUILDING}" '
            f"ON {TABLE} ({_columns(NEW_KEY)})"
        )
    for column in NEW_COLUMNS:
        op.execute(f'ALTER TABLE {TABLE} ALTER COLUMN "{column}" SET NOT NULL')
        op.execute(f'ALTER TABLE {TABLE} DROP CONSTRAINT "{column}_not_null"')
    op.execute(
        f'ALTER TABLE {TABLE} DROP CONSTRAINT "HttpIdempotency_pkey", '
        f'ADD CONSTRAINT "HttpIdempotency_pkey" PRIMARY KEY USING INDEX "{BUILDING}"'
    )


def downgrade() -> None:
    op.execute(f"DELETE FROM {TABLE}")
    op.execute(
        f'ALTER TABLE {TABLE} DROP CONSTRAINT "HttpIdempotency_pkey", '
        f'ADD CONSTRAINT "HttpIdempotency_pkey" PRIMARY KEY ({_columns(OLD_KEY)})'
    )
    for column in NEW_COLUMNS:
        op.execute(f'ALTER TABLE {TABLE} DROP COLUMN "{column}"')
