"""`gx db backfill NAME`: filling a column between a migration's expand and contract steps.

A backfill is not a migration: a migration holds its locks for its whole transaction, and one
UPDATE over a large table holds a row lock on every row until it commits, stalling every writer
of those rows. A job here works in keyset order in batches, each batch its own short transaction
in the system scope, so writers wait at most for one batch. It is resumable by construction: a
batch only picks rows that still need filling (`WHERE col IS NULL`), so a stopped run started
again carries on where it stopped, and a finished one does nothing. Rows a writer holds locked
are skipped (`SKIP LOCKED`) and picked up by the next pass.

db/ knows no feature, so features register their jobs here (`gxcore.cli` does it for all).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from gxcore.db.tenancy import Database
from gxcore.errors import DatabaseBusy, UnknownBackfill

log = logging.getLogger(__name__)

#: A position in a job's keyset order (the last row a batch handled).
Key = tuple[str, ...]
LOCK_NOT_AVAILABLE = "55P03"


@dataclass(frozen=True)
class Backfill:
    name: str
    description: str
    #: How many rows still need filling.
    remaining: Callable[[AsyncSession], Awaitable[int]]
    #: Fill up to `size` rows after `after` (None: from the start), in keyset order, skipping
    #: rows locked by others; returns the last key handled (None if none) and how many.
    batch: Callable[[AsyncSession, Key | None, int], Awaitable[tuple[Key | None, int]]]


@dataclass(frozen=True)
class Outcome:
    batches: int
    filled: int
    remaining: int

    @property
    def finished(self) -> bool:
        return self.remaining == 0


_JOBS: dict[str, Backfill] = {}


def register(job: Backfill) -> None:
    _JOBS[job.name] = job


def jobs() -> list[Backfill]:
    return sorted(_JOBS.values(), key=lambda job: job.name)


def get(name: str) -> Backfill:
    try:
        return _JOBS[name]
    except KeyError:
        known = ", ".join(sorted(_JOBS)) or "none registered"
        raise UnknownBackfill(f"no backfill named {name!r} (known: {known})") from None


async def remaining(database: Database, job: Backfill) -> int:
    async with database.system(reason=f"backfill {job.name}: count") as session:
        return await job.remaining(session)


async def _one_batch(
    database: Database, job: Backfill, after: Key | None, size: int, *, lock_timeout_ms: int
) -> tuple[Key | None, int]:
    """One batch in its own transaction; a lock not granted in time is retried a few times."""
    for attempt in range(5):
        try:
            async with database.system(reason=f"backfill {job.name}") as session:
                await session.execute(text(f"SET LOCAL lock_timeout = {int(lock_timeout_ms)}"))
                return await job.batch(session, after, size)
        except DBAPIError as e:
            if getattr(e.orig, "sqlstate", None) != LOCK_NOT_AVAILABLE:
                raise
            log.info("backfill %s: lock not granted, retrying (%d)", job.name, attempt + 1)
            await asyncio.sleep(0.2 * (attempt + 1))
    raise DatabaseBusy(f"backfill {job.name}: the table stayed locked; run it again later")


async def run(
    database: Database,
    job: Backfill,
    *,
    batch_size: int = 1000,
    max_batches: int | None = None,
    on_batch: Callable[[int], None] | None = None,
    lock_timeout_ms: int = 2000,
) -> Outcome:
    """Fill in passes until no row is left or a pass fills nothing (rows held by others).

    `max_batches` stops early (for a maintenance window); running again resumes. `on_batch`
    hears how many rows each batch filled (the CLI's progress bar).
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    batches = filled = 0
    while True:
        after: Key | None = None
        in_pass = 0
        while max_batches is None or batches < max_batches:
            after, count = await _one_batch(
                database, job, after, batch_size, lock_timeout_ms=lock_timeout_ms
            )
            batches += 1
            filled += count
            in_pass += count
            if on_batch is not None:
                on_batch(count)
            log.info("backfill %s: batch %d filled %d rows", job.name, batches, count)
            if after is None or count < batch_size:
                break
        else:
            return Outcome(batches, filled, await remaining(database, job))
        left = await remaining(database, job)
        if left == 0 or in_pass == 0:
            return Outcome(batches, filled, left)
