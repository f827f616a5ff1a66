"""What every benchmark needs: a migrated throwaway database, users with funded ledger accounts,
and pgbench's TPC-B as a baseline.

Benchmarks quote ratios against a baseline measured in the same run on the same server, since
the machines are noisy; pgbench is that baseline wherever one is needed.
"""

from __future__ import annotations

import asyncio
import gc
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from gxcore.admin.models import SystemParameter
from gxcore.cli_common import freeze_startup
from gxcore.db import migrate, server
from gxcore.db.embedded import EmbeddedServer
from gxcore.db.tenancy import Database
from gxcore.enums import CommandType, UserProfileStatus
from gxcore.identity.models import UserProfile
from gxcore.ledger import Command, EmbeddedLedger

#: The bench's database role key, in the environment too: the `gx` processes a bench starts
#: derive the same role passwords (gxcore.db.roles).
ROLE_KEY = os.environ.setdefault(
    "GX_DB_ROLE_SECRET", "bench-only-db-role-secret-0123456789abcdef"
).encode()


@asynccontextmanager
async def migrated_database() -> AsyncIterator[str]:
    """Owner URL of a fresh database at head, dropped afterwards.

    On DATABASE_URL when set (its user needs CREATEDB), else on a throwaway embedded server
    configured as a real one (fsync and synchronous commit on, unlike the test servers): what
    a batch saves in commits only shows where commits cost what they cost in production.
    """
    embedded = None
    base = os.environ.get("DATABASE_URL")
    if not base:
        data_dir = tempfile.mkdtemp(prefix="gx-bench-")
        embedded = EmbeddedServer(data_dir, ephemeral=False)
        embedded.start()
        base = embedded.url
    name = f"gx_bench_{uuid.uuid4().hex[:8]}"
    admin = server.with_database(base, "postgres")
    await server.create_database(admin, name)
    try:
        url = server.with_database(base, name)
        await migrate.upgrade(url, role_key=ROLE_KEY)
        yield url
    finally:
        await server.drop_database(admin, name)
        if embedded:
            embedded.stop()
            shutil.rmtree(data_dir, ignore_errors=True)


async def lift_limits(session: AsyncSession, tenant: str, keys: tuple[str, ...]) -> None:
    """Switch `tenant`'s rate limits `keys` off (0): a bench sends many calls from one address
    and account, which is load, not abuse."""
    await session.execute(
        update(SystemParameter)
        .where(SystemParameter.tenant_id == tenant, SystemParameter.param_key.in_(keys))
        .values(param_value="0")
    )


def pgbench_binary() -> str | None:
    binary = shutil.which("pgbench")
    if binary is None:
        import pgserver  # the embedded server's wheel ships pgbench too

        candidate = Path(pgserver.__file__).parent / "pginstall" / "bin" / "pgbench"
        binary = str(candidate) if candidate.exists() else None
    return binary


