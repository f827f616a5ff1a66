"""SQL of the embedded ledger (schema `ledger`), on asyncpg: few statements per block.

Rows of a batch are read and written with `unnest` over arrays, a statement per table (two when
a block both creates and changes rows of one table), never one round trip per row. The block
itself (blocks, transactions, events, heads) is written by one statement. The tables are created
by the migrations `20261125_1400_ledger_schema` (revision e9c3a4b5d6f7) and
`20261207_0225_ledger_tenant_heads`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import asyncpg

from gxcore.db.arrays import pack, split_sql
from gxcore.ledger.port import LedgerEvent, Outcome, OutcomeStatus, Position
from gxcore.ledger.rows import Row

#: json.dumps with non-default arguments builds an encoder per call; this one is built once.
_compact_json = json.JSONEncoder(separators=(",", ":")).encode


class _Params:
    """The positional parameters of one statement, and the SQL that reads each. Text arrays go
    packed (`gxcore.db.arrays`); the separator and NULL marker take two slots, filled in when
    `args` is read."""

    def __init__(self, *values: Any) -> None:
        self._args = list(values)
        self._packed: list[tuple[int, list[str | None]]] = []  # (slot, column)
        self._marks = 0  # slot of the separator; the NULL marker follows

    def array(self, values: list[Any], sql_type: str) -> str:
        if sql_type != "text":
            self._args.append(values)
            return f"${len(self._args)}::{sql_type}[]"
        if not self._marks:
            self._args += [None, None]
            self._marks = len(self._args) - 1
        self._args.append(None)
        self._packed.append((len(self._args) - 1, values))
        return split_sql(f"${len(self._args)}", f"${self._marks}", f"${self._marks + 1}")

    @property
    def args(self) -> list[Any]:
        if self._packed:
            sep, nul, strings = pack([column for _, column in self._packed])
            self._args[self._marks - 1 : self._marks + 1] = [sep, nul]
            for (slot, _), packed in zip(self._packed, strings, strict=True):
                self._args[slot] = packed
        return self._args


async def init_connection(conn: asyncpg.Connection) -> None:
    """jsonb as Python values both ways (event payloads, organization rules)."""
    await conn.set_type_codec(
        "jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog", format="text"
    )


async def lock_tenants(conn: asyncpg.Connection, tenants: Iterable[str]) -> None:
    """Take the heads of `tenants` for the rest of the transaction, in tenant order (no
    deadlocks), creating a tenant's head on its first block.

    A block runs under its tenants' heads: its reads of their state, its rules and its writes.
    Blocks of other tenants run meanwhile; blocks of one tenant run and commit one after the
    other. Under READ COMMITTED, each statement after the lock sees every block of these tenants
    committed before it.
    """
    wanted = sorted(set(tenants))
    if await conn.fetchval(_LOCK_TENANTS, wanted) == len(wanted):
        return
    # First blocks of new tenants: a concurrent first block waits on our row, then finds it.
    await conn.execute(
        "INSERT INTO ledger.tenant_heads (tenant_id, height) SELECT t, 0 "
        "FROM unnest($1::text[]) AS t ON CONFLICT (tenant_id) DO NOTHING",
        wanted,
    )
    await conn.fetchval(_LOCK_TENANTS, wanted)


_LOCK_TENANTS = (
    "SELECT count(*) FROM (SELECT 1 FROM ledger.tenant_heads WHERE tenant_id = ANY($1::text[]) "
    "ORDER BY tenant_id FOR UPDATE) AS locked"
)


async def draw_block(conn: asyncpg.Connection) -> int:
    """The number of the block this transaction appends, held until it ends.

    Drawn under the tenants' heads, so one tenant's blocks commit in number order; across
    tenants they may commit out of it, which is why readers of the whole ledger stop at
    `height` (migration `20261207_0214_ledger_tenant_heads` has the protocol)."""
    return int(await conn.fetchval("SELECT ledger.draw_block()"))


async def stable_height(conn: asyncpg.Connection) -> int:
    """Every block numbered up to this one has committed or rolled back: no block at or below
    it can appear later."""
    return int(await conn.fetchval("SELECT ledger.stable_height()"))


async def height(conn: asyncpg.Connection) -> int:
    """The last committed block at or below the stable height (0 while the ledger is empty)."""
    stable = await stable_height(conn)
    found = await conn.fetchval(
        "SELECT max(block_number) FROM ledger.blocks WHERE block_number <= $1", stable
    )
    return int(found or 0)


async def find_outcomes(
    conn: asyncpg.Connection, keys: Sequence[tuple[str, str]]
) -> dict[tuple[str, str], Outcome]:
    p = _Params()
    tenants, requests = p.array([k[0] for k in keys], "text"), p.array([k[1] for k in keys], "text")
    rows = await conn.fetch(
        "SELECT tenant_id, request_id, tx_id, block_number, status, code, message "
        "FROM ledger.transactions WHERE (tenant_id, request_id) IN "
        f"(SELECT * FROM unnest({tenants}, {requests}))",
        *p.args,
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


def _key_match(cls: type[Row], keys: list[tuple[str, ...]], p: _Params) -> str:
    arrays = ", ".join(p.array(list(column), "text") for column in zip(*keys, strict=True))
    return f"({', '.join(cls.KEY)}) IN (SELECT * FROM unnest({arrays}))"


async def select_rows(
    conn: asyncpg.Connection,
    cls: type[Row],
    keys: Iterable[tuple[str, ...]],
) -> list[Any]:
    """Rows of `cls` with these keys. No row locks: the tenants' heads serialize their writers."""
    keys = list(keys)
    if not keys:
        return []
    p = _Params()
    match = _key_match(cls, keys, p)
    sql = f"SELECT {', '.join(cls.columns())} FROM ledger.{cls.TABLE} WHERE {match}"
    return [cls.from_record(r) for r in await conn.fetch(sql, *p.args)]


