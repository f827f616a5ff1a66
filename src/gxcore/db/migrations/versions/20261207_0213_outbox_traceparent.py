"""Outbox trace context: the W3C `traceparent` of the span that enqueued each command.

With tracing on (`GX_OTEL`), `enqueue` stores the context of its span with the command, so the
relay's submit, the ledger's execution and the projector's apply, in other processes and later,
join the trace of the request that caused the command (gxcore.tracing). NULL when tracing is
off, and for commands written before this revision.

Online-safe: adding a nullable column without a default rewrites nothing.

Revision ID: c4f78a0c1086
Revises: 3e0cb13a83e2
Create Date: 2026-12-07 02:13:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "c4f78a0c1086"
down_revision: str | None = "3e0cb13a83e2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LOCK_TIMEOUT = "SET lock_timeout = '5s'"


def upgrade() -> None:
    op.execute(LOCK_TIMEOUT)
    op.execute('ALTER TABLE "OutboxCommand" ADD COLUMN IF NOT EXISTS "traceparent" text')


def downgrade() -> None:
    op.execute(LOCK_TIMEOUT)
    op.execute('ALTER TABLE "OutboxCommand" DROP COLUMN IF EXISTS "traceparent"')