def pgbench_tps(
    url: str, seconds: int = 10, *, clients: int = 8, threads: int = 2, scale: int = 8
) -> float | None:
    """TPC-B transactions per second on `url`'s server (its tables in `url`'s database), or
    None when no pgbench is found. Scale 8 gives each of the 8 clients a branch of its own, so
    the baseline is not throttled by contention on one row."""
    binary = pgbench_binary()
    if binary is None:
        return None
    subprocess.run([binary, "-i", "-q", "-s", str(scale), url], check=True, capture_output=True)
    out = subprocess.run(
        [binary, "-c", str(clients), "-j", str(threads), "-T", str(seconds), url],
        check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    found = re.search(r"tps = ([\d.]+)", out)
    return float(found.group(1)) if found else None


def print_ratio(url: str, what: str, rate: float) -> None:
    """Run the pgbench baseline on `url`'s server and print `rate` of `what` against it."""
    tps = pgbench_tps(url)
    if tps is None:
        print("pgbench not found: no baseline", file=sys.stderr)
        return
    print(f"pgbench TPC-B (8 clients, 2 threads) on the same server: {tps:,.0f} tps; "
          f"{what} = {rate / tps:.1f}x pgbench tps")  # fmt: skip


class GxProcess:
    """A `gx ...` subprocess on `url`'s database, its output in a temporary log; with `profile`,
    run by `bench/profiles.py`, whose sampler `profile_start` and `profile_stop` drive."""

    def __init__(
        self, url: str, *args: str, profile: Path | None = None, env: dict[str, str] | None = None
    ) -> None:
        self.log = Path(tempfile.mkstemp(prefix="gx-bench-", suffix=".log")[1])
        self.profile = profile
        base = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "GX_DATABASE_URL")}
        program = [str(Path(__file__).with_name("profiles.py")), str(profile)] if profile else []
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, *(program or ["-m", "gxcore"]), *args], stdout=out,
                stderr=subprocess.STDOUT, env={**base, **(env or {}), "DATABASE_URL": url},
            )  # fmt: skip

    @property
    def pid(self) -> int:
        return self.proc.pid

    async def wait_for(self, text: str, timeout: float = 60) -> None:
        """Until `text` appears in the log (the process says it is ready)."""
        deadline = time.monotonic() + timeout
        while text not in self.log.read_text(errors="replace"):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"gx did not start:\n{self.log.read_text()}")
            await asyncio.sleep(0.05)

    def profile_start(self) -> None:
        if self.profile:
            self.proc.send_signal(signal.SIGUSR1)

    async def profile_stop(self) -> None:
        """Stop sampling; returns once the profile is written."""
        if self.profile:
            self.proc.send_signal(signal.SIGUSR2)
            while not self.profile.exists():
                if self.proc.poll() is not None:
                    raise RuntimeError(f"gx exited while profiled:\n{self.log.read_text()}")
                await asyncio.sleep(0.05)

    def stop(self, sig: signal.Signals = signal.SIGTERM) -> None:
        """Stop it as an operator does; a non-zero exit is an error, with the log. (Stop `gx api`
        with SIGINT, Ctrl-C: on SIGTERM uvicorn re-raises the signal once it has shut down.)"""
        self.proc.send_signal(sig)
        self.proc.wait(60)
        if self.proc.returncode:
            raise RuntimeError(f"gx exited {self.proc.returncode}:\n{self.log.read_text()}")
        self.log.unlink()


async def postmaster_pid(url: str) -> int | None:
    """The server's postmaster, parent of every backend, when it runs on this machine."""
    async with server.connect(url) as conn:  # read while the backend lives
        proc = Path(f"/proc/{await conn.fetchval('SELECT pg_backend_pid()')}")
        try:
            if not proc.joinpath("comm").read_text().startswith("postgres"):
                return None  # a remote server's backend: this pid is another process here
            return int(proc.joinpath("stat").read_text().rsplit(")", 1)[1].split()[1])
        except OSError:
            return None


def freeze_setup() -> None:
    """Collect the set-up's garbage and freeze what is left, as `gx relay` and `gx projector run`
    freeze their start-up state: measured in-process, a stage otherwise pays for the cyclic
    collector rescanning every object the benchmark's set-up left behind."""
    gc.collect()
    freeze_startup()


async def approved_profiles(db: Database, tenant: str, users: int) -> None:
    """Profiles `{tenant}-p0` ... approved and waiting for their ledger accounts."""
    async with db.system(reason="bench: profiles") as session:
        await session.execute(
            UserProfile.__table__.insert(),
            [
                {"profile_id": f"{tenant}-p{u}", "tenant_id": tenant, "first_name": "A",
                 "last_name": "B", "biometric_hash": f"b{u}", "password_hash": "x",
                 "status": UserProfileStatus.APPROVED_PENDING_ONCHAIN}
                for u in range(users)
            ],
        )  # fmt: skip


async def open_accounts(
    ledger: EmbeddedLedger, tenant: str, users: int, *, profiles: bool = True
) -> None:
    """Bootstrap `tenant` on the ledger and open accounts `u0` ... with their genesis; with
    `profiles`, each account names the profile `approved_profiles` made for it."""
    await ledger.submit([Command(tenant, "boot", CommandType.BOOTSTRAP_SYSTEM, {})])
    for start in range(0, users, 500):
        batch = []
        for u in range(start, min(users, start + 500)):
            account = {"userId": f"u{u}", "biometricHash": f"b{u}", "nationality": "NG", "age": 30}
            if profiles:
                account["profileId"] = f"{tenant}-p{u}"
            batch.append(Command(tenant, f"c{u}", CommandType.CREATE_USER, account))
            batch.append(Command(tenant, f"g{u}", CommandType.DISTRIBUTE_GENESIS,
                                 {"userId": f"u{u}"}))  # fmt: skip
        assert all(o.committed for o in await ledger.submit(batch))
