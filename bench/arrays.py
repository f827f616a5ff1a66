"""Array parameters: asyncpg lists against packed text (`gxcore.db.arrays`), per element.

    .venv/bin/python bench/arrays.py [--elements 1000] [--rounds 300]

For each kind of column the batch writers send (ids as text, amounts as numeric, block numbers
as bigint), sends one array of `--elements` values `--rounds` times through a prepared
statement that only counts them, once as a list (asyncpg's array encoder) and once packed, and
prints the client's CPU and the wall time per element, and the packed form's share of the
list's client CPU. The server-side cost is the wall time less the client's CPU (one connection,
nothing else running). Uses DATABASE_URL when set, else a throwaway embedded server.
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid
from collections.abc import Callable, Sequence
from decimal import Decimal

import asyncpg
from common import migrated_database  # bench/common.py, beside this script

from gxcore.db import arrays
from gxcore.db.server import libpq_url


async def per_element(
    conn: asyncpg.Connection, sql: str, args: Callable[[], Sequence[object]], n: int, rounds: int
) -> tuple[float, float]:
    """(client CPU, wall) in microseconds per element."""
    statement = await conn.prepare(sql)
    for _ in range(20):
        await statement.fetchval(*args())
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(rounds):
        assert await statement.fetchval(*args()) == n
    scale = 1e6 / (rounds * n)
    return (time.process_time() - cpu) * scale, (time.perf_counter() - wall) * scale


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--elements", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=300)
    args = parser.parse_args()
    n = args.elements
    columns: dict[str, tuple[str, list[object]]] = {
        "ids (text)": ("text", [str(uuid.uuid4()) for _ in range(n)]),
        "amounts (numeric)": ("numeric", [Decimal(i).scaleb(-9) for i in range(n)]),
        "blocks (bigint)": ("bigint", list(range(10**9, 10**9 + n))),
    }
    async with migrated_database() as url:
        conn = await asyncpg.connect(libpq_url(url))
        try:
            print(f"{'column':<20}{'form':<8}{'client us/elem':>16}{'wall us/elem':>14}")
            for label, (sql_type, values) in columns.items():
                as_list = values if sql_type != "numeric" else [str(v) for v in values]
                list_sql = f"SELECT cardinality(CAST($1 AS {sql_type}[]))"
                if sql_type == "numeric":  # the writers send amounts as text either way
                    list_sql = "SELECT cardinality(CAST(CAST($1 AS text[]) AS numeric[]))"

                def pack(values: list[object] = values) -> tuple[str, str, str]:
                    sep, nul, (column,) = arrays.pack([[str(v) for v in values]])
                    return column, sep, nul

                packed_sql = f"SELECT cardinality({arrays.split_sql('$1', '$2', '$3', sql_type)})"
                results = {
                    "list": await per_element(
                        conn, list_sql, lambda v=as_list: (v,), n, args.rounds
                    ),
                    "packed": await per_element(conn, packed_sql, pack, n, args.rounds),
                }
                for form, (cpu, wall) in results.items():
                    print(f"{label:<20}{form:<8}{cpu:>16.3f}{wall:>14.3f}")
                share = results["packed"][0] / results["list"][0]
                print(f"{'':<20}packed client CPU = {share:.2f}x list")
        finally:
            await conn.close()


if __name__ == "__main__":
    asyncio.run(main())
