"""The projector's checkpoints: one `ProjectorState` row per (tenant, projector name, channel).

A row holds the position of the last event of its tenant the projector processed (applied or
sent to the DLQ). Rows are locked by the batch that advances them, so two projectors on one name
take turns tenant by tenant instead of applying an event twice.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from gxcore.cqrs.models import ProjectorState
from gxcore.ledger.port import Position


async def resume_position(
    session: AsyncSession, name: str, channel: str, tenant_id: str | None = None
) -> Position | None:
    """Where a projector resumes: after its newest checkpoint (that tenant's, with `tenant_id`)."""
    stmt = (
        select(ProjectorState.last_block, ProjectorState.last_event_index)
        .where(ProjectorState.projector_name == name, ProjectorState.channel == channel)
        .order_by(ProjectorState.last_block.desc(), ProjectorState.last_event_index.desc())
        .limit(1)
    )
    if tenant_id is not None:
        stmt = stmt.where(ProjectorState.tenant_id == tenant_id)
    row = (await session.execute(stmt)).first()
    return Position(row[0], row[1]) if row else None


async def lock_checkpoints(
    session: AsyncSession, name: str, channel: str, tenants: list[str]
) -> dict[str, Position]:
    """The tenants' checkpoints, locked until the transaction ends (in tenant order)."""
    rows = await session.execute(
        _LOCK_CHECKPOINTS, {"name": name, "channel": channel, "t": tenants}
    )
    return {tenant: Position(block, index) for tenant, block, index in rows}


async def advance_checkpoints(
    session: AsyncSession, name: str, channel: str, last: Mapping[str, Position]
) -> None:
    if not last:
        return
    tenants = sorted(last)
    await session.execute(
        _ADVANCE_CHECKPOINTS,
        {
            "name": name,
            "channel": channel,
            "t": tenants,
            "b": [last[t].block_number for t in tenants],
            "i": [last[t].event_index for t in tenants],
        },
    )


_LOCK_CHECKPOINTS = text(
    'SELECT "tenantId", "lastBlock", "lastEventIndex" FROM "ProjectorState" '
    'WHERE "projectorName" = :name AND "channel" = :channel '
    'AND "tenantId" = ANY(CAST(:t AS text[])) ORDER BY "tenantId" FOR UPDATE'
)

_ADVANCE_CHECKPOINTS = text(
    'INSERT INTO "ProjectorState" ("tenantId", "projectorName", "channel", "lastBlock", '
    '"lastEventIndex", "updatedAt") '
    "SELECT t, :name, :channel, b, i, CURRENT_TIMESTAMP FROM unnest(CAST(:t AS text[]), "
    "CAST(:b AS bigint[]), CAST(:i AS integer[])) AS u(t, b, i) "
    'ON CONFLICT ("tenantId", "projectorName", "channel") DO UPDATE SET '
    '"lastBlock" = EXCLUDED."lastBlock", "lastEventIndex" = EXCLUDED."lastEventIndex", '
    '"updatedAt" = EXCLUDED."updatedAt"'
)
