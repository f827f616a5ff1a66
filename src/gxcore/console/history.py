"""The last hour of outbox depth and projector lag, per minute, read from timestamps the tables
already keep (no sampling table, no sampler process).

- Outbox depth at minute t: the tenant's commands created by t and not COMMITTED by t, the same
  definition as `/metrics` (every status but COMMITTED). A COMMITTED command's `updatedAt` is
  when it committed: nothing writes it afterwards. A FAILED command counts until it is retried
  or forever, as on `/metrics`.
- Projector lag in minute t: the longest wait, in seconds, from the ledger's commit of an event
  (`EventLog.txTimestamp`) to its projection (`EventLog.ingestedAt`) among the events projected
  in that minute. A minute in which nothing was projected has no point: the projector either
  had nothing to do or was down, and the page's current lag (from the ledger) tells which.
  Lag in blocks cannot be recovered after the fact, so it is shown for now only.

Both run in the tenant's scope: row-level security keeps them to the signed-in tenant.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

WINDOW = timedelta(hours=1)
#: Events read for the lag chart: the newest this many (by ledger position, an index scan).
LAG_SAMPLE = 10_000


@dataclass(frozen=True)
class Point:
    at: datetime
    value: float


_DEPTH = text(
    """
    WITH relevant AS (  -- commands that can count in the window
        SELECT "createdAt", status, "updatedAt" FROM "OutboxCommand"
        WHERE status <> 'COMMITTED' OR "updatedAt" > CAST(:start AS timestamptz)
    )
    SELECT m.t, count(r."createdAt")
    FROM generate_series(CAST(:start AS timestamptz), CAST(:end AS timestamptz), interval '1 minute') AS m(t)
    LEFT JOIN relevant r
      ON r."createdAt" <= m.t AND NOT (r.status = 'COMMITTED' AND r."updatedAt" <= m.t)
    GROUP BY m.t ORDER BY m.t
    """
)

_LAG = text(
    """
    WITH recent AS (
        SELECT "txTimestamp", "ingestedAt" FROM "EventLog"
        ORDER BY "blockNumber" DESC, "eventIndex" DESC LIMIT :sample
    )
    SELECT date_trunc('minute', "ingestedAt") AS m,
           max(extract(epoch FROM "ingestedAt" - "txTimestamp"))
    FROM recent WHERE "ingestedAt" > CAST(:start AS timestamptz)
    GROUP BY m ORDER BY m
    """
)


async def outbox_depth(session: AsyncSession, now: datetime) -> list[Point]:
    """61 points, a minute apart, the last at `now`."""
    rows = await session.execute(_DEPTH, {"start": now - WINDOW, "end": now})
    return [Point(t, float(n)) for t, n in rows.all()]


async def projector_lag(session: AsyncSession, now: datetime) -> list[Point]:
    start = (now - WINDOW).replace(second=0, microsecond=0)
    rows = await session.execute(_LAG, {"start": start, "sample": LAG_SAMPLE})
    return [Point(t, max(0.0, float(s))) for t, s in rows.all()]
