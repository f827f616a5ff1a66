"""The embedded reference ledger's schema `ledger`: its chain and its contract state.

Not part of the reference schema and not mapped by gxcore's models (drift checks and the schema
conformance test look at `public` only). The ledger connects as the owner; the application roles
`gx_app` and `gx_system` get no access at all, so no request or worker can change the chain
except through the Ledger port.

- `head`: one row, the number of the last block; every submit locks it first, which
  makes blocks execute and commit strictly in number order.
- `blocks`, `transactions` (one per command, committed or rejected: the idempotency record),
  `events`: the chain. No foreign keys: the single writer under the head lock keeps them
  consistent, and a block of hundreds of commands should not pay a trigger per row.
- `chains`, `parameters`, `countries`, `accounts`, `organizations`, `multisig_txs`, `loans`,
  `proposals`, `votes`: the contract's state (see gxcore.ledger.rows), keyed by tenant.

Revision ID: e9c3a4b5d6f7
Revises: f1d4b5c6e7a8
Create Date: 2026-11-25 14:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "e9c3a4b5d6f7"
down_revision: str | None = "f1d4b5c6e7a8"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Rules `gx db lint` waives for this revision only, and why.
SQUAWK_IGNORE = {
    "gx-lock-timeout": "written before revisions set lock_timeout themselves; env.py's "
    "run-wide lock_timeout (5s) was in force for every statement",
}

APP_ROLES = "gx_app, gx_system"
MONEY = "numeric(36,9)"
# Every state row records the blocks that created and last changed it.
BLOCKS = "created_block bigint NOT NULL, updated_block bigint NOT NULL"

TABLES = (
    """
    CREATE TABLE ledger.head (
      id bigint PRIMARY KEY CHECK (id = 1),
      height bigint NOT NULL CHECK (height >= 0)
    )
    """,
    """
    CREATE TABLE ledger.blocks (
      block_number bigint PRIMARY KEY,
      committed_at timestamptz NOT NULL,
      tx_count bigint NOT NULL,
      event_count bigint NOT NULL
    )
    """,
    """
    CREATE TABLE ledger.transactions (
      tenant_id text NOT NULL,
      request_id text NOT NULL,
      tx_id text NOT NULL,
      command_type text NOT NULL,
      block_number bigint NOT NULL,
      status text NOT NULL CHECK (status IN ('COMMITTED', 'REJECTED')),
      code text,
      message text,
      PRIMARY KEY (tenant_id, request_id)
    )
    """,
    """
    CREATE TABLE ledger.events (
      block_number bigint NOT NULL,
      event_index bigint NOT NULL,
      tenant_id text NOT NULL,
      tx_id text NOT NULL,
      name text NOT NULL,
      version text NOT NULL,
      "timestamp" timestamptz NOT NULL,
      payload jsonb NOT NULL,
      PRIMARY KEY (block_number, event_index)
    )
    """,
    f"""
    CREATE TABLE ledger.chains (
      tenant_id text PRIMARY KEY,
      paused boolean NOT NULL,
      genesis_supply {MONEY} NOT NULL CHECK (genesis_supply >= 0),
      loan_pool_supply {MONEY} NOT NULL CHECK (loan_pool_supply >= 0),
      {BLOCKS}
    )
    """,
    f"""
    CREATE TABLE ledger.parameters (
      tenant_id text NOT NULL,
      key text NOT NULL,
      value text NOT NULL,
      {BLOCKS},
      PRIMARY KEY (tenant_id, key)
    )
    """,
    f"""
    CREATE TABLE ledger.countries (
      tenant_id text NOT NULL,
      code text NOT NULL,
      name text NOT NULL,
      population_share numeric NOT NULL CHECK (population_share BETWEEN 0 AND 1),
      treasury_active boolean NOT NULL,
      {BLOCKS},
      PRIMARY KEY (tenant_id, code)
    )
    """,
    f"""
    CREATE TABLE ledger.accounts (
      tenant_id text NOT NULL,
      account_id text NOT NULL,
      kind text NOT NULL CHECK (kind IN ('user', 'organization', 'treasury', 'system')),
      balance {MONEY} NOT NULL CHECK (balance >= 0),
      frozen boolean NOT NULL,
      is_admin boolean NOT NULL,
      above_threshold_since date,
      country text,
      age bigint,
      biometric_hash text,
      profile_id text,
      genesis_received boolean NOT NULL,
      {BLOCKS},
      PRIMARY KEY (tenant_id, account_id)
    )
    """,
    # One person, one account (CREATE_USER checks it first; this makes it a fact).
    "CREATE UNIQUE INDEX accounts_biometric_key ON ledger.accounts (tenant_id, biometric_hash)",
    f"""
    CREATE TABLE ledger.organizations (
      tenant_id text NOT NULL,
      organization_id text NOT NULL,
      name text NOT NULL,
      country text,
      status text NOT NULL,
      stakeholders text[] NOT NULL,
      endorsements text[] NOT NULL,
      auth_rules jsonb NOT NULL,
      {BLOCKS},
      PRIMARY KEY (tenant_id, organization_id)
    )
    """,
    f"""
    CREATE TABLE ledger.multisig_txs (
      tenant_id text NOT NULL,
      multisig_tx_id text NOT NULL,
      organization_id text NOT NULL,
      initiator_id text NOT NULL,
      receiver_id text NOT NULL,
      amount {MONEY} NOT NULL CHECK (amount > 0),
      required_approvals bigint NOT NULL,
      approvers text[] NOT NULL,
      approvals text[] NOT NULL,
      status text NOT NULL,
      expires_at timestamptz NOT NULL,
      {BLOCKS},
      PRIMARY KEY (tenant_id, multisig_tx_id)
    )
    """,
    f"""
    CREATE TABLE ledger.loans (
      tenant_id text NOT NULL,
      loan_id text NOT NULL,
      borrower_id text NOT NULL,
      amount {MONEY} NOT NULL CHECK (amount > 0),
      collateral_hash text,
      purpose text,
      status text NOT NULL,
      {BLOCKS},
      PRIMARY KEY (tenant_id, loan_id)
    )
    """,
    f"""
    CREATE TABLE ledger.proposals (
      tenant_id text NOT NULL,
      proposal_id text NOT NULL,
      proposer_id text NOT NULL,
      parameter_key text NOT NULL,
      new_value text NOT NULL,
      title text,
      voting_ends_at timestamptz NOT NULL,
      votes_for bigint NOT NULL,
      votes_against bigint NOT NULL,
      status text NOT NULL,
      {BLOCKS},
      PRIMARY KEY (tenant_id, proposal_id)
    )
    """,
    f"""
    CREATE TABLE ledger.votes (
      tenant_id text NOT NULL,
      proposal_id text NOT NULL,
      voter_id text NOT NULL,
      support boolean NOT NULL,
      {BLOCKS},
      PRIMARY KEY (tenant_id, proposal_id, voter_id)
    )
    """,
)


def upgrade() -> None:
    op.execute("CREATE SCHEMA ledger")
    # A new schema grants nothing to PUBLIC; revoking anyway states the rule where it is made.
    op.execute(f"REVOKE ALL ON SCHEMA ledger FROM PUBLIC, {APP_ROLES}")
    for statement in TABLES:
        op.execute(statement)
    # A tenant's events, in reading order (events_after with a tenant).
    op.execute(
        "CREATE INDEX events_tenant_position ON ledger.events (tenant_id, block_number, event_index)"
    )
    op.execute("INSERT INTO ledger.head (id, height) VALUES (1, 0)")


def downgrade() -> None:
    op.execute("DROP SCHEMA ledger CASCADE")
