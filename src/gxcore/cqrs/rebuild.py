"""Rebuild: recompute the read models from block 0 and compare them with the live ones.

Everything happens in one transaction of the system scope:
1. lock the projector's checkpoints (a running projector waits for the rebuild on them) and take
   a snapshot of the live read models of the tenants in scope;
2. reset what only events make: wallet balances to 0 and their velocity-tax timers to NULL;
   `EventLog`, `Organization`, `MultiSigTransaction`, `Loan` and `Proposal` rows deleted.
   Profiles, wallets themselves, parameters and countries stay: their handlers converge
   (applied to the state an event leads to, they change nothing), and other services own the
   rest of those rows;
3. replay every event from block 0 up to each tenant's checkpoint with the projector's own
   handlers (`Mode.REBUILD`: no DLQ rows, no outbox marks); `Transaction` rows are upserted on
   their key, and projected rows no event implies are deleted;
4. snapshot again and compare, row for row, ignoring only generated ids, bookkeeping times and
   version counters;
5. commit with `apply` (the read models are now exactly what the ledger implies), else roll
   back: the live data is never touched by a check.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from gxcore.cqrs.checkpoints import lock_checkpoints
from gxcore.cqrs.projection import Batch, Mode, Projection
from gxcore.cqrs.projector import DEFAULT_NAME, EventSource
from gxcore.cqrs.registry import PROJECTIONS
from gxcore.db.models import metadata
from gxcore.db.tenancy import Database
from gxcore.ledger.port import CHANNEL, Position

#: Tables compared, and the columns left out (generated ids, bookkeeping times). UserProfile is
#: compared on the columns the projector writes only.
COMPARED: dict[str, frozenset[str]] = {
    "Wallet": frozenset({"createdAt", "updatedAt", "version"}),
    "Transaction": frozenset({"offTxId"}),
    "EventLog": frozenset({"id", "ingestedAt"}),
    "Organization": frozenset({"updatedAt"}),
    "MultiSigTransaction": frozenset({"updatedAt"}),
    "Loan": frozenset({"updatedAt"}),
    "Proposal": frozenset({"updatedAt"}),
    "SystemParameter": frozenset({"updatedAt"}),
    "TreasuryAccount": frozenset({"updatedAt"}),
    "SystemState": frozenset({"updatedAt"}),
}
PROFILE_COLUMNS = (
    "tenantId", "profileId", "status", "fabricUserId", "onchainStatus", "onchainRegisteredAt",
)  # fmt: skip
#: Rows only events create, deleted before the replay.
RECREATED = (
    "EventLog", "Organization", "MultiSigTransaction", "Loan", "Proposal", "TreasuryAccount",
    "SystemState",
)  # fmt: skip


@dataclass(frozen=True)
class TableDiff:
    table: str
    only_live: list[tuple[Any, ...]]  # rows the live table has and the rebuild does not
    only_rebuilt: list[tuple[Any, ...]]
    columns: tuple[str, ...]


@dataclass
class RebuildReport:
    tenants: list[str] = field(default_factory=list)
    events: int = 0  # replayed (applied or refused)
    dead: int = 0  # refused by validation or the read models, as live
    differences: list[TableDiff] = field(default_factory=list)
    committed: bool = False

    @property
    def equal(self) -> bool:
        return not self.differences


class _DryRun(Exception):
    """Leaves the rebuild's unit of work by rolling it back."""


async def rebuild(
    db: Database,
    source: EventSource,
    *,
    name: str = DEFAULT_NAME,
    channel: str = CHANNEL,
    tenant_id: str | None = None,
    apply: bool = False,
    batch_size: int = 1000,
    table: Mapping[str, Projection] = PROJECTIONS,
    on_progress: Callable[[int, int], None] | None = None,
) -> RebuildReport:
    """Recompute, compare, and commit only with `apply` (see the module doc). `on_progress`
    hears, after each batch, the block replayed up to and the last block to replay."""
    report = RebuildReport()
    try:
        async with db.system(reason=f"projector {name}: rebuild") as session:
            await _rebuild(
                session, source, report, name, channel, tenant_id, batch_size, table, on_progress
            )
            if not apply:
                raise _DryRun
            report.committed = True
    except _DryRun:
        pass
    return report


