"""The CQRS loop's throughput and latency, each against pgbench's TPC-B on the same server.

    .venv/bin/python bench/cqrs.py [--commands 20000] [--rate 1000] [--seconds 20]
                                   [--pgbench-seconds 15] [--pgbench-scale 8]
                                   [--relay-batch 500] [--projector-batch 500]
                                   [--profile relay|projector]

One tenant with `--users` funded users whose profiles are registered (setup straight through
the ledger and an in-process projector), then, in one run:
- (a) relay: `--commands` TRANSFER_TOKENS committed to the outbox in one transaction while
  `gx relay --workers 2` waits; commands per second until none is PENDING or LOCKED.
- (b) projector: the events of (a), applied by a `Projector` in this process from its
  checkpoint until it reaches the ledger's height; events per second.
- (c) latency: `--rate` commands per second for `--seconds` s into the outbox (a small insert
  every 5 ms) with `gx relay --workers 2` and `gx projector run` running; per command, from the
  commit of its insert to the first moment the projector's checkpoint (polled every 5 ms, in
  the read models' transaction) passes its event; p50 and p99.
- pgbench TPC-B, `-c 8 -j 2`, on the same server; each throughput is printed as a ratio
  to its tps. Targets: relay >= 2x, projector >= 8x, p99 < 250 ms at 1,000 commands/s.

`--profile relay|projector` runs that stage in this process instead (the relay as one worker)
under cProfile, with wall-clock timings of its steps and SQL statements (`bench/timings.py`),
and prints where the time goes; (c) is skipped. Uses DATABASE_URL when set (owner
with CREATEDB), else a throwaway embedded server.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import cProfile
import json
import os
import pstats
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import asyncpg
from common import (  # bench/, beside this script
    ROLE_KEY,
    approved_profiles,
    freeze_setup,
    migrated_database,
    open_accounts,
    pgbench_tps,
)
from timings import Timings

from gxcore.cqrs.outbox import NOTIFY_CHANNEL
from gxcore.cqrs.projector import Projector
from gxcore.cqrs.relay import Relay, RelayConfig
from gxcore.db import server
from gxcore.db.roles import SYSTEM_ROLE, role_url
from gxcore.db.tenancy import Database
from gxcore.ledger import EmbeddedLedger, block, store

TENANT = "bench"
TARGETS = {"relay": 2.0, "projector": 8.0, "p99_ms": 250.0}


# --------------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------------


def transfer(rng: random.Random, users: int, request_id: str) -> tuple[str, str]:
    """(request id, payload): a transfer between two random users, above the fee threshold."""
    sender, receiver = rng.sample(range(users), 2)
    amount = f"{rng.randint(4, 9)}.{rng.randint(0, 999_999_999):09d}"
    return request_id, json.dumps({"senderId": f"u{sender}", "receiverId": f"u{receiver}",
                                   "amount": amount})  # fmt: skip


_ENQUEUE = """
INSERT INTO "OutboxCommand" (id, "tenantId", service, "commandType", "requestId", payload,
                             "updatedAt")
