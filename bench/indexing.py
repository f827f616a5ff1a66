"""The lecture's Exercise 3 on a million rows: "a user's transactions of the last 30 days".

    .venv/bin/python bench/indexing.py [--rows 1000000] [--wallets 10000]

Fills `Transaction` with `--rows` rows over `--wallets` wallets (row i is i minutes old), then
prints `EXPLAIN (ANALYZE, BUFFERS)` of the query as the application runs it (gx_app, under
row-level security), first with the schema's indexes, then with
`Transaction_tenantId_walletId_timestamp_idx` dropped (in a transaction rolled back afterwards),
so the two plans and their costs sit side by side. docs/indexing.md quotes a run. Uses
DATABASE_URL when set (its user must be able to SET ROLE gx_app), else a throwaway embedded
server.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import time

import asyncpg
from common import migrated_database  # bench/common.py, beside this script

from gxcore.db.server import libpq_url

TENANT = "bench"
INDEX = "Transaction_tenantId_walletId_timestamp_idx"
# What SQLAlchemy sends for wallet/service's history of one profile, written out.
QUERY = """
SELECT t."offTxId", t."type", t."amount", t."timestamp"
FROM "Transaction" t JOIN "Wallet" w ON w."walletId" = t."walletId"
WHERE w."profileId" = 'p7' AND t."timestamp" >= now() - interval '30 days'
ORDER BY t."timestamp" DESC
"""


async def fill(conn: asyncpg.Connection, rows: int, wallets: int) -> None:
    await conn.execute(
        """
        INSERT INTO "UserProfile" ("profileId", "tenantId", "firstName", "lastName",
            "biometricHash", "passwordHash", "nationalIdNumber", "updatedAt")
        SELECT 'p' || i, $1, 'A', 'B', 'bio' || i, 'x', 'unverified:p' || i, now()
        FROM generate_series(1, $2) i
        """,
        TENANT,
        wallets,
    )
    await conn.execute(
        """
        INSERT INTO "Wallet" ("walletId", "tenantId", "profileId", "primaryAccountId",
            "walletName", "updatedAt")
        SELECT 'w' || i, $1, 'p' || i, 'acct' || i, 'Main', now() FROM generate_series(1, $2) i
        """,
        TENANT,
        wallets,
    )
    await conn.execute(
        """
        INSERT INTO "Transaction" ("offTxId", "tenantId", "walletId", "type", "counterparty",
            "amount", "timestamp")
        SELECT 't' || i, $1, 'w' || (1 + i % $3),
               (CASE WHEN i % 2 = 0 THEN 'SENT' ELSE 'RECEIVED' END)::"OffChainTxType",
               'x', 1, now() - make_interval(mins => i)
        FROM generate_series(1, $2) i
        """,
        TENANT,
        rows,
        wallets,
    )
    await conn.execute('VACUUM ANALYZE "UserProfile", "Wallet", "Transaction"')


async def explain(conn: asyncpg.Connection) -> str:
    """The plan as gx_app sees it, in a transaction the caller opened."""
    await conn.execute("SET LOCAL ROLE gx_app")
    await conn.execute(f"SELECT set_config('app.tenant_id', '{TENANT}', true)")
    await conn.fetch(QUERY)  # warm: both plans are measured on a warm cache
    rows = await conn.fetch(f"EXPLAIN (ANALYZE, BUFFERS) {QUERY}")
    await conn.execute("RESET ROLE")
    return "\n".join(r[0] for r in rows)


def summary(plan: str) -> str:
    execution = re.search(r"Execution Time: ([\d.]+) ms", plan)
    top = re.search(r"Buffers: shared hit=(\d+)(?: read=(\d+))?", plan)  # the top node's
    touched = sum(int(n or 0) for n in top.groups()) if top else 0
    return f"{execution.group(1) if execution else '?'} ms, {touched} buffers"


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--wallets", type=int, default=10_000)
    args = parser.parse_args()
    async with migrated_database() as url:
        conn = await asyncpg.connect(libpq_url(url))
        try:
            started = time.perf_counter()
            await fill(conn, args.rows, args.wallets)
            print(f"{args.rows:,} rows over {args.wallets:,} wallets in "
                  f"{time.perf_counter() - started:.0f} s\n")  # fmt: skip
            async with conn.transaction():
                with_index = await explain(conn)
            tx = conn.transaction()
            await tx.start()
            try:
                await conn.execute(f'DROP INDEX "{INDEX}"')
                without = await explain(conn)
            finally:
                await tx.rollback()
        finally:
            await conn.close()
    print(f"-- with {INDEX}\n{with_index}\n")
    print(f"-- without it\n{without}\n")
    print(f"with the index: {summary(with_index)}; without: {summary(without)}")


if __name__ == "__main__":
    asyncio.run(main())