async def _rebuild(
    session: AsyncSession,
    source: EventSource,
    report: RebuildReport,
    name: str,
    channel: str,
    tenant_id: str | None,
    batch_size: int,
    table: Mapping[str, Projection],
    on_progress: Callable[[int, int], None] | None,
) -> None:
    rows = await session.execute(
        text(
            'SELECT "tenantId" FROM "ProjectorState" WHERE "projectorName" = :name '
            'AND "channel" = :channel AND (CAST(:tenant AS text) IS NULL OR "tenantId" = :tenant)'
        ),
        {"name": name, "channel": channel, "tenant": tenant_id},
    )
    tenants = sorted(r[0] for r in rows)
    checkpoints = await lock_checkpoints(session, name, channel, tenants)
    report.tenants = tenants
    if not checkpoints:
        return
    live = await _snapshot(session, tenants)
    await _reset(session, tenants)

    end = max(checkpoints.values())
    cursor: Position | None = None
    entries: set[tuple[str, str, str]] = set()
    while True:
        events = await source.events_after(cursor, batch_size, tenant_id=tenant_id)
        if not events:
            break
        batch = Batch(session, table, mode=Mode.REBUILD)
        for event in events:
            checkpoint = checkpoints.get(event.tenant_id)
            if checkpoint is not None and event.position <= checkpoint:
                await batch.project(event)
        await batch.flush()
        entries |= batch.entries
        report.events += len(batch.seen)
        report.dead += len(batch.dead)
        cursor = events[-1].position
        if on_progress is not None:
            on_progress(min(cursor.block_number, end.block_number), end.block_number)
        if cursor >= end:
            break
    await _delete_unimplied_entries(session, tenants, entries)
    rebuilt = await _snapshot(session, tenants)
    report.differences = _compare(live, rebuilt)


async def _reset(session: AsyncSession, tenants: list[str]) -> None:
    params = {"t": tenants}
    await session.execute(
        text(
            'UPDATE "Wallet" SET "cachedBalance" = 0, "aboveThresholdSince" = NULL, '
            '"updatedAt" = CURRENT_TIMESTAMP, "version" = "version" + 1 '
            'WHERE "tenantId" = ANY(CAST(:t AS text[])) '
            'AND ("cachedBalance" <> 0 OR "aboveThresholdSince" IS NOT NULL)'
        ),
        params,
    )
    for name in RECREATED:
        await session.execute(
            text(f'DELETE FROM "{name}" WHERE "tenantId" = ANY(CAST(:t AS text[]))'), params
        )


async def _delete_unimplied_entries(
    session: AsyncSession, tenants: list[str], implied: set[tuple[str, str, str]]
) -> None:
    rows = await session.execute(
        text(
            'SELECT t."offTxId", t."tenantId", t."onChainTxId", w."primaryAccountId" '
            'FROM "Transaction" AS t JOIN "Wallet" AS w '
            'ON w."tenantId" = t."tenantId" AND w."walletId" = t."walletId" '
            'WHERE t."tenantId" = ANY(CAST(:t AS text[])) AND t."onChainTxId" IS NOT NULL'
        ),
        {"t": tenants},
    )
    stale = [row[0] for row in rows if tuple(row[1:]) not in implied]
    if stale:
        await session.execute(
            text(
                'DELETE FROM "Transaction" WHERE "tenantId" = ANY(CAST(:t AS text[])) '
                'AND "offTxId" = ANY(CAST(:ids AS text[]))'
            ),
            {"t": tenants, "ids": stale},
        )


Snapshot = dict[str, tuple[tuple[str, ...], Counter[tuple[Any, ...]]]]


def _columns(table_name: str) -> tuple[str, ...]:
    if table_name == "UserProfile":
        return PROFILE_COLUMNS
    skip = COMPARED[table_name]
    return tuple(c.name for c in metadata.tables[table_name].columns if c.name not in skip)


async def _snapshot(session: AsyncSession, tenants: list[str]) -> Snapshot:
    snapshot: Snapshot = {}
    for table_name in ("UserProfile", *COMPARED):
        columns = _columns(table_name)
        listed = ", ".join(f'"{c}"' for c in columns)
        rows = await session.execute(
            text(f'SELECT {listed} FROM "{table_name}" WHERE "tenantId" = ANY(CAST(:t AS text[]))'),
            {"t": tenants},
        )
        snapshot[table_name] = (columns, Counter(tuple(map(_plain, row)) for row in rows))
    return snapshot


def _plain(value: Any) -> Any:
    """A hashable, comparable form (jsonb values come back as dicts and lists)."""
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True, default=str)
    return value


def _compare(live: Snapshot, rebuilt: Snapshot) -> list[TableDiff]:
    diffs = []
    for table_name, (columns, rows) in live.items():
        other = rebuilt[table_name][1]
        only_live, only_rebuilt = rows - other, other - rows
        if only_live or only_rebuilt:
            diffs.append(
                TableDiff(
                    table_name,
                    _sorted(only_live.elements()),
                    _sorted(only_rebuilt.elements()),
                    columns,
                )
            )
    return diffs


def _sorted(rows: Any) -> list[tuple[Any, ...]]:
    return sorted(rows, key=repr)
