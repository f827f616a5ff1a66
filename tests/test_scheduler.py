"""`gx scheduler`: the periodic jobs on their intervals, a failing job contained, and a stop
that lets the job in hand finish."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from gxcore.app import create_app
from gxcore.config import Settings
from gxcore.db.tenancy import Database
from gxcore.identity.models import PendingRegistration
from gxcore.scheduler import JOBS, Job, Scheduler
from tests.conftest import ROLE_KEY
from tests.factories import register_tenant
from tests.test_registration import OTP_SECRET, Clock, _client, new_email, post

GX = [sys.executable, "-m", "gxcore"]


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path, otp_secret=OTP_SECRET, environment="test")


def test_each_periodic_job_is_listed_once() -> None:
    names = [job.name for job in JOBS]
    assert "cleanup" in names
    assert len(names) == len(set(names))


async def test_jobs_repeat_on_their_interval_and_a_failing_one_stops_nothing(db: Database) -> None:
    ran: list[str] = []

    async def ok(database: Database, now: datetime) -> str:
        ran.append("ok")
        return "fine"

    async def broken(database: Database, now: datetime) -> str:
        ran.append("broken")
        raise RuntimeError("boom")

    jobs = [Job("ok", timedelta(seconds=0.05), ok), Job("broken", timedelta(seconds=0.05), broken)]
    scheduler = Scheduler(db, jobs)
    task = asyncio.create_task(scheduler.run())
    await asyncio.sleep(0.4)
    scheduler.stop()
    await asyncio.wait_for(task, 5)
    assert ran.count("ok") >= 3 and ran.count("broken") >= 3
    assert (
        scheduler.failures["broken"] == scheduler.runs["broken"] and scheduler.failures["ok"] == 0
    )


async def test_a_stop_lets_the_job_in_hand_finish_and_starts_no_other(db: Database) -> None:
    started, finished = asyncio.Event(), asyncio.Event()
    ran: list[str] = []

    async def slow(database: Database, now: datetime) -> str:
        started.set()
        await asyncio.sleep(0.3)
        finished.set()
        return "done"

    async def second(database: Database, now: datetime) -> str:
        ran.append("second")
        return "done"

    hour = timedelta(hours=1)
    scheduler = Scheduler(db, [Job("slow", hour, slow), Job("second", hour, second)])
    task = asyncio.create_task(scheduler.run())
    await asyncio.wait_for(started.wait(), 5)
    scheduler.stop()
    await asyncio.wait_for(task, 5)
    assert finished.is_set() and ran == []


async def test_gx_scheduler_cleans_up_at_start_and_stops_cleanly_on_sigterm(
    scratch_url: str, settings: Settings
) -> None:
    database = Database.connect(scratch_url, role_key=ROLE_KEY)
    try:
        ids = {}
        for name, at in (("old", datetime.now(UTC) - timedelta(days=2)), ("new", None)):
            app = create_app(database=database, settings=settings, clock=Clock(at))
            async with _client(app, await register_tenant(database, f"t-{name}")) as c:
                ids[name] = (await post(c, "email", email=new_email())).json()["registrationId"]
        out = await asyncio.to_thread(_scheduler_until_cleaned_then_sigterm, scratch_url)
        assert "scheduler stopped" in out
        async with database.system(reason="test check") as session:
            left = (await session.scalars(select(PendingRegistration.id))).all()
        assert left == [ids["new"]]
    finally:
        await database.dispose()


def _scheduler_until_cleaned_then_sigterm(url: str) -> str:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "GX_DATABASE_URL")}
    proc = subprocess.Popen(
        [*GX, "scheduler"],
        env={**env, "DATABASE_URL": url},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert proc.stdout is not None
    deadline = time.monotonic() + 60
    for line in proc.stdout:
        if "job cleanup: deleted 1 expired registration(s)" in line:
            break
        assert time.monotonic() < deadline and proc.poll() is None, line
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, out
    return out


def test_gx_scheduler_once_runs_every_job_once_and_exits(scratch_url: str) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "GX_DATABASE_URL")}
    done = subprocess.run(
        [*GX, "scheduler", "--once"],
        env={**env, "DATABASE_URL": scratch_url},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    for job in JOBS:
        assert f"job {job.name}: " in done.stderr + done.stdout
