"""Throughput of the projector, against pgbench's TPC-B on the same server.

    .venv/bin/python bench/projector.py [--users 2000] [--transfers 20000] [--batch 500]
                                        [--tenants 1]

Registers `--users` approved profiles, opens their accounts on the embedded ledger (CREATE_USER
and DISTRIBUTE_GENESIS), then commits `--transfers` TRANSFER_TOKENS on the ledger. Each phase is
then projected by `Projector.run(once=True)` and timed alone: user accounts (UserCreated and
GenesisDistributed: profiles activated, wallets opened, MINT rows) and transfers (two wallet
balances and two Transaction rows each). Every event also appends EventLog and moves the
checkpoint, in one transaction per batch. Each phase also prints the CPU time per event of the
projector process and of the database's server processes (when they run on this host), and the
load average. pgbench (TPC-B, 8 clients, 2 threads, 10 s, scale 8) runs on the same server in
the same run as the baseline. Uses DATABASE_URL when set (owner with CREATEDB), else a
throwaway embedded server with production durability (bench/common.py).

With `--tenants N` (N > 1), each tenant gets `--users` and `--transfers` of its own (their
blocks interleaved on the ledger) and its own projector (`Projector(tenant_id=...)`, named for
the tenant); the transfers phase then runs the N projectors at once, one process each, and
prints their events per second together, from the first start to the last finish. This is how
far partitioning the projection by tenant goes on this machine.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import random
import time
from typing import Any

from common import (  # bench/common.py, beside this script
    ROLE_KEY,
    approved_profiles,
    freeze_setup,
    migrated_database,
    open_accounts,
    print_ratio,
)
from sqlalchemy.engine import make_url

from gxcore.cqrs.projector import Projector
from gxcore.db.tenancy import Database
from gxcore.enums import CommandType
from gxcore.ledger import Command, EmbeddedLedger


async def transfer(ledger: EmbeddedLedger, tenants: list[str], users: int, count: int) -> None:
    """`count` transfers per tenant, in blocks of 500 that take the tenants in turn."""
    rng = random.Random(1)
    for start in range(0, count, 500):
        for tenant in tenants:
            batch = []
            for i in range(start, min(count, start + 500)):
                sender, receiver = rng.sample(range(users), 2)
                batch.append(
                    Command(
                        tenant,
                        f"t{i}",
                        CommandType.TRANSFER_TOKENS,
                        {
                            "senderId": f"u{sender}",
                            "receiverId": f"u{receiver}",
                            "amount": f"{rng.randint(4, 20)}.{rng.randint(0, 999):03d}",
                        },
                    )
                )
            await ledger.submit(batch)


def server_cpu(database: str) -> float:
    """CPU seconds used so far by the server processes serving `database` (Linux, server on
    this host; 0 otherwise): with the projector's own CPU time, where a stage's time goes."""
    total = 0.0
    for pid in filter(str.isdigit, os.listdir("/proc") if os.path.isdir("/proc") else []):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if database.encode() not in f.read():
                    continue
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:  # the process ended meanwhile
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def projector(db: Database, ledger: EmbeddedLedger, tenant: str | None, batch: int) -> Projector:
    if tenant is None:
        return Projector(db, ledger, batch_size=batch)
    return Projector(db, ledger, tenant_id=tenant, name=f"bench-{tenant}", batch_size=batch)


def report(what: str, applied: int, elapsed: float, cpu: float, server: float) -> float:
    rate = applied / elapsed
    print(f"{what}: {applied:,} events in {elapsed:.2f} s = {rate:,.0f} events/s "
          f"(CPU per event: projector {cpu / applied * 1e6:.0f} us, database "
          f"{server / applied * 1e6:.0f} us; load average {os.getloadavg()[0]:.1f})")  # fmt: skip
    return rate


async def timed(
    db: Database, ledger: EmbeddedLedger, tenants: list[str | None], batch: int, what: str,
    database: str,
) -> float:  # fmt: skip
    """One projector per tenant (or the global one), one after the other, in this process."""
    freeze_setup()
    cpu, server_before = time.process_time(), server_cpu(database)
    started = time.perf_counter()
    applied = 0
    for tenant in tenants:
        applied += (await projector(db, ledger, tenant, batch).run(once=True)).applied
    elapsed = time.perf_counter() - started
    cpu, server = time.process_time() - cpu, server_cpu(database) - server_before
    return report(what, applied, elapsed, cpu, server)


def _project_tenant(url: str, tenant: str, batch: int, go: Any, finish: Any, out: Any) -> None:
    """A child process: connect, say so, wait for `go`, project the tenant, report its figures,
    and keep its connections (whose server processes the parent measures) until `finish`."""

    async def project() -> None:
        db = Database.connect(url, role_key=ROLE_KEY)
        async with await EmbeddedLedger.open(url) as ledger:
            worker = projector(db, ledger, tenant, batch)
            freeze_setup()
            out.put(None)
            go.wait()
            cpu, started = time.process_time(), time.time()
            done = await worker.run(once=True)
            out.put((done.applied, started, time.time(), time.process_time() - cpu))
            finish.wait()
        await db.dispose()

    asyncio.run(project())


def timed_in_parallel(url: str, tenants: list[str], batch: int, what: str, database: str) -> float:
    """One process per tenant's projector, started together; rate from first start to last end."""
    context = multiprocessing.get_context("spawn")
    go, finish, out = context.Event(), context.Event(), context.Queue()
    children = [
        context.Process(target=_project_tenant, args=(url, t, batch, go, finish, out))
        for t in tenants
    ]
    for child in children:
        child.start()
    for _ in children:  # each is connected and waits for `go`
        out.get(timeout=120)
    server_before = server_cpu(database)
    go.set()
    results = [out.get(timeout=1200) for _ in children]
    server = server_cpu(database) - server_before
    finish.set()
    for child in children:
        child.join()
    applied = sum(r[0] for r in results)
    elapsed = max(r[2] for r in results) - min(r[1] for r in results)
    return report(what, applied, elapsed, sum(r[3] for r in results), server)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=2000)
    parser.add_argument("--transfers", type=int, default=20000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--tenants", type=int, default=1)
    args = parser.parse_args()
    names = ["bench"] if args.tenants == 1 else [f"bench{i}" for i in range(args.tenants)]
    # One tenant: the global projector, as `gx projector run` runs it; several: one per tenant.
    projected: list[str | None] = [None] if args.tenants == 1 else list(names)

    async with migrated_database() as url:
        name = make_url(url).database or ""
        db = Database.connect(url, role_key=ROLE_KEY)
        async with await EmbeddedLedger.open(url) as ledger:
            for tenant in names:
                await approved_profiles(db, tenant, args.users)
                await open_accounts(ledger, tenant, args.users)
            await timed(db, ledger, projected, args.batch, "user accounts (UserCreated, genesis)",
                        name)  # fmt: skip
            await transfer(ledger, names, args.users, args.transfers)
            what = "transfers (TransferCompleted)"
            if args.tenants == 1:
                rate = await timed(db, ledger, projected, args.batch, what, name)
        await db.dispose()
        if args.tenants > 1:
            what += f", {args.tenants} tenant projectors at once"
            rate = timed_in_parallel(url, names, args.batch, what, name)
        print_ratio(url, "projected transfers/s", rate)


if __name__ == "__main__":
    asyncio.run(main())