async def select_tenant_rows(
    conn: asyncpg.Connection, cls: type[Row], tenants: Sequence[str]
) -> list[Any]:
    sql = f"SELECT {', '.join(cls.columns())} FROM ledger.{cls.TABLE} WHERE tenant_id = ANY($1)"
    return [cls.from_record(r) for r in await conn.fetch(sql, list(tenants))]


async def taken_biometrics(
    conn: asyncpg.Connection, keys: Sequence[tuple[str, str]]
) -> set[tuple[str, str]]:
    p = _Params()
    tenants, hashes = p.array([k[0] for k in keys], "text"), p.array([k[1] for k in keys], "text")
    rows = await conn.fetch(
        "SELECT tenant_id, biometric_hash FROM ledger.accounts WHERE (tenant_id, biometric_hash) "
        f"IN (SELECT * FROM unnest({tenants}, {hashes}))",
        *p.args,
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
        p = _Params()
        arrays = ", ".join(p.array([getattr(r, c) for r in rows], cls.TYPES[c]) for c in columns)
        await conn.execute(f"{target} SELECT * FROM unnest({arrays})", *p.args)
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
        p = _Params()
        arrays = ", ".join(p.array([getattr(r, c) for r in rows], cls.TYPES[c]) for c in columns)
        await conn.execute(
            f"UPDATE ledger.{cls.TABLE} AS t SET {sets} "
            f"FROM unnest({arrays}) AS x({', '.join(columns)}) WHERE {match}",
            *p.args,
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
    """The block, its transactions (with their outcomes) and events, and its tenants' heads:
    one statement, so the block appears whole when the transaction commits."""
    p = _Params(block_number, committed_at, len(transactions), len(events))
    tenants = p.array([o.tenant_id for o, _ in transactions], "text")
    t = ", ".join(
        [
            p.array([o.tenant_id for o, _ in transactions], "text"),
            p.array([o.request_id for o, _ in transactions], "text"),
            p.array([o.tx_id for o, _ in transactions], "text"),
            p.array([command_type for _, command_type in transactions], "text"),
            p.array([o.status.value for o, _ in transactions], "text"),
            p.array([o.code for o, _ in transactions], "text"),
            p.array([o.message for o, _ in transactions], "text"),
        ]
    )
    e = ", ".join(
        [
            p.array([e.event_index for e in events], "bigint"),
            p.array([e.tenant_id for e in events], "text"),
            p.array([e.tx_id for e in events], "text"),
            p.array([e.name for e in events], "text"),
            p.array([e.version for e in events], "text"),
            p.array([_compact_json(e.payload) for e in events], "text"),
        ]
    )
    await conn.execute(
        f"""
        WITH b AS (
          INSERT INTO ledger.blocks (block_number, committed_at, tx_count, event_count)
          VALUES ($1, $2, $3, $4)
        ), t AS (
          INSERT INTO ledger.transactions
            (tenant_id, request_id, tx_id, command_type, block_number, status, code, message)
          SELECT tenant_id, request_id, tx_id, command_type, $1, status, code, message
          FROM unnest({t})
            AS x(tenant_id, request_id, tx_id, command_type, status, code, message)
        ), e AS (
          INSERT INTO ledger.events
            (block_number, event_index, tenant_id, tx_id, name, version, "timestamp", payload)
          SELECT $1, event_index, tenant_id, tx_id, name, version, $2, payload::jsonb
          FROM unnest({e}) AS y(event_index, tenant_id, tx_id, name, version, payload)
        )
        UPDATE ledger.tenant_heads SET height = $1
        WHERE tenant_id IN (SELECT DISTINCT tenant_id FROM unnest({tenants}) AS z(tenant_id))
        """,
        *p.args,
    )


async def events_after(
    conn: asyncpg.Connection, position: Position | None, limit: int, tenant_id: str | None
) -> list[LedgerEvent]:
    """Events after `position`, in order. One tenant's blocks commit in number order, so its
    reader takes whatever is committed; a reader of every tenant stops at the stable height,
    read first in a statement of its own (a later statement sees every block up to it)."""
    after = position or Position(0, -1)
    args: list[Any] = [after.block_number, after.event_index, limit]
    if tenant_id is not None:
        tenant_filter = "AND tenant_id = $4 "
        args.append(tenant_id)
    else:
        tenant_filter = "AND block_number <= $4 "
        args.append(await stable_height(conn))
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
