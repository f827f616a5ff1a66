"""The lecture's Exercise 3: "a user's transactions of the last 30 days" is an index scan.

On 100,000 Transaction rows over 1,000 wallets, as the application runs it (gx_app, under
row-level security), the plan reads `Transaction_tenantId_walletId_timestamp_idx`, never the
whole table. So does the one statement that reads a transfer's risk facts (gxcore.wallet.risk).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
from sqlalchemy import select, text

from gxcore.db.engine import libpq_url
from gxcore.db.tenancy import Database
from gxcore.wallet import risk
from gxcore.wallet.models import Transaction, Wallet
from tests.conftest import ROLE_KEY

ROWS, WALLETS = 100_000, 1_000


@pytest.fixture
async def filled(scratch_url: str, tenant: str) -> AsyncIterator[Database]:
    conn = await asyncpg.connect(libpq_url(scratch_url))
    try:
        await conn.execute(
            """
            INSERT INTO "UserProfile" ("profileId", "tenantId", "firstName", "lastName",
                "biometricHash", "passwordHash", "nationalIdNumber", "updatedAt")
            SELECT 'p' || i, $1, 'A', 'B', 'bio' || i, 'x', 'unverified:p' || i, now()
            FROM generate_series(1, $2) AS i;
            """,
            tenant,
            WALLETS,
        )
        await conn.execute(
            """
            INSERT INTO "Wallet" ("walletId", "tenantId", "profileId", "primaryAccountId",
                "walletName", "updatedAt")
            SELECT 'w' || i, $1, 'p' || i, 'acct' || i, 'Main', now()
            FROM generate_series(1, $2) AS i;
            """,
            tenant,
            WALLETS,
        )
        await conn.execute(
            """
            INSERT INTO "Transaction" ("offTxId", "tenantId", "walletId", "type", "counterparty",
                "amount", "timestamp")
            SELECT 't' || i, $1, 'w' || (1 + i % $3), 'RECEIVED', 'x', 1,
                   now() - make_interval(mins => i)
            FROM generate_series(1, $2) AS i;
            """,
            tenant,
            ROWS,
            WALLETS,
        )
        await conn.execute('ANALYZE "UserProfile", "Wallet", "Transaction"')
    finally:
        await conn.close()
    db = Database.connect(scratch_url, role_key=ROLE_KEY)
    yield db
    await db.dispose()


async def test_a_users_last_30_days_of_transactions_use_the_wallet_and_time_index(
    filled: Database, tenant: str
) -> None:
    since = datetime.now(UTC) - timedelta(days=30)
    query = (
        select(Transaction)
        .join(Wallet, Wallet.wallet_id == Transaction.wallet_id)
        .where(Wallet.profile_id == "p7", Transaction.timestamp >= since)
    )
    async with filled.tenant(tenant) as s:
        compiled = query.compile(s.bind, compile_kwargs={"literal_binds": True})
        rows = (await s.execute(query)).scalars().all()
        plan = (await s.execute(text(f"EXPLAIN (FORMAT JSON) {compiled}"))).scalar_one()
    # Row i is i minutes old and p7's when i % 1000 == 6: 6, 1006, ..., 43006 are in 30 days.
    assert len(rows) == 44
    nodes = _nodes(plan[0]["Plan"] if isinstance(plan, list) else json.loads(plan)[0]["Plan"])
    on_transaction = [n for n in nodes if n.get("Relation Name") == "Transaction"]
    assert on_transaction, nodes
    assert all(n["Node Type"] != "Seq Scan" for n in on_transaction), on_transaction
    assert any(
        n.get("Index Name") == "Transaction_tenantId_walletId_timestamp_idx" for n in on_transaction
    ), on_transaction


def _nodes(node: dict) -> list[dict]:
    return [node, *(n for child in node.get("Plans", []) for n in _nodes(child))]


async def test_a_transfers_risk_facts_read_the_senders_rows_through_an_index(
    filled: Database, tenant: str
) -> None:
    params = {
        "wallet": "w7", "receiver": "w8", "counterparty": "acct8", "command": "c",
        "profile": "p7", "device": "d", "threshold": risk.THRESHOLD,
    }  # fmt: skip
    async with filled.tenant(tenant) as s:
        row = (await s.execute(risk._FACTS, params)).one()
        plan = (
            await s.execute(text(f"EXPLAIN (FORMAT JSON) {risk._FACTS.text}"), params)
        ).scalar_one()
    assert (row.sent_count, row.known_receiver) == (0, False)  # p7's 100 rows are all received
    nodes = _nodes(plan[0]["Plan"] if isinstance(plan, list) else json.loads(plan)[0]["Plan"])
    on_transaction = [n for n in nodes if n.get("Relation Name") == "Transaction"]
    assert on_transaction, nodes
    assert all(n["Node Type"] != "Seq Scan" for n in on_transaction), on_transaction
