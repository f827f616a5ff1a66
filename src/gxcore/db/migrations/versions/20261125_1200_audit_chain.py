"""Audit chain: a strict per-tenant order and the previous entry's hash on AuditLog.

Adds `AuditLog.chainSeq` (1, 2, 3... per tenant, unique with the tenant) and
`AuditLog.previousHash`, and the generic `RECORD_CREATED/UPDATED/DELETED` event types used by the
automatic row-change entries (`gxcore.audit.service`).

The NOT NULL column is added the online way, so a large AuditLog (a database built from the
reference schema) is never locked while it is scanned: add it nullable with a `NOT VALID` check
(quick), backfill (row locks only), validate the check in its own transaction (no lock that
blocks reads or writes), then SET NOT NULL, which skips its scan because the valid check proves
it, and drop the check. The unique index is built CONCURRENTLY. Alembic's autocommit blocks end
the migration's transaction where needed; each step is written to be rerun after a failure.

Rows written before this revision get a chainSeq in timestamp order but keep their eventHash and
a NULL previousHash: they were never chained, and `gx audit verify` reports such a chain as
broken at its second entry. Entries written by gxcore start at chainSeq 1 of a valid chain.

Downgrade recreates the enum type without the three values and refuses, with a message, while
audit entries still use them: deleting audit evidence is the operator's call, not a migration's.

Revision ID: d8b2f3e4a5c6
Revises: c7a1e2d3f4b5
Create Date: 2026-11-25 12:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "d8b2f3e4a5c6"
down_revision: str | None = "c7a1e2d3f4b5"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Rules `gx db lint` waives for this revision only, and why.
SQUAWK_IGNORE = {
    "gx-lock-timeout": "written before revisions set lock_timeout themselves; env.py's "
    "run-wide lock_timeout (5s) was in force for every statement",
    "ban-drop-constraint": "the only constraint dropped is the temporary NOT VALID check this "
    "revision adds to prove chainSeq NOT NULL; the NOT NULL itself keeps the guarantee",
}

NEW_EVENT_TYPES = ("RECORD_CREATED", "RECORD_UPDATED", "RECORD_DELETED")
# AuditEventType as the initial revision created it (static: migrations never import the models).
OLD_EVENT_TYPES = (
    "USER_LOGIN",
    "USER_LOGOUT",
    "USER_REGISTERED",
    "PROFILE_UPDATED",
    "PASSWORD_CHANGED",
    "KYC_SUBMITTED",
    "KYC_APPROVED",
    "KYC_REJECTED",
    "TRANSACTION_INITIATED",
    "TRANSACTION_APPROVED",
    "TRANSACTION_REJECTED",
    "TRANSACTION_COMPLETED",
    "TRANSACTION_FAILED",
    "WALLET_CREATED",
    "BENEFICIARY_ADDED",
    "BENEFICIARY_REMOVED",
    "RELATIONSHIP_INVITED",
    "RELATIONSHIP_CONFIRMED",
    "RELATIONSHIP_REJECTED",
    "BUSINESS_SIGNATORY_ADDED",
    "BUSINESS_SIGNATORY_REVOKED",
    "ADMIN_ACCOUNT_FROZEN",
    "ADMIN_ACCOUNT_UNFROZEN",
    "ADMIN_ACCOUNT_CLOSED",
    "SESSION_CREATED",
    "SESSION_REVOKED",
    "DEVICE_TRUSTED",
    "DEVICE_UNTRUSTED",
)
CHAIN_INDEX = "AuditLog_tenantId_chainSeq_key"
# Temporary: proves chainSeq NOT NULL so SET NOT NULL needs no scan; dropped at the end.
NOT_NULL_CHECK = "AuditLog_chainSeq_not_null"


def upgrade() -> None:
    # PostgreSQL 12+ accepts ADD VALUE in a transaction as long as it does not use the value.
    after = OLD_EVENT_TYPES[-1]
    for value in NEW_EVENT_TYPES:
        op.execute(
            f"ALTER TYPE \"AuditEventType\" ADD VALUE IF NOT EXISTS '{value}' AFTER '{after}'"
        )
        after = value
    # Written as SQL for IF NOT EXISTS / IF EXISTS: a run that failed part way can be rerun.
    op.execute('ALTER TABLE "AuditLog" ADD COLUMN IF NOT EXISTS "chainSeq" bigint')
    op.execute('ALTER TABLE "AuditLog" ADD COLUMN IF NOT EXISTS "previousHash" text')
    op.execute(f'ALTER TABLE "AuditLog" DROP CONSTRAINT IF EXISTS "{NOT_NULL_CHECK}"')
    op.execute(
        f'ALTER TABLE "AuditLog" ADD CONSTRAINT "{NOT_NULL_CHECK}" '
        'CHECK ("chainSeq" IS NOT NULL) NOT VALID'
    )

    # The backfill runs after the ADD COLUMN's exclusive lock is released, holding row locks only.
    with op.get_context().autocommit_block():
        op.execute(
            'UPDATE "AuditLog" AS a SET "chainSeq" = n.seq '
            'FROM (SELECT "auditId", row_number() OVER '
            '(PARTITION BY "tenantId" ORDER BY "timestamp", "auditId") AS seq '
            'FROM "AuditLog") AS n '
            'WHERE a."auditId" = n."auditId" AND a."chainSeq" IS NULL'
        )

    # Its own transaction: validating scans the table but blocks no reads or writes.
    op.execute(f'ALTER TABLE "AuditLog" VALIDATE CONSTRAINT "{NOT_NULL_CHECK}"')

    # CONCURRENTLY cannot run in a transaction. A build that failed leaves an invalid index
    # behind, which IF NOT EXISTS would keep: drop it first.
    with op.get_context().autocommit_block():
        op.drop_index(
            CHAIN_INDEX, table_name="AuditLog", postgresql_concurrently=True, if_exists=True
        )
        op.create_index(
            CHAIN_INDEX,
            "AuditLog",
            ["tenantId", "chainSeq"],
            unique=True,
            postgresql_concurrently=True,
            if_not_exists=True,
        )

    # The validated check proves the column has no NULL, so SET NOT NULL skips its scan.
    op.alter_column("AuditLog", "chainSeq", existing_type=sa.BigInteger(), nullable=False)
    op.execute(f'ALTER TABLE "AuditLog" DROP CONSTRAINT "{NOT_NULL_CHECK}"')

    # Append-only for the application: a chain the app role could rewrite proves little.
    # The system scope keeps DELETE for retention jobs, but no one but the owner may UPDATE.
    op.execute('REVOKE UPDATE, DELETE ON "AuditLog" FROM gx_app')
    op.execute('REVOKE UPDATE ON "AuditLog" FROM gx_system')


def downgrade() -> None:
    op.execute('GRANT UPDATE, DELETE ON "AuditLog" TO gx_app')
    op.execute('GRANT UPDATE ON "AuditLog" TO gx_system')
    listed = ", ".join(f"'{v}'" for v in NEW_EVENT_TYPES)
    op.execute(
        "DO $$ BEGIN "
        f'IF EXISTS (SELECT 1 FROM "AuditLog" WHERE "eventType"::text IN ({listed})) THEN '
        "RAISE EXCEPTION 'AuditLog has entries of type %; downgrading would destroy them. "
        "Archive and delete them first if that is really meant', '"
        + "/".join(NEW_EVENT_TYPES)
        + "'; END IF; END $$"
    )
    op.drop_index(CHAIN_INDEX, table_name="AuditLog")
    op.drop_column("AuditLog", "previousHash")
    op.drop_column("AuditLog", "chainSeq")

    # PostgreSQL cannot drop an enum value: recreate the type without them.
    op.execute('ALTER TYPE "AuditEventType" RENAME TO "AuditEventType_old"')
    sa.Enum(*OLD_EVENT_TYPES, name="AuditEventType").create(op.get_bind())
    op.execute(
        'ALTER TABLE "AuditLog" ALTER COLUMN "eventType" TYPE "AuditEventType" '
        'USING "eventType"::text::"AuditEventType"'
    )
    op.execute('DROP TYPE "AuditEventType_old"')