SELECT gen_random_uuid()::text, $1, 'bench', 'TRANSFER_TOKENS', r, p::jsonb, now()
FROM unnest($2::text[], $3::text[]) AS u(r, p)
"""


@asynccontextmanager
async def system_connection(url: str) -> AsyncIterator[asyncpg.Connection]:
    """A plain connection as gx_system (spans tenants): the driver's loads and polls cost
    little client CPU, which the processes measured need."""
    conn = await asyncpg.connect(role_url(url, SYSTEM_ROLE, key=ROLE_KEY))
    try:
        yield conn
    finally:
        await conn.close()


async def enqueue_many(conn: asyncpg.Connection, commands: list[tuple[str, str]]) -> None:
    """PENDING commands in one transaction and one statement, like many `enqueue` calls."""
    async with conn.transaction():
        await conn.execute(_ENQUEUE, TENANT, [r for r, _ in commands], [p for _, p in commands])
        await conn.execute("SELECT pg_notify($1, $2)", NOTIFY_CHANNEL, TENANT)


async def setup(url: str, db: Database, users: int) -> None:
    """Bootstrap, `users` approved profiles, their accounts and genesis; projected."""
    await approved_profiles(db, TENANT, users)
    async with await EmbeddedLedger.open(url) as ledger:
        await open_accounts(ledger, TENANT, users)
        await Projector(db, ledger).run(once=True)
    async with server.connect(url) as conn:
        await conn.execute("ANALYZE")


# --------------------------------------------------------------------------------------------
# Processes
# --------------------------------------------------------------------------------------------


class Gx:
    """A `gx ...` subprocess on the bench database; its log in a temporary file."""

    def __init__(self, url: str, *args: str) -> None:
        self.log = Path(tempfile.mkstemp(prefix="gx-bench-", suffix=".log")[1])
        env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "GX_DATABASE_URL")}
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "gxcore", *args],
                stdout=out, stderr=subprocess.STDOUT, env={**env, "DATABASE_URL": url},
            )  # fmt: skip

    async def wait_for(self, text: str, count: int = 1, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while self.log.read_text(errors="replace").count(text) < count:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"gx did not start:\n{self.log.read_text()}")
            await asyncio.sleep(0.05)

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(60)
        if self.proc.returncode:
            raise RuntimeError(f"gx exited {self.proc.returncode}:\n{self.log.read_text()}")
        self.log.unlink()


async def in_flight(conn: asyncpg.Connection) -> int:
    return await conn.fetchval(
        "SELECT count(*) FROM \"OutboxCommand\" WHERE status IN ('PENDING', 'LOCKED', 'SUBMITTED')"
    )


async def checkpoint(conn: asyncpg.Connection) -> tuple[int, int]:
    row = await conn.fetchrow(
        'SELECT "lastBlock", "lastEventIndex" FROM "ProjectorState" '
        'WHERE "tenantId" = $1 AND "projectorName" = \'main\'',
        TENANT,
    )
    return (row[0], row[1]) if row else (0, -1)


async def ledger_head(url: str) -> tuple[int, int]:
    async with server.connect(url) as conn:
        row = await conn.fetchrow(
            "SELECT block_number, event_index FROM ledger.events WHERE tenant_id = $1 "
            "ORDER BY block_number DESC, event_index DESC LIMIT 1",
            TENANT,
        )
    return (row[0], row[1]) if row else (0, -1)


# --------------------------------------------------------------------------------------------
# The stages
# --------------------------------------------------------------------------------------------


@dataclass
class Throughput:
    count: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.count / self.seconds


async def relay_stage(url: str, db: Database, conn: asyncpg.Connection, k: int, users: int,
                      batch: int, profile: bool) -> Throughput:  # fmt: skip
    """(a) K commands committed at once; time until none is in flight."""
    rng = random.Random(1)
    commands = [transfer(rng, users, f"a-{i}") for i in range(k)]
    if profile:  # one worker in this process: its steps add up to the elapsed time
        await enqueue_many(conn, commands)
        timings = Timings()
        timings.wrap(store, "lock_tenants", "ledger: wait for and lock the tenants' heads")
        timings.wrap(block, "execute", "ledger: execute the block")
        timings.statements(db.system_engine)
        async with await EmbeddedLedger.open(url) as ledger:
            relay = Relay(db, ledger, RelayConfig(batch_size=batch, listen=False))
            timings.wrap(relay, "_claim", "relay: claim")
            timings.wrap(ledger, "submit", "relay: submit (one ledger transaction)")
            timings.wrap(relay, "_record", "relay: record")
            started = time.perf_counter()
            with cProfile.Profile() as prof:
                await relay.drain()
            elapsed = time.perf_counter() - started
        report(prof, timings, elapsed)
        return Throughput(k, elapsed)
    relay = Gx(url, "relay", "--workers", "2", "--batch", str(batch))
    try:
        await relay.wait_for("started", count=2)
        await enqueue_many(conn, commands)
        started = time.perf_counter()
        while await in_flight(conn):
            await asyncio.sleep(0.02)
        elapsed = time.perf_counter() - started
    finally:
        relay.stop()
    return Throughput(k, elapsed)


async def projector_stage(url: str, db: Database, batch: int, profile: bool) -> Throughput:
    """(b) From the checkpoint to the ledger's height, in this process."""
    async with await EmbeddedLedger.open(url) as ledger:
        projector = Projector(db, ledger, batch_size=batch)
        freeze_setup()
        started = time.perf_counter()
        if profile:
            timings = Timings()
            timings.wrap(ledger, "events_after", "projector: read events")
            timings.statements(db.system_engine)
            with cProfile.Profile() as prof:
                progress = await projector.run(once=True)
            elapsed = time.perf_counter() - started
            report(prof, timings, elapsed)
        else:
            progress = await projector.run(once=True)
        elapsed = time.perf_counter() - started
    return Throughput(progress.applied, elapsed)


@dataclass
class Latency:
    offered: float  # commands per second actually offered
    measured: int
    p50_ms: float
    p99_ms: float
    max_ms: float


