"""`gx scheduler`: the periodic jobs, each on its own interval, across every tenant.

`JOBS` is the one list of them: a job is a name, an interval and an async function of the
database and the current time that answers a one-line summary. Each periodic duty has exactly
one owner: what is listed here runs here and nowhere else, and what runs elsewhere (message
delivery: the worker in `gx api` or `gx messages run`; audit linking: `gx api`) is not listed.

Every job runs once at start, then every `every`. A job that fails is logged and tried again at
its next turn; it never stops the others. SIGTERM/SIGINT let the job in hand finish, then stop.
Run one scheduler per database (`gx up` runs it): the jobs are idempotent, so a second one is
wasted work, never wrong.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Protocol

import typer
from sqlalchemy.ext.asyncio import AsyncSession

from gxcore.cli_common import DataDir, console, on_stop_signals, run, settings
from gxcore.cqrs import idempotency
from gxcore.db import migrate
from gxcore.db.cli import open_database
from gxcore.db.roles import role_key
from gxcore.db.tenancy import Database
from gxcore.errors import PendingMigrations
from gxcore.identity import registration
from gxcore.notifications import inbox

log = logging.getLogger(__name__)


class DeleteExpired(Protocol):
    async def __call__(self, *, session: AsyncSession, now: datetime, limit: int) -> int: ...


#: What `cleanup` deletes, by the name its counts are reported under.
CLEANUPS: dict[str, DeleteExpired] = {
    "expired registration(s)": registration.delete_expired,
    "expired idempotency key(s)": idempotency.delete_expired,
    "expired notification(s)": inbox.delete_expired,
}


async def cleanup(database: Database, now: datetime, *, batch: int = 1000) -> dict[str, int]:
    """Delete what expired before `now` in every tenant; the count deleted of each kind."""
    deleted = dict.fromkeys(CLEANUPS, 0)
    for what, delete_expired in CLEANUPS.items():
        while True:  # one short transaction per batch: no long lock or rollback
            async with database.system(reason=f"job: {what}") as session:
                done = await delete_expired(session=session, now=now, limit=batch)
            deleted[what] += done
            if done < batch:
                break
    return deleted


async def _cleanup_job(database: Database, now: datetime) -> str:
    deleted = await cleanup(database, now)
    return "deleted " + ", ".join(f"{count} {what}" for what, count in deleted.items())


@dataclass(frozen=True)
class Job:
    name: str
    every: timedelta
    run: Callable[[Database, datetime], Awaitable[str]]


#: Every periodic job, one line each.
JOBS: tuple[Job, ...] = (Job("cleanup", timedelta(minutes=5), _cleanup_job),)


class Scheduler:
    """Runs `jobs` on their intervals until `stop()`; the job in hand is never interrupted."""

    def __init__(self, database: Database, jobs: Sequence[Job] = JOBS) -> None:
        self.database = database
        self.jobs = tuple(jobs)
        self.runs: dict[str, int] = dict.fromkeys((job.name for job in self.jobs), 0)
        self.failures: dict[str, int] = dict.fromkeys(self.runs, 0)
        self._stop = asyncio.Event()

    def stop(self) -> None:
        self._stop.set()

    async def run(self) -> None:
        due = dict.fromkeys((job.name for job in self.jobs), time.monotonic())
        while self.jobs and not self._stop.is_set():
            job = min(self.jobs, key=lambda j: due[j.name])
            wait = due[job.name] - time.monotonic()
            if wait > 0:
                with suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), wait)
                continue
            await self.run_job(job)
            due[job.name] = time.monotonic() + job.every.total_seconds()

    async def run_once(self) -> None:
        """Every job once, in order (`gx scheduler --once`, or a cron entry)."""
        for job in self.jobs:
            if self._stop.is_set():
                return
            await self.run_job(job)

    async def run_job(self, job: Job) -> None:
        started = time.perf_counter()
        try:
            # Shielded: a cancelled scheduler still lets the job's transaction end on its own.
            summary = await asyncio.shield(job.run(self.database, datetime.now(UTC)))
        except Exception:
            self.failures[job.name] += 1
            log.exception("job %s failed; next try in %s", job.name, job.every)
            return
        finally:
            self.runs[job.name] += 1
        log.info("job %s: %s (%.2fs)", job.name, summary, time.perf_counter() - started)


def scheduler_command(
    once: Annotated[bool, typer.Option("--once", help="Run every job once, then exit.")] = False,
    data_dir: DataDir = None,
) -> None:
    """Run the periodic jobs (today: cleanup) on their intervals until SIGTERM/SIGINT, which
    let the job in hand finish."""
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(message)s")
    log.setLevel(logging.INFO)

    async def go() -> dict[str, int]:
        cfg = settings(data_dir)
        stopping = asyncio.Event()
        on_stop_signals(stopping.set)  # a stop asked for while connecting is honoured
        async with open_database(cfg, create=False) as url:
            if not (await migrate.status(url)).up_to_date:
                raise PendingMigrations("the database is not at head; run `gx db migrate`")
            database = Database.connect(url, role_key=role_key(cfg))
            try:
                scheduler = Scheduler(database)
                on_stop_signals(scheduler.stop)
                if stopping.is_set():
                    scheduler.stop()
                await (scheduler.run_once() if once else scheduler.run())
                return scheduler.failures
            finally:
                await database.dispose()

    failures = run(go())
    failed = [name for name, count in failures.items() if count]
    if once and failed:
        raise typer.Exit(1)
    console.print("scheduler stopped")
