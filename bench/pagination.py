"""Keyset against offset pages on a million rows, through gxcore.db.pages itself.

    .venv/bin/python bench/pagination.py [--rows 1000000] [--limit 50] [--page 10000]

Fills `Transaction` with `--rows` rows of one wallet (three rows per instant, so ties on the
timestamp are broken by the id), then times the wallet history's query as the application runs
it (gx_app under row-level security, the helper's ordering on (timestamp, offTxId) newest
first): the first page and page `--page`, once by cursor (keyset) and once by page number
(offset), and prints each one's deep/first ratio. A keyset page costs what the first one does at
any depth; an offset page reads and throws away every row before it. Uses DATABASE_URL when set
(its user must be able to SET ROLE gx_app), else a throwaway embedded server.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time

import asyncpg
from common import ROLE_KEY, migrated_database  # bench/common.py, beside this script
from sqlalchemy import select

from gxcore.db import pages
from gxcore.db.server import libpq_url
from gxcore.db.tenancy import Database
from gxcore.wallet.models import Transaction

TENANT = "bench"
WALLET = "w1"
REPEATS = 7
CURSORS = pages.Cursors.from_secret(os.urandom(32))
LIST = f"{TENANT}\n/api/v1/wallets/p1/transactions"
# The columns and ordering wallet/service's history pages with.
COLUMNS = (
    Transaction.off_tx_id,
    Transaction.type,
    Transaction.counterparty,
    Transaction.amount,
    Transaction.fee,
    Transaction.timestamp,
)
ORDER = pages.Order.newest_first(Transaction.timestamp, Transaction.off_tx_id)
QUERY = select(*COLUMNS).where(Transaction.wallet_id == WALLET)


async def fill(conn: asyncpg.Connection, rows: int) -> None:
    await conn.execute(
        """
        INSERT INTO "UserProfile" ("profileId", "tenantId", "firstName", "lastName",
            "biometricHash", "passwordHash", "updatedAt")
        VALUES ('p1', $1, 'A', 'B', 'bio1', 'x', now())
        """,
        TENANT,
    )
    await conn.execute(
        """
        INSERT INTO "Wallet" ("walletId", "tenantId", "profileId", "primaryAccountId",
            "walletName", "updatedAt")
        VALUES ($2, $1, 'p1', 'acct1', 'Main', now())
        """,
        TENANT,
        WALLET,
    )
    await conn.execute(
        """
        INSERT INTO "Transaction" ("offTxId", "tenantId", "walletId", "type", "counterparty",
            "amount", "timestamp")
        SELECT 't' || i, $1, $2,
               (CASE WHEN i % 2 = 0 THEN 'SENT' ELSE 'RECEIVED' END)::"OffChainTxType",
               'x', 1, now() - make_interval(secs => i / 3)
        FROM generate_series(1, $3) i
        """,
        TENANT,
        WALLET,
        rows,
    )
    await conn.execute('VACUUM ANALYZE "UserProfile", "Wallet", "Transaction"')


async def timed(db: Database, request: pages.PageRequest) -> tuple[float, pages.Slice]:
    """The median of REPEATS fetches of one page (after one to warm), in milliseconds."""
    times, found = [], None
    for _ in range(REPEATS + 1):
        async with db.tenant(TENANT) as session:
            started = time.perf_counter()
            found = await pages.fetch(session, QUERY, ORDER, request)
            times.append((time.perf_counter() - started) * 1000)
    assert found is not None and len(found.rows) == request.limit
    return statistics.median(times[1:]), found


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--limit", type=int, default=50)
    parser.add_argument("--page", type=int, default=10_000)
    args = parser.parse_args()
    deep_offset = (args.page - 1) * args.limit
    assert deep_offset + args.limit <= args.rows, "the deep page must lie inside the table"
    async with migrated_database() as url:
        conn = await asyncpg.connect(libpq_url(url))
        try:
            started = time.perf_counter()
            await fill(conn, args.rows)
            print(f"{args.rows:,} rows in one wallet in {time.perf_counter() - started:.0f} s")
        finally:
            await conn.close()
        db = Database.connect(url, role_key=ROLE_KEY)
        try:
            ask = {"limit": args.limit}
            first_offset, _ = await timed(db, pages.PageRequest(CURSORS, LIST, page=1, **ask))
            first_keyset, _ = await timed(db, pages.PageRequest(CURSORS, LIST, **ask))
            # The cursor to page `--page` is where the page before it ends.
            before = pages.PageRequest(CURSORS, LIST, page=args.page - 1, **ask)
            _, previous = await timed(db, before)
            cursor = previous.next_cursor
            deep_offset_ms, by_number = await timed(
                db, pages.PageRequest(CURSORS, LIST, page=args.page, **ask)
            )
            deep_keyset_ms, by_cursor = await timed(
                db, pages.PageRequest(CURSORS, LIST, cursor=cursor, **ask)
            )
            assert by_number.rows == by_cursor.rows, "both ways must reach the same page"
        finally:
            await db.dispose()
    print(f"page size {args.limit}; deep page {args.page:,} (offset {deep_offset:,}); "
          f"median of {REPEATS}, in ms\n")  # fmt: skip
    print(f"{'':8}{'first page':>12}{'deep page':>12}{'deep/first':>12}")
    for name, first, deep in [
        ("keyset", first_keyset, deep_keyset_ms),
        ("offset", first_offset, deep_offset_ms),
    ]:
        print(f"{name:8}{first:>12.2f}{deep:>12.2f}{deep / first:>11.1f}x")


if __name__ == "__main__":
    asyncio.run(main())
