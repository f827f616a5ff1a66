"""Required national id, step 1 of 3 (expand): a tenant-scoped unique index on nationalIdNumber.

The lecture's Exercise 2 makes `UserProfile.nationalIdNumber` required. The column itself is the
reference schema's, nullable, created by the initial revision, so expanding needs no new column:
this revision only adds `UserProfile_tenantId_nationalIdNumber_key`. It is unique per tenant,
not globally: two tenants are two operators whose users may share a number (and a global index
would tell one tenant that another holds it). NULLs stay allowed, so rows not yet backfilled
never collide. Built CONCURRENTLY: the table keeps taking reads and writes meanwhile.

Step 2 is not a migration: `gx db backfill national-id` fills the column in short batches.
Step 3 (revision 6972afdaa927) makes it NOT NULL.

Revision ID: 53f000e2d96b
Revises: 639a5f906bd9
Create Date: 2026-12-07 02:17:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "53f000e2d96b"
down_revision: str | None = "639a5f906bd9"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Rules `gx db lint` waives for this revision only, and why.
SQUAWK_IGNORE: dict[str, str] = {}

LOCK_TIMEOUT = "SET lock_timeout = '5s'"
INDEX = '"UserProfile_tenantId_nationalIdNumber_key"'


def upgrade() -> None:
    op.execute(LOCK_TIMEOUT)
    with op.get_context().autocommit_block():
        # A build that failed leaves an invalid index that IF NOT EXISTS would keep.
        op.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {INDEX}")
        op.execute(
            f"CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS {INDEX} "
            'ON "UserProfile" ("tenantId", "nationalIdNumber")'
        )


def downgrade() -> None:
    op.execute(LOCK_TIMEOUT)
    with op.get_context().autocommit_block():
        op.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {INDEX}")
