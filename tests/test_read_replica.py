"""Reads on a streaming replica (`GX_READ_REPLICA_URL`), with read-your-writes.

The replica is real: `pg_basebackup -R` of the test server, started beside it. Replay is
paused (`pg_wal_replay_pause()`) to make lag deterministic: a write then stays on the primary
until replay resumes. The unit of work decides where a read goes (X-GX-Read-From says where):
a caller whose last write (X-GX-LSN, cookie `gx_lsn`) the replica has not replayed reads from
the primary; another caller reads from the replica; a replica lagging past the bound is skipped.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from gxcore.admin import service as admin_service
from gxcore.app import create_app
from gxcore.config import Settings
from gxcore.db.embedded import EPHEMERAL_OPTS, _ensure_system_user, bin_path
from gxcore.db.engine import async_url, create_engine, libpq_url
from gxcore.db.tenancy import Database
from gxcore.enums import UserProfileStatus
from gxcore.http import LSN_COOKIE, LSN_HEADER, READ_FROM_HEADER
from tests.conftest import ROLE_KEY
from tests.factories import register_tenant
from tests.pgbouncer import _free_port
from tests.test_auth import JWT_SECRET, OTP_SECRET, bearer, make_user, signed_in
from tests.test_registration import Clock, _client

READ_FROM = READ_FROM_HEADER.lower()
_LSN = "SELECT {} - '0/0'::pg_lsn"


class Replica:
    """A hot standby of the test server, streaming from it, in a private directory."""

    def __init__(self, server_url: str) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="gxreplica-"))
        self.pgdata = self.dir / "pgdata"
        self.port = _free_port()
        self.url = f"postgresql://127.0.0.1:{self.port}"
        server = async_url(server_url)
        self.superuser_url = libpq_url(server.set(port=self.port))
        self._user: dict[str, Any] = {}
        if os.geteuid() == 0:
            pw = _ensure_system_user()
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
            self._user = {"user": pw.pw_uid, "group": pw.pw_gid, "extra_groups": []}
        self._env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        # The primary's settings that a standby may not undercut (max_connections) come along.
        options = " ".join(f"-c {o}" for o in EPHEMERAL_OPTS)
        try:
            self._run("pg_basebackup", "-d", libpq_url(server), "-D", self.pgdata, "-R",
                      "-X", "stream", "-c", "fast")  # fmt: skip
            self._run("pg_ctl", "start", "-w", "-t", "60", "-D", self.pgdata, "-l",
                      self.dir / "replica.log", "-o",
                      f"-p {self.port} -h 127.0.0.1 -k {self.dir} -c hot_standby=on {options}")  # fmt: skip
        except (RuntimeError, OSError, subprocess.SubprocessError):
            log = (
                (self.dir / "replica.log").read_text(errors="replace")[-2000:]
                if (self.dir / "replica.log").exists()
                else ""
            )
            shutil.rmtree(self.dir, ignore_errors=True)
            raise RuntimeError(f"the replica did not start:\n{log}") from None

    def _run(self, name: str, *args: object) -> None:
        done = subprocess.run(
            [str(bin_path(name)), *map(str, args)], check=False, capture_output=True,
            text=True, cwd=self.dir, env=self._env, timeout=120, **self._user,
        )  # fmt: skip
        if done.returncode != 0:
            raise RuntimeError(f"{name} failed: {done.stderr[-2000:]}")

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "stop", "-w", "-D", self.pgdata, "-m", "immediate")
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)

    async def sql(self, query: str) -> Any:
        conn = await asyncpg.connect(self.superuser_url)
        try:
            return await conn.fetchval(query)
        finally:
            await conn.close()


@pytest.fixture(scope="module")
def replica(server_url: str) -> Iterator[Replica]:
    if os.environ.get("DATABASE_URL"):
        pytest.skip("the replica is a base backup of the embedded test server; DATABASE_URL is set")
    r = Replica(server_url)
    try:
        yield r
    finally:
        r.stop()


async def _pause(replica: Replica, primary_url: str) -> None:
    """Pause replay, and wait until it has paused: a pause is only requested until the startup
    process reaches its next record, so one is written (a WAL message) to get it there."""
    await replica.sql("SELECT pg_wal_replay_pause()")
    conn = await asyncpg.connect(libpq_url(primary_url))
    try:
        await conn.execute("SELECT pg_logical_emit_message(false, 'gx', 'pause')")
    finally:
        await conn.close()
    deadline = time.monotonic() + 30
    while await replica.sql("SELECT pg_get_wal_replay_pause_state()") != "paused":
        assert time.monotonic() < deadline, "replay does not pause"
        await asyncio.sleep(0.05)


async def _caught_up(replica: Replica, primary_url: str) -> None:
    """Wait until the replica has replayed everything inserted on the primary so far. The
    primary runs with `synchronous_commit = off`, so what was inserted may not be written out
    yet: a commit with it on, after the target is read, flushes the WAL past the target."""
    conn = await asyncpg.connect(libpq_url(primary_url))
    try:
        target = await conn.fetchval(_LSN.format("pg_current_wal_insert_lsn()"))
        async with conn.transaction():
            await conn.execute("SET LOCAL synchronous_commit = on")
            await conn.execute("SELECT pg_logical_emit_message(true, 'gx', 'caught up')")
    finally:
        await conn.close()
    deadline = time.monotonic() + 30
    while await replica.sql(_LSN.format("pg_last_wal_replay_lsn()")) < target:
        assert time.monotonic() < deadline, "the replica does not catch up"
        await asyncio.sleep(0.05)


async def _with_countries(url: str) -> str:
    owner = create_engine(url)  # countries are the owner's, as in `gx db seed`
    async with AsyncSession(owner) as session, session.begin():
        await admin_service.seed_countries(session)
    await owner.dispose()
    return url


def _app(db: Database, tmp_path: Path) -> Any:
    settings = Settings(
        data_dir=tmp_path, otp_secret=OTP_SECRET, jwt_secret=JWT_SECRET, environment="test"
    )
    return create_app(database=db, settings=settings, clock=Clock())


@pytest.fixture
async def setup(
    replica: Replica, scratch_url: str, tmp_path: Path
) -> AsyncIterator[dict[str, Any]]:
    await _with_countries(scratch_url)
    db = Database.connect(
        scratch_url, role_key=ROLE_KEY, replica_url=replica.url, replica_max_lag=60
    )
    tenant = await register_tenant(db, f"t-{uuid.uuid4().hex[:12]}")
    app = _app(db, tmp_path)
    alice = await make_user(db, tenant, status=UserProfileStatus.ACTIVE)
    bob = await make_user(db, tenant, status=UserProfileStatus.ACTIVE)
    async with _client(app, tenant) as a, _client(app, tenant) as b, _client(app, tenant) as c:
        tokens = {"alice": bearer(await signed_in(a, alice.email)),
                  "bob": bearer(await signed_in(b, bob.email))}  # fmt: skip
        yield {"db": db, "tenant": tenant, "alice": alice, "bob": bob, "tokens": tokens,
               "a": a, "b": b, "fresh": c, "app": app}  # fmt: skip
    await db.dispose()


async def _profile(client: httpx.AsyncClient, user: Any, token: dict[str, str]) -> httpx.Response:
    got = await client.get(f"/users/{user.profile_id}", headers=token)
    assert got.status_code == 200, got.text
    return got


async def test_a_caller_reads_its_own_write_while_others_read_the_replica(
    setup: dict[str, Any], scratch_url: str, replica: Replica
) -> None:
    a, b, fresh, alice, bob, tokens = (
        setup[k] for k in ("a", "b", "fresh", "alice", "bob", "tokens")
    )
    await _caught_up(replica, scratch_url)
    # Caught up: everyone, the sign-in's writer included, reads from the replica.
    assert (await _profile(a, alice, tokens["alice"])).headers[READ_FROM] == "replica"
    await _pause(replica, scratch_url)
    try:
        changed = await a.patch(
            f"/users/{alice.profile_id}", json={"jobTitle": "Auditor"}, headers=tokens["alice"]
        )
        assert changed.status_code == 200, changed.text
        assert int(changed.headers[LSN_HEADER]) > 0 and a.cookies.get(LSN_COOKIE)

        own = await _profile(a, alice, tokens["alice"])
        assert own.headers[READ_FROM] == "primary", "the replica would miss the caller's write"
        assert own.json()["jobTitle"] == "Auditor"
        # Without the caller's position (another device, no cookie): the replica, still stale.
        stale = await _profile(fresh, alice, tokens["alice"])
        assert stale.headers[READ_FROM] == "replica"
        assert stale.json()["jobTitle"] is None
        other = await _profile(b, bob, tokens["bob"])
        assert other.headers[READ_FROM] == "replica"
        # The position travels as a header too, for clients without a cookie jar.
        told = await fresh.get(
            f"/users/{alice.profile_id}",
            headers={**tokens["alice"], LSN_HEADER: changed.headers[LSN_HEADER]},
        )
        assert (told.headers[READ_FROM], told.json()["jobTitle"]) == ("primary", "Auditor")
    finally:
        await replica.sql("SELECT pg_wal_replay_resume()")
    await _caught_up(replica, scratch_url)
    replayed = await _profile(a, alice, tokens["alice"])
    assert (replayed.headers[READ_FROM], replayed.json()["jobTitle"]) == ("replica", "Auditor")


async def test_a_replica_lagging_past_the_bound_is_skipped(
    setup: dict[str, Any], scratch_url: str, replica: Replica, tmp_path: Path
) -> None:
    db = Database.connect(
        scratch_url, role_key=ROLE_KEY, replica_url=replica.url, replica_max_lag=0.5
    )
    bob, tokens, alice = setup["bob"], setup["tokens"], setup["alice"]
    try:
        async with _client(_app(db, tmp_path), setup["tenant"]) as client:
            await _caught_up(replica, scratch_url)
            assert (await _profile(client, bob, tokens["bob"])).headers[READ_FROM] == "replica"
            await _pause(replica, scratch_url)
            try:
                written = await setup["a"].patch(
                    f"/users/{alice.profile_id}", json={"jobTitle": "Clerk"},
                    headers=tokens["alice"],
                )  # fmt: skip
                assert written.status_code == 200, written.text
                await asyncio.sleep(1.0)  # the replica now trails by more than 0.5 s
                lagging = await _profile(client, bob, tokens["bob"])
                assert lagging.headers[READ_FROM] == "primary"
            finally:
                await replica.sql("SELECT pg_wal_replay_resume()")
            await _caught_up(replica, scratch_url)
            assert (await _profile(client, bob, tokens["bob"])).headers[READ_FROM] == "replica"
    finally:
        await db.dispose()


async def test_an_unreachable_replica_leaves_reads_on_the_primary(
    scratch_url: str, tmp_path: Path
) -> None:
    await _with_countries(scratch_url)
    db = Database.connect(
        scratch_url, role_key=ROLE_KEY, replica_url=f"postgresql://127.0.0.1:{_free_port()}"
    )
    try:
        tenant = await register_tenant(db, f"t-{uuid.uuid4().hex[:12]}")
        user = await make_user(db, tenant, status=UserProfileStatus.ACTIVE)
        async with _client(_app(db, tmp_path), tenant) as client:
            token = bearer(await signed_in(client, user.email))
            got = await _profile(client, user, token)
            assert got.headers[READ_FROM] == "primary"
    finally:
        await db.dispose()
