"""The projector's dead-letter queue (`EventDLQ`): replaying entries once their cause is fixed.

An entry points at the refused event by its ledger position (`blockNumber`, `eventIndex`) and
says why it was refused. `rawPayload` keeps the event as received, for the operator to read;
replay never trusts it: it reads the event from the ledger at the entry's position, refuses one
that belongs to another tenant than the entry's, and applies it with the projector's own
handlers, out of order (`Mode.REPLAY`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gxcore.cqrs.models import EventDLQ, EventLog
from gxcore.cqrs.projection import Batch, Mode, Projection
from gxcore.cqrs.projector import EventSource, first_line
from gxcore.cqrs.registry import PROJECTIONS
from gxcore.db.tenancy import Database
from gxcore.errors import DlqEntryNotFound, ProjectorStopped
from gxcore.ledger.port import LedgerEvent, Position


async def list_entries(session: AsyncSession, *, limit: int = 100) -> list[EventDLQ]:
    """The entries the session sees (a tenant's, under its scope), oldest first, at most
    `limit`: the order replay applies them in."""
    stmt = select(EventDLQ).order_by(
        EventDLQ.block_number, EventDLQ.event_index, EventDLQ.created_at
    )
    return list((await session.scalars(stmt.limit(limit))).all())


@dataclass
class ReplayResult:
    applied: list[str] = field(default_factory=list)  # DLQ entry ids, now applied and removed
    failed: list[tuple[str, str]] = field(default_factory=list)  # (id, reason), still queued


async def replay_dlq(
    db: Database,
    source: EventSource,
    *,
    entry_id: str | None = None,
    tenant_id: str | None = None,
    table: Mapping[str, Projection] = PROJECTIONS,
) -> ReplayResult:
    """Apply DLQ entries again, in ledger order, each in its own transaction.

    An entry that applies now (its cause fixed: the profile registered, a newer gxcore that
    knows the event) is removed; one that fails again stays with its new reason, and so does one
    whose position holds no event of its tenant on the ledger (`source`). Wallets it touches are recomputed from the events applied to their
    accounts, so an old balance never overwrites a newer one. Checkpoints do not move: these
    events are behind them already.
    """
    async with db.system(reason="projector: list DLQ") as session:
        stmt = select(EventDLQ.id).order_by(
            EventDLQ.block_number, EventDLQ.event_index, EventDLQ.created_at
        )
        if entry_id is not None:
            stmt = stmt.where(EventDLQ.id == entry_id)
        if tenant_id is not None:
            stmt = stmt.where(EventDLQ.tenant_id == tenant_id)
        ids = list((await session.scalars(stmt)).all())
    if entry_id is not None and not ids:
        raise DlqEntryNotFound(f"no DLQ entry {entry_id!r}")
    result = ReplayResult()
    for dlq_id in ids:
        try:
            async with db.system(reason="projector: replay DLQ entry") as session:
                reason = await _replay_one(session, source, dlq_id, table)
        except Exception as e:
            raise ProjectorStopped(
                f"replaying DLQ entry {dlq_id} failed: {type(e).__name__}: {first_line(e)}; "
                "nothing of it was applied"
            ) from e
        if reason is None:
            result.applied.append(dlq_id)
        else:
            result.failed.append((dlq_id, reason))
    return result


async def _replay_one(
    session: AsyncSession, source: EventSource, dlq_id: str, table: Mapping[str, Projection]
) -> str | None:
    """None when applied (the entry is removed), else the reason it still fails."""
    entry = await session.get(EventDLQ, dlq_id, with_for_update=True)
    if entry is None:
        return None  # replayed meanwhile by someone else
    event, refusal = await _event_of(source, entry)
    if event is None:
        entry.reason = refusal
        return entry.reason
    batch = Batch(session, table, mode=Mode.REPLAY)
    if await _logged(session, event):  # applied, balances included: only its read model is left
        await batch.project_read_model(event)
    else:
        await batch.project(event)
    await batch.flush()
    if batch.dead:
        entry.reason = batch.dead[0].reason
        return entry.reason
    await session.delete(entry)
    return None


async def _event_of(source: EventSource, entry: EventDLQ) -> tuple[LedgerEvent | None, str]:
    """The ledger's event at the entry's position, or why there is none to replay."""
    if entry.block_number is None or entry.event_index is None:
        return None, "NO_POSITION: the entry names no ledger position (blockNumber, eventIndex)"
    at = Position(entry.block_number, entry.event_index)
    where = f"block {at.block_number}, index {at.event_index}"
    found = await source.events_after(Position(at.block_number, at.event_index - 1), limit=1)
    if not found or found[0].position != at:
        return None, f"EVENT_NOT_FOUND: the ledger has no event at {where}"
    if found[0].tenant_id != entry.tenant_id:
        return None, (
            f"TENANT_MISMATCH: the ledger's event at {where} belongs to another tenant than "
            f"this entry's ({entry.tenant_id!r}); replay applies a tenant's own events only"
        )
    return found[0], ""


async def _logged(session: AsyncSession, event: LedgerEvent) -> bool:
    found = await session.scalar(
        select(EventLog.id).where(
            EventLog.tenant_id == event.tenant_id,
            EventLog.channel == event.channel,
            EventLog.block_number == event.block_number,
            EventLog.event_index == event.event_index,
        )
    )
    return found is not None
