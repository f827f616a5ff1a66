"""Projector read models: one Transaction row per side of a transfer; EventLog keyed by position.

- `Transaction`: the reference's unique `(tenantId, onChainTxId)` cannot hold the two rows one
  transfer writes (the sender's SENT and the receiver's RECEIVED share the ledger tx id). It is
  replaced by `(tenantId, onChainTxId, walletId)`: one row per wallet a ledger tx touches.
- `EventLog.eventIndex` (the event's index within its block) and a unique index over the event's
  position `(tenantId, blockNumber, eventIndex, channel)`: the projector appends each applied
  event once, and the database refuses a second copy, so a bug can never apply an event twice.
  Rows written before this revision (a database built from the reference) keep a NULL index.
  The reference's `(tenantId, blockNumber)` index is a prefix of the new one and is dropped: one
  index less to write for every event projected.

The indexes are built CONCURRENTLY (outside the migration's transaction, in autocommit blocks,
as the audit chain revision does): a large Transaction or EventLog table is never locked against
writes while they build. A failed build leaves an invalid index that IF NOT EXISTS would keep,
so each is dropped first; every step can be rerun.

Revision ID: b4c5d6e7f8a9
Revises: a2b3c4d5e6f7
Create Date: 2026-11-25 16:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "b4c5d6e7f8a9"
down_revision: str | None = "a2b3c4d5e6f7"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Rules `gx db lint` waives for this revision only, and why.
SQUAWK_IGNORE = {
    "gx-lock-timeout": "written before revisions set lock_timeout themselves; env.py's "
    "run-wide lock_timeout (5s) was in force for every statement",
    "prefer-bigint-over-int": "an event's index within one block, an integer like the "
    "reference's ProjectorState.lastEventIndex it is compared with",
}

OLD_TX_KEY = "Transaction_tenantId_onChainTxId_key"
TX_KEY = "Transaction_tenantId_onChainTxId_walletId_key"
EVENT_KEY = "EventLog_tenantId_blockNumber_eventIndex_channel_key"
OLD_EVENT_INDEX = "EventLog_tenantId_blockNumber_idx"


def _rebuild_index(name: str, table: str, columns: list[str]) -> None:
    op.drop_index(name, table_name=table, postgresql_concurrently=True, if_exists=True)
    op.create_index(
        name, table, columns, unique=True, postgresql_concurrently=True, if_not_exists=True
    )


def upgrade() -> None:
    op.execute('ALTER TABLE "EventLog" ADD COLUMN IF NOT EXISTS "eventIndex" integer')
    with op.get_context().autocommit_block():
        _rebuild_index(TX_KEY, "Transaction", ["tenantId", "onChainTxId", "walletId"])
        op.drop_index(
            OLD_TX_KEY, table_name="Transaction", postgresql_concurrently=True, if_exists=True
        )
        _rebuild_index(EVENT_KEY, "EventLog", ["tenantId", "blockNumber", "eventIndex", "channel"])
        op.drop_index(
            OLD_EVENT_INDEX, table_name="EventLog", postgresql_concurrently=True, if_exists=True
        )


def downgrade() -> None:
    # Two rows of one transfer would break the old key: the downgrade refuses rather than delete
    # read-model rows (they can be rebuilt from the ledger after deleting them by hand).
    op.execute(
        "DO $$ BEGIN "
        'IF EXISTS (SELECT 1 FROM "Transaction" WHERE "onChainTxId" IS NOT NULL '
        'GROUP BY "tenantId", "onChainTxId" HAVING count(*) > 1) THEN '
        "RAISE EXCEPTION 'Transaction holds both sides of some ledger transactions; the old "
        "unique key (tenantId, onChainTxId) cannot hold them. Delete the projected rows "
        "(onChainTxId IS NOT NULL) first if that is really meant'; END IF; END $$"
    )
    with op.get_context().autocommit_block():
        op.drop_index(
            OLD_EVENT_INDEX, table_name="EventLog", postgresql_concurrently=True, if_exists=True
        )
        op.create_index(
            OLD_EVENT_INDEX,
            "EventLog",
            ["tenantId", "blockNumber"],
            postgresql_concurrently=True,
            if_not_exists=True,
        )
        op.drop_index(
            EVENT_KEY, table_name="EventLog", postgresql_concurrently=True, if_exists=True
        )
        _rebuild_index(OLD_TX_KEY, "Transaction", ["tenantId", "onChainTxId"])
        op.drop_index(
            TX_KEY, table_name="Transaction", postgresql_concurrently=True, if_exists=True
        )
    op.drop_column("EventLog", "eventIndex")