async def latency_stage(url: str, conn: asyncpg.Connection, rate: float, seconds: float,
                        users: int) -> Latency:  # fmt: skip
    """(c) A steady offered rate through the running loop; enqueue-to-read-model times."""
    rng = random.Random(3)
    relay = Gx(url, "relay", "--workers", "2")
    projector = Gx(url, "projector", "run")
    sampled: list[tuple[float, tuple[int, int]]] = []  # (time, checkpoint) when it moved
    enqueued: dict[str, float] = {}
    stop = asyncio.Event()

    async def watch() -> None:
        async with system_connection(url) as watcher:
            while not stop.is_set():
                at = await checkpoint(watcher)
                if not sampled or at != sampled[-1][1]:
                    sampled.append((time.perf_counter(), at))
                await asyncio.sleep(0.005)

    try:
        await relay.wait_for("started", count=2)
        await asyncio.sleep(2)  # the projector's start (it logs nothing until it stops)
        watcher = asyncio.create_task(watch())
        sent, started = 0, time.perf_counter()
        while (now := time.perf_counter() - started) < seconds:
            due = int(rate * now) - sent
            if due > 0:
                batch = [transfer(rng, users, f"c-{sent + i}") for i in range(due)]
                await enqueue_many(conn, batch)
                at = time.perf_counter()
                enqueued.update((request_id, at) for request_id, _ in batch)
                sent += due
            await asyncio.sleep(0.005)
        offered = sent / (time.perf_counter() - started)
        while await in_flight(conn) or (await checkpoint(conn)) < await ledger_head(url):
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.05)
        stop.set()
        await watcher
    finally:
        relay.stop()
        projector.stop()

    async with server.connect(url) as owner:
        rows = await owner.fetch(
            "SELECT DISTINCT ON (t.request_id) t.request_id, e.block_number AS b, "
            "e.event_index AS i FROM ledger.transactions t JOIN ledger.events e "
            "ON e.tx_id = t.tx_id WHERE t.tenant_id = $1 AND t.request_id LIKE 'c-%' "
            "ORDER BY t.request_id, e.block_number DESC, e.event_index DESC",
            TENANT,
        )
    times = [t for t, _ in sampled]
    positions = [p for _, p in sampled]
    latencies = []
    for r in rows:
        seen = bisect.bisect_left(positions, (r["b"], r["i"]))
        latencies.append((times[seen] - enqueued[r["request_id"]]) * 1000)
    latencies.sort()
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    return Latency(offered, len(latencies), statistics.median(latencies), p99, latencies[-1])


def report(prof: cProfile.Profile, timings: Timings, elapsed: float) -> None:
    timings.print(elapsed)
    stats = pstats.Stats(prof)
    stats.sort_stats("tottime").print_stats(25)


# --------------------------------------------------------------------------------------------
# The run
# --------------------------------------------------------------------------------------------


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--commands", type=int, default=20_000, help="K, for (a) and (b)")
    parser.add_argument("--users", type=int, default=2_000)
    parser.add_argument("--rate", type=float, default=1_000, help="offered commands/s in (c)")
    parser.add_argument("--seconds", type=float, default=20, help="length of (c)")
    parser.add_argument("--pgbench-seconds", type=int, default=15)
    parser.add_argument("--pgbench-scale", type=int, default=8, help="at least the 8 clients")
    parser.add_argument("--relay-batch", type=int, default=500, help="gx relay --batch")
    parser.add_argument("--projector-batch", type=int, default=500, help="events per batch")
    parser.add_argument("--profile", choices=["relay", "projector"])
    args = parser.parse_args()

    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    async with migrated_database() as url:
        db = Database.connect(url, role_key=ROLE_KEY)
        started = time.perf_counter()
        await setup(url, db, args.users)
        print(f"setup: {args.users} users projected in {time.perf_counter() - started:.1f}s")
        async with system_connection(url) as conn:
            relay = await relay_stage(url, db, conn, args.commands, args.users,
                                      args.relay_batch, args.profile == "relay")  # fmt: skip
            projector = await projector_stage(url, db, args.projector_batch,
                                              args.profile == "projector")  # fmt: skip
            latency = None
            if args.profile is None:
                latency = await latency_stage(url, conn, args.rate, args.seconds, args.users)
        await db.dispose()
        tps = await asyncio.to_thread(
            pgbench_tps, url, args.pgbench_seconds, scale=args.pgbench_scale
        )

    print(f"load average at end:   {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if tps is None:
        print("pgbench not found: no baseline", file=sys.stderr)
    else:
        print(f"pgbench TPC-B -c 8 -j 2 -s {args.pgbench_scale}, {args.pgbench_seconds}s: "
              f"{tps:,.0f} tps")  # fmt: skip
    print(f"{'measure':38s} {'value':>16s} {'x pgbench':>10s} {'target':>14s}")

    def line(label: str, value: str, ratio: float | None, target: str, ok: bool | None) -> None:
        shown = f"{ratio:.1f}x" if ratio is not None else "-"
        verdict = "" if ok is None else ("met" if ok else "MISSED")
        print(f"{label:38s} {value:>16s} {shown:>10s} {target:>14s}  {verdict}")

    for label, stage, key, unit in (
        ("(a) relay, 2 workers", relay, "relay", "cmd/s"),
        ("(b) projector", projector, "projector", "events/s"),
    ):
        ratio = stage.rate / tps if tps else None
        line(f"{label} ({stage.count} in {stage.seconds:.1f}s)", f"{stage.rate:,.0f} {unit}",
             ratio, f">= {TARGETS[key]:g}x", ratio >= TARGETS[key] if ratio else None)  # fmt: skip
    if latency:
        line(f"(c) p50 at {latency.offered:,.0f} cmd/s offered", f"{latency.p50_ms:.0f} ms",
             None, "", None)  # fmt: skip
        line(f"(c) p99 ({latency.measured} commands, max {latency.max_ms:.0f} ms)",
             f"{latency.p99_ms:.0f} ms", None, f"< {TARGETS['p99_ms']:g} ms",
             latency.p99_ms < TARGETS["p99_ms"])  # fmt: skip


if __name__ == "__main__":
    asyncio.run(main())
