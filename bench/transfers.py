"""Transfer requests over HTTP, through `gx api` as users run it, against pgbench on the server.

    .venv/bin/python bench/transfers.py [--users 1000] [--clients 8] [--seconds 20]

Sets up one tenant with `--users` funded wallets (ledger accounts with their genesis, projected),
signs in 8 senders per client, starts `gx api` in its own process, and has `--clients` clients
post transfers (random receivers, amounts above the fee threshold) for `--seconds`. Prints the
requests accepted per second with p50/p99 latency, as a ratio to pgbench TPC-B (`-c 8 -j 2`) on
the same server, then checks the invariants: every accepted request holds its amount and fee,
no available balance is negative, and the ledger has not moved a coin (nothing was relayed).
Uses DATABASE_URL when set (owner with CREATEDB), else a throwaway embedded server.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

import httpx
from argon2 import PasswordHasher
from common import ROLE_KEY, migrated_database, open_accounts, pgbench_tps  # bench/common.py
from registration import free_port, wait_until_up  # bench/registration.py
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from gxcore.admin import service as admin
from gxcore.admin.models import Tenant
from gxcore.cqrs.projector import Projector
from gxcore.db.engine import create_engine
from gxcore.db.tenancy import Database
from gxcore.enums import UserProfileStatus
from gxcore.identity.models import UserProfile
from gxcore.ledger import EmbeddedLedger
from gxcore.wallet.models import TransferHold, Wallet

TENANT = "bench"
PASSWORD = "bench-password-0123456789"
SENDERS_PER_CLIENT = 8


async def setup(url: str, users: int) -> None:
    db = Database.connect(url, role_key=ROLE_KEY)
    fast = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash(PASSWORD)
    owner = create_engine(url)  # countries are the owner's, as in `gx db seed`
    async with AsyncSession(owner) as session, session.begin():
        await admin.seed_countries(session)
    await owner.dispose()
    async with db.system(reason="bench setup") as session:
        session.add(Tenant(id=TENANT, name=TENANT))
        await session.flush()
        await admin.seed_parameters(session, TENANT)
        await session.execute(
            UserProfile.__table__.insert(),
            [
                {"profile_id": f"{TENANT}-p{u}", "tenant_id": TENANT, "first_name": "A",
                 "last_name": "B", "email": f"u{u}@bench.example", "biometric_hash": f"b{u}",
                 "password_hash": fast, "nationality_country_code": "NG",
                 "status": UserProfileStatus.APPROVED_PENDING_ONCHAIN}
                for u in range(users)
            ],
        )  # fmt: skip
    async with await EmbeddedLedger.open(url) as ledger:
        await open_accounts(ledger, TENANT, users)
        await Projector(db, ledger, tenant_id=TENANT).run(once=True)
    await db.dispose()


async def client_loop(
    base: str, senders: list[str], users: int, until: float, latencies: list[float], seed: int
) -> tuple[int, int]:
    rng = random.Random(seed)
    accepted = refused = 0
    async with httpx.AsyncClient(base_url=f"{base}/api/v1", headers={"X-Tenant-Id": TENANT}) as c:
        tokens = []
        for email in senders:
            got = await c.post("/auth/login", json={"email": email, "password": PASSWORD})
            got.raise_for_status()
            tokens.append({"Authorization": f"Bearer {got.json()['accessToken']}"})
        while time.perf_counter() < until:
            receiver = f"{TENANT}-p{rng.randrange(users)}"
            body = {
                "toUserId": receiver,
                "amount": f"{rng.randint(4, 6)}.{rng.randint(0, 999):03d}",
            }
            started = time.perf_counter()
            answer = await c.post("/transfers", json=body, headers=rng.choice(tokens))
            latencies.append(time.perf_counter() - started)
            if answer.status_code == 202:
                accepted += 1
            else:
                refused += 1
    return accepted, refused


async def invariants(url: str, accepted: int) -> None:
    db = Database.connect(url, role_key=ROLE_KEY)
    async with db.system(reason="bench check") as session:
        holds = await session.scalar(select(func.count()).select_from(TransferHold))
        total = await session.scalar(select(func.sum(Wallet.cached_balance)))
        negative = await session.scalar(
            text(
                'SELECT count(*) FROM "Wallet" w WHERE w."cachedBalance" < COALESCE((SELECT '
                'sum(h.amount + h.fee) FROM "TransferHold" h WHERE h."walletId" = w."walletId"), 0)'
            )
        )
    await db.dispose()
    assert holds == accepted, f"{holds} holds for {accepted} accepted requests"
    assert negative == 0, f"{negative} wallets hold more than their balance"
    print(f"invariants: {holds} holds, no available balance negative, wallets total {total:f}")
    assert isinstance(total, Decimal)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=20)
    args = parser.parse_args()

    async with migrated_database() as url:
        await setup(url, args.users)
        work = Path(tempfile.mkdtemp(prefix="gx-bench-"))
        port = free_port()
        env = {k: v for k, v in os.environ.items() if k != "GX_DATABASE_URL"}
        env.update(DATABASE_URL=url, GX_ENVIRONMENT="test")
        api = [sys.executable, "-m", "gxcore", "api", "--port", str(port), "--data-dir", str(work)]
        proc = await asyncio.create_subprocess_exec(
            *api, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            base = f"http://127.0.0.1:{port}"
            await wait_until_up(base, proc)
            latencies: list[float] = []
            emails = [f"u{u}@bench.example" for u in range(args.users)]
            started = time.perf_counter()
            until = started + 5 + args.seconds  # sign-ins first, then the measured stream
            results = await asyncio.gather(
                *(
                    client_loop(
                        base,
                        emails[i * SENDERS_PER_CLIENT : (i + 1) * SENDERS_PER_CLIENT],
                        args.users,
                        until,
                        latencies,
                        i,
                    )
                    for i in range(args.clients)
                )
            )
            elapsed = time.perf_counter() - started - 5
        finally:
            proc.terminate()
            await proc.wait()
        accepted = sum(a for a, _ in results)
        refused = sum(r for _, r in results)
        rate = accepted / elapsed
        q = statistics.quantiles(latencies, n=100)
        print(f"transfers accepted over HTTP: {rate:,.0f}/s ({accepted} in {elapsed:.1f} s, "
              f"{refused} refused); latency p50 {q[49] * 1000:.1f} ms, p99 {q[98] * 1000:.1f} ms")  # fmt: skip
        await invariants(url, accepted)
        tps = pgbench_tps(url)
        if tps is None:
            print("pgbench not found: no baseline", file=sys.stderr)
        else:
            print(f"pgbench TPC-B (-c 8 -j 2) on the same server: {tps:,.0f} tps; "
                  f"accepted transfers = {rate / tps:.2f}x pgbench tps")  # fmt: skip


if __name__ == "__main__":
    asyncio.run(main())
