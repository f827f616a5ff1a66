"""Ledger tenant heads: tenants' blocks no longer queue behind each other.

Until now every submit locked the one row of `ledger.head` first and held it to commit, so all
tenants' blocks ran, and committed, strictly one after the other. Now (gxcore.ledger.block):

- `ledger.tenant_heads`: a row per tenant, locked by a submit for its tenants (in tenant order)
  while it reads state, runs its commands and commits. One tenant's blocks still run and commit
  one after the other; other tenants' blocks run and commit beside them. `height` is the last
  block holding a command of the tenant.
- Block numbers come from the sequence `ledger.block_numbers`, drawn by `ledger.draw_block()`
  under the tenants' heads, so one tenant's blocks commit in number order. Across tenants they
  may commit out of number order, and a block that rolls back leaves its number unused.
- `ledger.stable_height()`: the highest number below which every drawn block has committed or
  rolled back. A submit holds a shared advisory lock while it draws and an advisory lock keyed
  by its number until it ends (released only after its commit is visible); the function reads
  the sequence, then the lock table, and returns one below the lowest number still in flight.
  Readers of the whole ledger read up to it, so they never see a block appear before a
  position they passed; it is also the ledger's height.
- `ledger.head` goes: nothing locks or reads it any more.

Existing tenants get their head row here; the sequence continues from the old head.

Revision ID: 70e9ae4e8a7d
Revises: 6def41e919af
Create Date: 2026-12-07 02:14:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "70e9ae4e8a7d"
down_revision: str | None = "6def41e919af"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LOCK_TIMEOUT = "SET lock_timeout = '5s'"

# Rules `gx db lint` waives for this revision only, and why.
SQUAWK_IGNORE = {
    "ban-drop-table": "ledger.head is read and locked by the embedded ledger only, which this "
    "revision replaces; no client outside gxcore.ledger reaches schema ledger",
}

#: Advisory lock keys (bigint): the top 16 bits name the lock, the low 48 bits carry a block
#: number (pg_locks shows them as classid = high 32 bits, objid = low 32 bits).
DRAWING = 0x6C66 << 48  # shared by every submit while it holds an undrawn or drawn number
BLOCK = 0x6C65 << 48  # | block number: held by the submit that drew it until it ends

DRAW_BLOCK = f"""
CREATE FUNCTION ledger.draw_block() RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
  n bigint;
BEGIN
  PERFORM pg_advisory_xact_lock_shared({DRAWING});
  n := nextval('ledger.block_numbers');
  PERFORM pg_advisory_xact_lock({BLOCK} | n);
  RETURN n;
END
$$
"""

# A submit in `DRAWING` without its `BLOCK` lock yet may hold any number: look again shortly.
STABLE_HEIGHT = f"""
CREATE FUNCTION ledger.stable_height() RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
  drawn bigint;
  lowest bigint;
  unnumbered boolean;
BEGIN
  FOR attempt IN 1..2000 LOOP
    SELECT CASE WHEN is_called THEN last_value ELSE 0 END INTO drawn FROM ledger.block_numbers;
    WITH held AS MATERIALIZED (
      SELECT pid, (classid::bigint << 32) | objid::bigint AS key FROM pg_locks
      WHERE locktype = 'advisory' AND objsubid = 1 AND granted
        AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
    ), numbered AS (
      SELECT pid, key & ((1::bigint << 48) - 1) AS n FROM held WHERE key >> 48 = {BLOCK >> 48}
    )
    SELECT EXISTS (
             SELECT 1 FROM held d WHERE d.key = {DRAWING}
             AND NOT EXISTS (SELECT 1 FROM numbered b WHERE b.pid = d.pid)
           ),
           (SELECT min(n) FROM numbered)
      INTO unnumbered, lowest;
    IF NOT unnumbered THEN
      RETURN least(drawn, coalesce(lowest - 1, drawn));
    END IF;
    PERFORM pg_sleep(0.0005);
  END LOOP;
  RAISE EXCEPTION 'ledger: a submit held no block number for a second'
    USING ERRCODE = 'lock_not_available';
END
$$
"""


def upgrade() -> None:
    op.execute(LOCK_TIMEOUT)
    op.execute(
        """
        CREATE TABLE ledger.tenant_heads (
          tenant_id text PRIMARY KEY,
          height bigint NOT NULL CHECK (height >= 0)
        )
        """
    )
    op.execute(
        "INSERT INTO ledger.tenant_heads (tenant_id, height) "
        "SELECT tenant_id, max(block_number) FROM ledger.transactions GROUP BY tenant_id"
    )
    op.execute("CREATE SEQUENCE ledger.block_numbers AS bigint MINVALUE 1")
    op.execute("SELECT setval('ledger.block_numbers', height) FROM ledger.head WHERE height > 0")
    op.execute(DRAW_BLOCK)
    op.execute(STABLE_HEIGHT)
    op.execute("DROP TABLE ledger.head")


def downgrade() -> None:
    op.execute(LOCK_TIMEOUT)
    op.execute(
        """
        CREATE TABLE ledger.head (
          id bigint PRIMARY KEY CHECK (id = 1),
          height bigint NOT NULL CHECK (height >= 0)
        )
        """
    )
    op.execute(
        "INSERT INTO ledger.head (id, height) "
        "SELECT 1, coalesce((SELECT max(block_number) FROM ledger.blocks), 0)"
    )
    op.execute("DROP FUNCTION ledger.stable_height()")
    op.execute("DROP FUNCTION ledger.draw_block()")
    op.execute("DROP SEQUENCE ledger.block_numbers")
    op.execute("DROP TABLE ledger.tenant_heads")
