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

from gxcore import tracing
from gxcore.business import approvals
from gxcore.cli_common import DataDir, console, on_stop_signals, run, settings
from gxcore.cqrs import idempotency
from gxcore.db import migrate
from gxcore.db.cli import open_database
from gxcore.db.tenancy import Database
from gxcore.errors import PendingMigrations
from gxcore.identity import registration
from gxcore.kyc import jobs as kyc_jobs
from gxcore.notifications import inbox
from gxcore.tax import service as tax

log = logging.getLogger(__name__)


class DeleteExpired(Protocol):
    async def __call__(self, *, session: AsyncSession, now: datetime, limit: int) -> int: ...


#: What `cleanup` deletes, by the name its counts are reported under.
CLEANUPS: dict[str, DeleteExpired] = {
    "expired registration(s)": registration.delete_expired,
    "expired idempotency key(s)": idempotency.delete_expired,
    "expired notification(s)": inbox.delete_expired,
}


#: How `cleanup` counts the business transfers it closes.
CLOSED_APPROVALS = "business approval(s) (expired, or refused by the ledger)"


async def cleanup(
    database: Database,
    now: datetime,
    *,
    batch: int = 1000,
    on_batch: Callable[[str, int], None] | None = None,
) -> dict[str, int]:
    """Delete what expired before `now` in every tenant, and close business transfers past
    their approval time (their holds released); how many of each kind. `on_batch` hears each
    batch's kind and count."""
    counts = dict.fromkeys(CLEANUPS, 0)
    for what, delete_expired in CLEANUPS.items():
        while True:  # one short transaction per batch: no long lock or rollback
            async with database.system(reason=f"job: {what}") as session:
                done = await delete_expired(session=session, now=now, limit=batch)
            counts[what] += done
            if on_batch is not None:
                on_batch(what, done)
            if done < batch:
                break
    counts[CLOSED_APPROVALS] = 0
    while True:  # each approval in its own tenant transaction
        done = await approvals.expire_due(database, now=now, limit=batch)
        counts[CLOSED_APPROVALS] += done
        if on_batch is not None:
            on_batch(CLOSED_APPROVALS, done)
        if done < batch:
            break
    return counts


def described(counts: dict[str, int]) -> list[str]:
    """`cleanup`'s counts in words: "deleted 2 expired registration(s)", ..."""
    return [
        f"{'closed' if what == CLOSED_APPROVALS else 'deleted'} {count} {what}"
        for what, count in counts.items()
    ]


async def _cleanup_job(database: Database, now: datetime) -> str:
    return ", ".join(described(await cleanup(database, now)))


async def _velocity_tax_job(database: Database, now: datetime) -> str:
    # Idempotent per wallet and date: the runs after the first of a day write nothing.
    reports = await tax.run_job(database, on=now.date(), today=now.date())
    return f"velocity tax of {now.date()} run for {len(reports)} tenant(s)"


async def _kyc_expiry_job(database: Database, now: datetime) -> str:
    return f"{await kyc_jobs.expire_due(database, now=now, batch=500)} KYC verification(s) expired"


@dataclass(frozen=True)
class Job:
    name: str
    every: timedelta
    run: Callable[[Database, datetime], Awaitable[str]]


#: Every periodic job, one line each.
JOBS: tuple[Job, ...] = (
    Job("cleanup", timedelta(minutes=5), _cleanup_job),
    Job("velocity tax", timedelta(hours=1), _velocity_tax_job),
    Job("kyc expiry", timedelta(hours=1), _kyc_expiry_job),
)


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
            work = job.run(self.database, datetime.now(UTC))
            if tracing.enabled():  # the commands a job enqueues join the job's trace
                with tracing.tracer().start_as_current_span(f"job {job.name}"):
                    summary = await asyncio.shield(work)
            else:
                summary = await asyncio.shield(work)
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
        if cfg.tracing_enabled:
            tracing.configure("gxcore-scheduler")
        stopping = asyncio.Event()
        on_stop_signals(stopping.set)  # a stop asked for while connecting is honoured
        async with open_database(cfg, create=False) as url:
            if not (await migrate.status(url)).up_to_date:
                raise PendingMigrations("the database is not at head; run `gx db migrate`")
            database = Database.for_settings(url, cfg)
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
