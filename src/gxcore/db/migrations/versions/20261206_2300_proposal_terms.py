"""Proposal terms on the read model: the parameter, its new value and when voting ends.

The reference's `Proposal` keeps a title, a description and the tallies; the API must also
refuse a vote after the voting period and an execution before it ends, and show what a proposal
would change, without parsing prose. `parameterKey`, `newValue` and `votingEndsAt` come from
ProposalSubmitted (nullable: rows projected before this revision get them from
`gx projector rebuild --apply`). Active proposals are listed newest first in keyset pages per
status: an index over (tenantId, status, createdAt, proposalId) serves that page, built
CONCURRENTLY.

Revision ID: 01f4e2e6fcb3
Revises: a6b7c8d9e0f1
Create Date: 2026-12-06 23:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "01f4e2e6fcb3"
down_revision: str | None = "a6b7c8d9e0f1"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Rules `gx db lint` waives for this revision only, and why.
SQUAWK_IGNORE = {
    "gx-lock-timeout": "written before revisions set lock_timeout themselves; env.py's "
    "run-wide lock_timeout (5s) was in force for every statement",
}

TABLE = '"Proposal"'
COLUMNS = {
    "parameterKey": "text",
    "newValue": "text",
    "votingEndsAt": "timestamp(3) with time zone",
}
INDEX = "Proposal_tenantId_status_createdAt_proposalId_idx"


def upgrade() -> None:
    for column, kind in COLUMNS.items():
        op.execute(f'ALTER TABLE {TABLE} ADD COLUMN IF NOT EXISTS "{column}" {kind}')
    with op.get_context().autocommit_block():
        op.execute(f'DROP INDEX CONCURRENTLY IF EXISTS "{INDEX}"')
        op.execute(
            f'CREATE INDEX CONCURRENTLY IF NOT EXISTS "{INDEX}" '
            f'ON {TABLE} ("tenantId", "status", "createdAt", "proposalId")'
        )


def downgrade() -> None:
    with op.get_context().autocommit_block():
        op.execute(f'DROP INDEX CONCURRENTLY IF EXISTS "{INDEX}"')
    for column in COLUMNS:
        op.execute(f'ALTER TABLE {TABLE} DROP COLUMN IF EXISTS "{column}"')
