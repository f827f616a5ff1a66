"""Cost of tenant isolation on a read-heavy mix, measured against no isolation in the same run.

    .venv/bin/python bench/tenancy.py [--ops 3000] [--rounds 5]

Mix per operation, each in its own transaction as a request would be: get a wallet by id, list
a page of 20 wallets, load a wallet's owner through the relationship. Variants, interleaved
round by round on the same server so machine noise hits all alike:
- baseline: the owner (superuser) engine, explicit `tenantId` filters, no guard, no RLS;
- guarded: `Database.tenant()` (ORM guard + RLS as gx_app, tenant sent with BEGIN);
- naive: guard + RLS, but the tenant set by a separate `set_config` statement, for contrast.
Uses DATABASE_URL when set (owner with CREATEDB), else a throwaway embedded server.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable

from common import ROLE_KEY, migrated_database  # bench/common.py, beside this script
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from gxcore.db.engine import create_engine
from gxcore.db.roles import APP_ROLE, role_url
from gxcore.db.scope import SCOPE_KEY, Scope
from gxcore.db.tenancy import Database, GuardedSession
from gxcore.identity.models import UserProfile
from gxcore.wallet.models import Wallet

TENANTS, PROFILES, PAGE = 8, 250, 20


async def populate(engine: AsyncEngine) -> dict[str, list[str]]:
    wallets: dict[str, list[str]] = {}
    async with engine.begin() as conn:
        for t in range(TENANTS):
            tenant = f"bench-{t}"
            profiles = [
                {"profile_id": str(uuid.uuid4()), "tenant_id": tenant, "first_name": "A",
                 "last_name": "B", "biometric_hash": uuid.uuid4().hex, "password_hash": "x"}
                for _ in range(PROFILES)
            ]  # fmt: skip
            rows = [
                {"wallet_id": str(uuid.uuid4()), "tenant_id": tenant,
                 "profile_id": p["profile_id"], "primary_account_id": uuid.uuid4().hex,
                 "wallet_name": "main"}
                for p in profiles
            ]  # fmt: skip
            await conn.execute(UserProfile.__table__.insert(), profiles)
            await conn.execute(Wallet.__table__.insert(), rows)
            wallets[tenant] = [w["wallet_id"] for w in rows]
        await conn.execute(text("ANALYZE"))
    return wallets


Op = Callable[[AsyncSession, str, str], Awaitable[object]]


async def op_get(session: AsyncSession, tenant: str, wallet_id: str, filt: bool) -> object:
    # Ids are unique across tenants, so the unguarded get returns the same row.
    return await session.get(Wallet, wallet_id)


async def op_page(session: AsyncSession, tenant: str, filt: bool) -> object:
    stmt = select(Wallet).order_by(Wallet.created_at, Wallet.wallet_id).limit(PAGE)
    if filt:
        stmt = stmt.where(Wallet.tenant_id == tenant, Wallet.deleted_at.is_(None))
    return (await session.scalars(stmt)).all()


async def op_relation(session: AsyncSession, tenant: str, wallet_id: str, filt: bool) -> object:
    wallet = await op_get(session, tenant, wallet_id, filt)
    return await session.run_sync(lambda _: wallet.user_profile)


async def run_mix(
    open_session: Callable[[str], object], wallets: dict[str, list[str]], ops: int, filt: bool
) -> float:
    rng = random.Random(42)
    cpu = time.process_time()
    started = time.perf_counter()
    for i in range(ops):
        tenant = rng.choice(list(wallets))
        wallet_id = rng.choice(wallets[tenant])
        async with open_session(tenant) as session:  # type: ignore[attr-defined]
            kind = i % 3
            if kind == 0:
                await op_get(session, tenant, wallet_id, filt)
            elif kind == 1:
                await op_page(session, tenant, filt)
            else:
                await op_relation(session, tenant, wallet_id, filt)
    elapsed = time.perf_counter() - started
    CPU[open_session] = CPU.get(open_session, 0.0) + time.process_time() - cpu
    return elapsed


CPU: dict[object, float] = {}  # client-side CPU seconds per variant, to tell Python from waiting


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--ops", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    async with migrated_database() as url:
        owner = create_engine(url, pool_size=2)
        wallets = await populate(owner)
        db = Database.connect(url, role_key=ROLE_KEY, pool_size=2)
        naive_engine = create_engine(role_url(url, APP_ROLE, key=ROLE_KEY), pool_size=2)

        from contextlib import asynccontextmanager

        @asynccontextmanager
        async def baseline(tenant: str):
            async with AsyncSession(owner, expire_on_commit=False) as s, s.begin():
                yield s

        @asynccontextmanager
        async def naive(tenant: str):
            s = AsyncSession(
                naive_engine, sync_session_class=GuardedSession, expire_on_commit=False
            )
            s.sync_session.info[SCOPE_KEY] = Scope.for_tenant(tenant)
            async with s, s.begin():  # a plain asyncpg connection: set_config on its own
                yield s

        variants = {
            "baseline": (baseline, True),
            "guarded": (db.tenant, False),
            "naive": (naive, False),
        }
        for fn, filt in variants.values():  # warm pools, caches and the server
            await run_mix(fn, wallets, 300, filt)
        times: dict[str, list[float]] = {k: [] for k in variants}
        for _ in range(args.rounds):
            for key, (fn, filt) in variants.items():
                times[key].append(await run_mix(fn, wallets, args.ops, filt))

        best = {k: statistics.median(v) for k, v in times.items()}
        print(
            f"{args.ops} ops x {args.rounds} rounds (median round); mix: get, page of {PAGE}, relation"
        )
        for key, seconds in best.items():
            ratio = seconds / best["baseline"]
            cpu_ms = CPU[variants[key][0]] / (args.ops * args.rounds + 300) * 1000
            print(
                f"  {key:9s} {args.ops / seconds:8.0f} ops/s   {ratio:5.3f}x baseline  "
                f"({(ratio - 1) * 100:+.1f}%)   client CPU {cpu_ms:.2f} ms/op"
            )
        await db.dispose()
        await owner.dispose()
        await naive_engine.dispose()


if __name__ == "__main__":
    asyncio.run(main())
