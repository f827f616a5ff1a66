"""SQL of the embedded ledger (schema `ledger`), on asyncpg: few statements per block.

Rows of a batch are read and written with `unnest` over arrays, a statement per table (two when
a block both creates and changes rows of one table), never one round trip per row. The block
itself (blocks, transactions, events, head) is written by one statement. The tables are created
by the migration `20261125_1400_ledger_schema` (revision e9c3a4b5d6f7).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import asyncpg

from gxcore.errors import LedgerError
from gxcore.ledger.port import LedgerEvent, Outcome, OutcomeStatus, Position
from gxcore.ledger.rows import Row


async def init_connection(conn: asyncpg.Connection) -> None:
    """jsonb as Python values both ways (event payloads, organization rules)."""
    await conn.set_type_codec(
        "jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog", format="text"
    )


async def lock_head(conn: asyncpg.Connection) -> int:
    """Take the head row for the rest of the transaction and return the last block number.

    Every submit takes this lock before reading any state, so blocks execute and commit strictly
    one after the other, in number order: a reader can never see block N+1 before block N. Under
    READ COMMITTED, each statement after the lock sees every block committed before it.
    """
    height = await conn.fetchval("SELECT height FROM ledger.head WHERE id = 1 FOR UPDATE")
    if height is None:
        raise LedgerError("ledger.head has no row; run `gx db migrate`")
    return int(height)


async def height(conn: asyncpg.Connection) -> int:
    return int(await conn.fetchval("SELECT height FROM ledger.head WHERE id = 1") or 0)


async def find_outcomes(
    conn: asyncpg.Connection, keys: Sequence[tuple[str, str]]
) -> dict[tuple[str, str], Outcome]:
    rows = await conn.fetch(
        "SELECT tenant_id, request_id, tx_id, block_number, status, code, message "
        "FROM ledger.transactions WHERE (tenant_id, request_id) IN "
        "(SELECT * FROM unnest($1::text[], $2::text[]))",
        [k[0] for k in keys],
        [k[1] for k in keys],
    )
    return {
        (r["tenant_id"], r["request_id"]): Outcome(
            tenant_id=r["tenant_id"],
            request_id=r["request_id"],
            tx_id=r["tx_id"],
            block_number=r["block_number"],
            status=OutcomeStatus(r["status"]),
            code=r["code"],
            message=r["message"],
        )
        for r in rows
    }


def _key_match(cls: type[Row]) -> str:
    arrays = ", ".join(f"${i}::text[]" for i in range(1, len(cls.KEY) + 1))
    return f"({', '.join(cls.KEY)}) IN (SELECT * FROM unnest({arrays}))"


async def select_rows(
    conn: asyncpg.Connection,
    cls: type[Row],
    keys: Iterable[tuple[str, ...]],
) -> list[Any]:
    """Rows of `cls` with these keys. No row locks: the head lock already serializes writers."""
    keys = list(keys)
    if not keys:
        return []
    sql = f"SELECT {', '.join(cls.columns())} FROM ledger.{cls.TABLE} WHERE {_key_match(cls)}"
    columns = [list(col) for col in zip(*keys, strict=True)]
    return [cls.from_record(r) for r in await conn.fetch(sql, *columns)]


async def select_tenant_rows(
    conn: asyncpg.Connection, cls: type[Row], tenants: Sequence[str]
) -> list[Any]:
    sql = f"SELECT {', '.join(cls.columns())} FROM ledger.{cls.TABLE} WHERE tenant_id = ANY($1)"
    return [cls.from_record(r) for r in await conn.fetch(sql, list(tenants))]


async def taken_biometrics(
    conn: asyncpg.Connection, keys: Sequence[tuple[str, str]]
) -> set[tuple[str, str]]:
    rows = await conn.fetch(
        "SELECT tenant_id, biometric_hash FROM ledger.accounts WHERE (tenant_id, biometric_hash) "
        "IN (SELECT * FROM unnest($1::text[], $2::text[]))",
        [k[0] for k in keys],
        [k[1] for k in keys],
    )
    return {(r[0], r[1]) for r in rows}


def _batchable(cls: type[Row]) -> bool:
    # unnest flattens nested arrays, and jsonb[] would bypass the jsonb codec.
    return not any(t.endswith("[]") or t == "jsonb" for t in cls.TYPES.values())


async def write_rows(
    conn: asyncpg.Connection, cls: type[Row], rows: Sequence[Row], block_number: int
) -> None:
    """Insert the rows this block created and update the ones it changed: a statement each."""
    created = [r for r in rows if r.created_block == block_number]
    changed = [r for r in rows if r.created_block != block_number]
    if created:
        await _insert(conn, cls, created)
    if changed:
        await _update(conn, cls, changed)


async def _insert(conn: asyncpg.Connection, cls: type[Row], rows: Sequence[Row]) -> None:
    columns = cls.columns()
    target = f"INSERT INTO ledger.{cls.TABLE} ({', '.join(columns)})"
    if _batchable(cls):
        arrays = ", ".join(f"${i}::{cls.TYPES[c]}[]" for i, c in enumerate(columns, 1))
        await conn.execute(
            f"{target} SELECT * FROM unnest({arrays})",
            *([getattr(r, c) for r in rows] for c in columns),
        )
    else:
        values = ", ".join(f"${i}" for i in range(1, len(columns) + 1))
        await conn.executemany(
            f"{target} VALUES ({values})", [[_bind(getattr(r, c)) for c in columns] for r in rows]
        )


async def _update(conn: asyncpg.Connection, cls: type[Row], rows: Sequence[Row]) -> None:
    columns = (*cls.KEY, *cls.mutable_columns())
    sets = ", ".join(f"{c} = x.{c}" for c in cls.mutable_columns())
    match = " AND ".join(f"t.{k} = x.{k}" for k in cls.KEY)
    if _batchable(cls):
        arrays = ", ".join(f"${i}::{cls.TYPES[c]}[]" for i, c in enumerate(columns, 1))
        await conn.execute(
            f"UPDATE ledger.{cls.TABLE} AS t SET {sets} "
            f"FROM unnest({arrays}) AS x({', '.join(columns)}) WHERE {match}",
            *([getattr(r, c) for r in rows] for c in columns),
        )
    else:
        params = ", ".join(f"${i}::{cls.TYPES[c]}" for i, c in enumerate(columns, 1))
        await conn.executemany(
            f"UPDATE ledger.{cls.TABLE} AS t SET {sets} "
            f"FROM (VALUES ({params})) AS x({', '.join(columns)}) WHERE {match}",
            [[_bind(getattr(r, c)) for c in columns] for r in rows],
        )


def _bind(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


async def append_block(
    conn: asyncpg.Connection,
    block_number: int,
    committed_at: datetime,
    transactions: Sequence[tuple[Outcome, str]],
    events: Sequence[LedgerEvent],
) -> None:
    """The block, its transactions (with their outcomes) and events, and the new head: one
    statement, so the block appears whole when the transaction commits."""
    await conn.execute(
        """
        WITH b AS (
          INSERT INTO ledger.blocks (block_number, committed_at, tx_count, event_count)
          VALUES ($1, $2, $3, $4)
        ), t AS (
          INSERT INTO ledger.transactions
            (tenant_id, request_id, tx_id, command_type, block_number, status, code, message)
          SELECT tenant_id, request_id, tx_id, command_type, $1, status, code, message
          FROM unnest($5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[],
                      $11::text[])
            AS x(tenant_id, request_id, tx_id, command_type, status, code, message)
        ), e AS (
          INSERT INTO ledger.events
            (block_number, event_index, tenant_id, tx_id, name, version, "timestamp", payload)
          SELECT $1, event_index, tenant_id, tx_id, name, version, $2, payload::jsonb
          FROM unnest($12::bigint[], $13::text[], $14::text[], $15::text[], $16::text[],
                      $17::text[])
            AS y(event_index, tenant_id, tx_id, name, version, payload)
        )
        UPDATE ledger.head SET height = $1 WHERE id = 1
        """,
        block_number,
        committed_at,
        len(transactions),
        len(events),
        [o.tenant_id for o, _ in transactions],
        [o.request_id for o, _ in transactions],
        [o.tx_id for o, _ in transactions],
        [command_type for _, command_type in transactions],
        [str(o.status) for o, _ in transactions],
        [o.code for o, _ in transactions],
        [o.message for o, _ in transactions],
        [e.event_index for e in events],
        [e.tenant_id for e in events],
        [e.tx_id for e in events],
        [e.name for e in events],
        [e.version for e in events],
        [json.dumps(e.payload, separators=(",", ":")) for e in events],
    )


async def events_after(
    conn: asyncpg.Connection, position: Position | None, limit: int, tenant_id: str | None
) -> list[LedgerEvent]:
    after = position or Position(0, -1)
    tenant_filter = "" if tenant_id is None else "AND tenant_id = $4 "
    args: list[Any] = [after.block_number, after.event_index, limit]
    if tenant_id is not None:
        args.append(tenant_id)
    rows = await conn.fetch(
        'SELECT block_number, event_index, tenant_id, tx_id, name, version, "timestamp", payload '
        "FROM ledger.events WHERE (block_number, event_index) > ($1, $2) "
        f"{tenant_filter}ORDER BY block_number, event_index LIMIT $3",
        *args,
    )
    return [
        LedgerEvent(
            tenant_id=r["tenant_id"],
            tx_id=r["tx_id"],
            block_number=r["block_number"],
            event_index=r["event_index"],
            name=r["name"],
            version=r["version"],
            timestamp=r["timestamp"],
            payload=r["payload"],
        )
        for r in rows
    ]
