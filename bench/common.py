"""What every benchmark needs: a migrated throwaway database, users with funded ledger accounts,
and pgbench's TPC-B as a baseline.

Benchmarks quote ratios against a baseline measured in the same run on the same server, since
the machines are noisy; pgbench is that baseline wherever one is needed.
"""

from __future__ import annotations

import gc
import os
import re
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

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
