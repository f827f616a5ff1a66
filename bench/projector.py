"""Throughput of the projector, against pgbench's TPC-B on the same server.

    .venv/bin/python bench/projector.py [--users 2000] [--transfers 20000] [--batch 500]

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
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import time

from common import migrated_database, print_ratio  # bench/common.py, beside this script
from sqlalchemy.engine import make_url

from gxcore.cqrs.projector import Projector
from gxcore.db.tenancy import Database
from gxcore.enums import CommandType, UserProfileStatus
from gxcore.identity.models import UserProfile
from gxcore.ledger import Command, EmbeddedLedger

TENANT = "bench"


async def register(db: Database, ledger: EmbeddedLedger, users: int) -> None:
    async with db.system(reason="bench: profiles") as session:
        await session.execute(
            UserProfile.__table__.insert(),
            [
                {"profile_id": f"p{u}", "tenant_id": TENANT, "first_name": "A", "last_name": "B",
                 "biometric_hash": f"b{u}", "password_hash": "x",
                 "status": UserProfileStatus.APPROVED_PENDING_ONCHAIN}
                for u in range(users)
            ],
        )  # fmt: skip
    await ledger.submit([Command(TENANT, "boot", CommandType.BOOTSTRAP_SYSTEM, {})])
    for start in range(0, users, 250):
        batch = []
        for u in range(start, min(users, start + 250)):
            batch.append(
                Command(
                    TENANT,
                    f"c{u}",
                    CommandType.CREATE_USER,
                    {
                        "userId": f"u{u}",
                        "profileId": f"p{u}",
                        "biometricHash": f"b{u}",
                        "nationality": "NG",
                        "age": 30,
                    },
                )
            )
            batch.append(Command(TENANT, f"g{u}", CommandType.DISTRIBUTE_GENESIS,
                                 {"userId": f"u{u}"}))  # fmt: skip
        assert all(o.committed for o in await ledger.submit(batch))


async def transfer(ledger: EmbeddedLedger, users: int, count: int) -> None:
    rng = random.Random(1)
    for start in range(0, count, 500):
        batch = []
        for i in range(start, min(count, start + 500)):
            sender, receiver = rng.sample(range(users), 2)
            batch.append(
                Command(
                    TENANT,
                    f"t{i}",
                    CommandType.TRANSFER_TOKENS,
                    {
                        "senderId": f"u{sender}",
                        "receiverId": f"u{receiver}",
                        "amount": f"{rng.randint(4, 20)}.{rng.randint(0, 999):03d}",
                    },
                )
            )
        await ledger.submit(batch)  # fmt: skip


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


async def timed(
    db: Database, ledger: EmbeddedLedger, batch: int, what: str, database: str
) -> float:
    cpu, server_before = time.process_time(), server_cpu(database)
    started = time.perf_counter()
    done = await Projector(db, ledger, batch_size=batch).run(once=True)
    elapsed = time.perf_counter() - started
    cpu, server = time.process_time() - cpu, server_cpu(database) - server_before
    rate = done.applied / elapsed
    print(f"{what}: {done.applied:,} events in {elapsed:.2f} s = {rate:,.0f} events/s "
          f"(CPU per event: projector {cpu / done.applied * 1e6:.0f} us, database "
          f"{server / done.applied * 1e6:.0f} us; load average {os.getloadavg()[0]:.1f})")  # fmt: skip
    return rate


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=2000)
    parser.add_argument("--transfers", type=int, default=20000)
    parser.add_argument("--batch", type=int, default=500)
    args = parser.parse_args()

    async with migrated_database() as url:
        name = make_url(url).database or ""
        db = Database.connect(url)
        async with await EmbeddedLedger.open(url) as ledger:
            await register(db, ledger, args.users)
            await timed(db, ledger, args.batch, "user accounts (UserCreated, genesis)", name)
            await transfer(ledger, args.users, args.transfers)
            rate = await timed(db, ledger, args.batch, "transfers (TransferCompleted)", name)
        await db.dispose()
        print_ratio(url, "projected transfers/s", rate)


if __name__ == "__main__":
    asyncio.run(main())
