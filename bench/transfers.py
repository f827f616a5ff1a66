"""Transfers over HTTP through `gx api`, then through the whole loop, and the ledger's blocks,
each against pgbench on the same server, in one run.

    .venv/bin/python bench/transfers.py [--users 1000] [--clients 8] [--seconds 20] [--rate R]
                                        [--ledger-seconds 5] [--profile [api|all]]
                                        [--api-workers 1]

One tenant with `--users` funded wallets (ledger accounts with their genesis, projected), `gx api`
in its own process as users run it, and `--clients` clients, each with 8 senders of its own
signed in before the clock starts, posting transfers to random other users (amounts above the
fee threshold). In one run on one server:
- (a) accepted: the clients post back to back for `--seconds` with only `gx api` running:
  transfer requests accepted per second, p50/p99 latency. Then every accepted request holds its
  amount and fee and its command was not relayed, no available balance is negative, the
  wallets' total is unchanged.
- (b) projected: `gx relay` and `gx projector run` start and deliver (a)'s backlog; then other
  senders post for `--seconds`, back to back, or open-loop at `--rate` requests per second
  (each client sends on its own schedule without waiting for answers; latency counts from the
  scheduled moment). Per accepted transfer, the time from the client's request to the moment
  its `Transaction` rows are visible. No column records that moment (`EventLog.ingestedAt` is
  when the projector's transaction began, not when it committed), so a side task polls the
  projector's checkpoint (`ProjectorState`, written in the read models' transaction) every
  5 ms, and once everything is projected each transfer's last event (`EventLog` by its
  command's `fabricTxId`) is looked up in those samples: the first sample at or past it is when
  it became visible (at most one poll late). p50/p99, and the same from the request to each
  step on the way: the HTTP answer, the relay's claim (`OutboxCommand.lockedAt`), the
  ledger's block (the event's `txTimestamp`, the block's time). Then, settled: every accepted
  request of (a) and (b) is COMMITTED with its event in `EventLog`, or else still holds its
  money (FAILED, say), no balance or available balance is negative, and money is conserved:
  the wallets' total plus the fees of the `SENT` rows is the genesis total.
- (c) the ledger: committed transfers per second in blocks of 1 and in blocks of 200
  (`bench/ledger.py`), `--ledger-seconds` each.
- pgbench TPC-B (`-c 8 -j 2 -s 8`) on the same server: every throughput as a ratio to its tps.
Targets: p99 < 250 ms at 1,000 requests/s offered; blocks of 200 >= 3x blocks of 1. The CPU
each process (API, relay, projector, PostgreSQL, this client) spends per accepted transfer
tells which one fills the cores.

`--profile` samples `gx api`'s stack through (a)'s window (with `all`, also the relay's and
the projector's through (b)'s, until settled) and prints where the time goes, by the code
running and by what it was for: auth, SQL, audit, JSON, pydantic, the framework...
(`bench/profiles.py`), at a cost under a percent. Uses DATABASE_URL when set (owner with
CREATEDB), else a throwaway embedded server.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import os
import random
import signal
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import asyncpg
import httpx
from argon2 import PasswordHasher
from common import (  # bench/, beside this script
    ROLE_KEY,
    GxProcess,
    lift_limits,
    migrated_database,
    open_accounts,
    pgbench_tps,
    postmaster_pid,
)
from ledger import Blocks, block_stage, print_gain
from profiles import print_profile
from registration import cpu_seconds, free_port
from sqlalchemy.ext.asyncio import AsyncSession

from gxcore.admin import service as admin
from gxcore.admin.models import Tenant
from gxcore.cqrs.projector import Projector
from gxcore.db import server
from gxcore.db.engine import create_engine
from gxcore.db.roles import SYSTEM_ROLE, role_url
from gxcore.db.tenancy import Database
from gxcore.enums import UserProfileStatus
from gxcore.identity.models import UserProfile
from gxcore.ledger import EmbeddedLedger

TENANT = "bench"
PASSWORD = "bench-password-0123456789"
SENDERS_PER_CLIENT = 8
CONNECTIONS_PER_CLIENT = 16  # open-loop requests in flight per client
WATCH_EVERY = 0.005  # seconds between polls of the projector's checkpoint
TARGET_P99_MS, TARGET_RATE = 250.0, 1000.0
#: Outbox statuses only the relay (and the projector behind it) give a command.
RELAYED = ("LOCKED", "SUBMITTED", "COMMITTED", "FAILED")


UNLIMITED = ("transfersPerAccountMinute", "transfersPerAddressMinute")


# --------------------------------------------------------------------------------------------
# Set-up
# --------------------------------------------------------------------------------------------


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
        await lift_limits(session, TENANT, UNLIMITED)
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


@asynccontextmanager
async def system_connection(url: str) -> AsyncIterator[asyncpg.Connection]:
    """gx_system, which spans tenants: for the checks and the checkpoint's polls."""
    conn = await asyncpg.connect(role_url(url, SYSTEM_ROLE, key=ROLE_KEY))
    try:
        yield conn
    finally:
        await conn.close()


# --------------------------------------------------------------------------------------------
# Clients
# --------------------------------------------------------------------------------------------


@dataclass
class Stream:
    """What the clients sent in one window and what came back (times are wall clock)."""

    seconds: float = 0.0  # from the first request to the last answer
    sent: int = 0
    offered: float = 0.0  # requests sent per second of the window
    accepted: list[tuple[str, float, float]] = field(default_factory=list)  # id, asked, answered
    refused: Counter[str] = field(default_factory=Counter)

    @property
    def rate(self) -> float:
        return len(self.accepted) / self.seconds

    @property
    def ids(self) -> list[str]:
        return [c for c, _, _ in self.accepted]

    def describe(self) -> str:
        q = quantiles_ms([answered - asked for _, asked, answered in self.accepted])
        refused = ", ".join(f"{code} {n}" for code, n in self.refused.most_common())
        return (
            f"{self.rate:,.0f}/s ({len(self.accepted)} in {self.seconds:.1f} s, "
            f"{sum(self.refused.values())} refused{': ' + refused if refused else ''}); "
            f"latency p50 {q[0]:.1f} ms, p99 {q[1]:.1f} ms"
        )


def quantiles_ms(seconds: list[float]) -> tuple[float, float, float]:
    """p50, p99 and max, in milliseconds."""
    q = statistics.quantiles(seconds, n=100, method="inclusive")
    return q[49] * 1000, q[98] * 1000, max(seconds) * 1000


class Client:
    """One client: its own connections, its senders (user numbers) and their tokens."""

    def __init__(self, base: str, senders: range, users: int, seed: int) -> None:
        limits = httpx.Limits(max_connections=CONNECTIONS_PER_CLIENT)
        self.http = httpx.AsyncClient(
            base_url=f"{base}/api/v1", headers={"X-Tenant-Id": TENANT}, limits=limits, timeout=120
        )
        self.senders, self.users, self.rng = senders, users, random.Random(seed)
        self.tokens: dict[int, dict[str, str]] = {}

    async def sign_in(self) -> None:
        for u in self.senders:
            got = await self.http.post(
                "/auth/login", json={"email": f"u{u}@bench.example", "password": PASSWORD}
            )
            got.raise_for_status()
            self.tokens[u] = {"Authorization": f"Bearer {got.json()['accessToken']}"}

    async def post(self, stream: Stream, asked: float) -> None:
        """One transfer from a random sender of ours to another user; `asked`: when it was due."""
        sender = self.rng.choice(self.senders)
        receiver = self.rng.randrange(self.users - 1)
        receiver += receiver >= sender  # anyone but the sender
        body = {
            "toUserId": f"{TENANT}-p{receiver}",
            "amount": f"{self.rng.randint(4, 6)}.{self.rng.randint(0, 999):03d}",
        }
        stream.sent += 1
        answer = await self.http.post("/transfers", json=body, headers=self.tokens[sender])
        if answer.status_code == 202:
            stream.accepted.append((answer.json()["commandId"], asked, time.time()))
        else:  # a problem+json names its code; anything else is counted by its status
            json = "json" in answer.headers.get("content-type", "")
            stream.refused[answer.json()["code"] if json else str(answer.status_code)] += 1

    async def back_to_back(self, stream: Stream, until: float) -> None:
        while time.time() < until:
            await self.post(stream, time.time())

    async def open_loop(self, stream: Stream, rate: float, started: float, until: float) -> None:
        """`rate` requests per second on a fixed schedule, none waiting for another's answer."""
        sent: list[asyncio.Task[None]] = []
        due = started + self.rng.random() / rate
        while due < until:
            await asyncio.sleep(max(0.0, due - time.time()))
            sent.append(asyncio.create_task(self.post(stream, due)))
            due += 1 / rate
        await asyncio.gather(*sent)


async def signed_in(base: str, clients: int, first_sender: int, users: int) -> list[Client]:
    """`clients` clients with `SENDERS_PER_CLIENT` senders each, from `first_sender` on."""
    group = [
        Client(base, range(first_sender + i * SENDERS_PER_CLIENT,
                           first_sender + (i + 1) * SENDERS_PER_CLIENT), users, first_sender + i)
        for i in range(clients)
    ]  # fmt: skip
    await asyncio.gather(*(c.sign_in() for c in group))
    return group


async def window(group: list[Client], seconds: float, rate: float | None) -> Stream:
    """The clients post for `seconds`: back to back, or open-loop at `rate` requests/s."""
    result = Stream()
    started = time.time()
    until = started + seconds
    if rate is None:
        await asyncio.gather(*(c.back_to_back(result, until) for c in group))
    else:
        share = rate / len(group)
        await asyncio.gather(*(c.open_loop(result, share, started, until) for c in group))
    result.seconds = time.time() - started
    result.offered = result.sent / seconds
    await asyncio.gather(*(c.http.aclose() for c in group))
    return result


# --------------------------------------------------------------------------------------------
# The loop's progress
# --------------------------------------------------------------------------------------------


class Checkpoints:
    """The projector's checkpoint of the tenant, sampled every `WATCH_EVERY` s while running."""

    def __init__(self) -> None:
        self.samples: list[tuple[tuple[int, int], float]] = []  # (position, first seen at)
        self._stop = asyncio.Event()

    async def watch(self, url: str) -> None:
        async with system_connection(url) as conn:
            while not self._stop.is_set():
                at = await checkpoint(conn)
                if not self.samples or at != self.samples[-1][0]:
                    self.samples.append((at, time.time()))
                await asyncio.sleep(WATCH_EVERY)

    def stop(self) -> None:
        self._stop.set()

    def visible_at(self, position: tuple[int, int]) -> float:
        """When the checkpoint was first seen at or past `position`."""
        found = bisect.bisect_left(self.samples, (position, 0.0))
        if found == len(self.samples):
            raise RuntimeError(f"event {position} was never seen projected")
        return self.samples[found][1]


async def checkpoint(conn: asyncpg.Connection) -> tuple[int, int]:
    row = await conn.fetchrow(
        'SELECT "lastBlock", "lastEventIndex" FROM "ProjectorState" '
        'WHERE "tenantId" = $1 AND "projectorName" = \'main\'',
        TENANT,
    )
    return (row[0], row[1]) if row else (0, -1)


async def settle(url: str, conn: asyncpg.Connection, timeout: float = 300) -> float:
    """Seconds until no command is in flight and the projector has reached the ledger's head."""
    started = time.monotonic()
    async with server.connect(url) as owner:  # schema ledger is the owner's
        while True:
            busy = await conn.fetchval(
                'SELECT count(*) FROM "OutboxCommand" WHERE "tenantId" = $1 '
                "AND status IN ('PENDING', 'LOCKED', 'SUBMITTED')",
                TENANT,
            )
            head = await owner.fetchrow(
                "SELECT block_number, event_index FROM ledger.events WHERE tenant_id = $1 "
                "ORDER BY block_number DESC, event_index DESC LIMIT 1",
                TENANT,
            )
            if not busy and await checkpoint(conn) >= (head[0], head[1]):
                return time.monotonic() - started
            if time.monotonic() - started > timeout:
                raise RuntimeError(f"not settled after {timeout} s: {busy} commands in flight")
            await asyncio.sleep(0.05)


# Each command with its transfer's last event in EventLog (NULL until projected).
_COMMANDS = """
SELECT o.id, o.status::text AS status, o."lockedAt" AS claimed, e."blockNumber" AS block,
       e."eventIndex" AS index, e."txTimestamp" AS block_time,
       EXISTS (SELECT FROM "TransferHold" h WHERE h."commandId" = o.id) AS held
FROM "OutboxCommand" o
LEFT JOIN LATERAL (
    SELECT "blockNumber", "eventIndex", "txTimestamp" FROM "EventLog"
    WHERE "tenantId" = o."tenantId" AND "fabricTxId" = o."fabricTxId"
    ORDER BY "blockNumber" DESC, "eventIndex" DESC LIMIT 1
) e ON true
WHERE o.id = ANY($1::text[])
"""

# Wallets whose balance, or balance less their live holds (as `gxcore.wallet.holds` counts
# them: not yet projected, command not FAILED), is negative.
_NEGATIVE = """
SELECT count(*) FROM "Wallet" w WHERE w."tenantId" = $1 AND (w."cachedBalance" < 0
    OR w."cachedBalance" < COALESCE((SELECT sum(h.amount + h.fee) FROM "TransferHold" h
        WHERE h."tenantId" = w."tenantId" AND h."walletId" = w."walletId"
        AND NOT EXISTS (SELECT FROM "OutboxCommand" o WHERE o.id = h."commandId"
                        AND o.status = 'FAILED')
        AND NOT EXISTS (SELECT FROM "EventLog" e WHERE e."fabricTxId" = h."txId"
                        AND e."tenantId" = h."tenantId")), 0))
"""


async def wallets_total(conn: asyncpg.Connection) -> Decimal:
    total = await conn.fetchval(
        'SELECT sum("cachedBalance") FROM "Wallet" WHERE "tenantId" = $1', TENANT
    )
    assert isinstance(total, Decimal)
    return total


async def commands(conn: asyncpg.Connection, ids: list[str]) -> dict[str, asyncpg.Record]:
    rows = {r["id"]: r for r in await conn.fetch(_COMMANDS, ids)}
    missing = len(ids) - len(rows)
    assert not missing, f"{missing} accepted requests have no outbox command"
    return rows


async def check(conn: asyncpg.Connection, ids: list[str], genesis: Decimal, settled: bool) -> str:
    """The invariants after a window (settled: after the relay and the projector caught up)."""
    rows = (await commands(conn, ids)).values()
    negative = await conn.fetchval(_NEGATIVE, TENANT)
    assert negative == 0, f"{negative} wallets with a negative balance or available balance"
    total = await wallets_total(conn)
    fees = await conn.fetchval(
        'SELECT COALESCE(sum(fee), 0) FROM "Transaction" WHERE "tenantId" = $1 AND type = \'SENT\'',
        TENANT,
    )
    statuses = Counter(r["status"] for r in rows)
    if not settled:
        unheld = sum(not r["held"] for r in rows)
        relayed = sum(statuses[s] for s in RELAYED)
        assert not unheld, f"{unheld} accepted requests without their hold"
        assert not relayed, f"{relayed} accepted requests relayed with no relay running"
        assert total == genesis, f"wallets total {total} moved from {genesis} with no relay"
        return (
            f"{len(ids)} accepted, each held and not relayed ({_counts(statuses)}); no balance or "
            f"available balance negative; wallets total {total:,f} unchanged"
        )
    projected = [r for r in rows if r["status"] == "COMMITTED" and r["block"] is not None]
    kept = Counter(r["status"] for r in rows if r["held"] and r["status"] != "COMMITTED")
    lost = len(ids) - len(projected) - kept.total()
    assert not lost, f"{lost} accepted requests neither projected nor holding their money"
    assert total + fees == genesis, f"wallets {total} + fees {fees} != genesis {genesis}"
    others = f", {_counts(kept)} not projected, holding their money" if kept else ""
    return (
        f"{len(ids)} accepted: {len(projected)} committed and projected{others}; no balance or "
        f"available balance negative; wallets {total:,f} + fees {fees:,f} = genesis {genesis:,f}"
    )


def _counts(statuses: Counter[str]) -> str:
    return ", ".join(f"{n} {status}" for status, n in statuses.most_common())


@dataclass
class Latency:
    """Per accepted transfer, from its request to each step: p50, p99, max (ms)."""

    steps: dict[str, tuple[float, float, float]]
    measured: int


async def latency(conn: asyncpg.Connection, accepted: Stream, seen: Checkpoints) -> Latency:
    rows = await commands(conn, accepted.ids)
    steps: dict[str, list[float]] = {
        "HTTP answer": [], "relay's claim": [], "ledger block": [], "visible (projected)": []
    }  # fmt: skip
    for command_id, asked, answered in accepted.accepted:
        r = rows[command_id]
        if r["block"] is None:  # not projected (FAILED, say)
            continue
        steps["HTTP answer"].append(answered - asked)
        steps["relay's claim"].append(r["claimed"].timestamp() - asked)
        steps["ledger block"].append(r["block_time"].timestamp() - asked)
        steps["visible (projected)"].append(seen.visible_at((r["block"], r["index"])) - asked)
    return Latency(
        {name: quantiles_ms(values) for name, values in steps.items()},
        len(steps["visible (projected)"]),
    )


# --------------------------------------------------------------------------------------------
# CPU
# --------------------------------------------------------------------------------------------


class Cpu:
    """CPU seconds of the processes measured; PostgreSQL's with every backend."""

    def __init__(self, processes: dict[str, int], postmaster: int | None) -> None:
        self.processes, self.postmaster = processes, postmaster

    def read(self) -> dict[str, float]:
        # With their children: `gx api --workers N` serves from N child processes.
        seconds = {name: cpu_seconds(pid, children=True) for name, pid in self.processes.items()}
        if self.postmaster is not None:
            seconds["PostgreSQL"] = cpu_seconds(self.postmaster, children=True)
        seconds["this client"] = time.process_time()
        return seconds

    @staticmethod
    def describe(before: dict[str, float], after: dict[str, float], s: Stream) -> str:
        parts = []
        for name, end in after.items():
            used = end - before[name]
            per = used / max(len(s.accepted), 1) * 1000
            parts.append(f"{name} {per:.2f} ms ({used / s.seconds:.0%} of a core)")
        return "CPU per accepted transfer: " + ", ".join(parts)


# --------------------------------------------------------------------------------------------
# The run
# --------------------------------------------------------------------------------------------


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=20, help="length of (a) and of (b)")
    parser.add_argument("--rate", type=float, help="(b) open-loop at this many requests/s")
    parser.add_argument("--ledger-seconds", type=float, default=5, help="per block size in (c)")
    parser.add_argument("--profile", nargs="?", const="api", choices=["api", "all"])
    parser.add_argument("--api-workers", type=int, default=1, help="`gx api --workers`")
    args = parser.parse_args()
    senders = args.clients * SENDERS_PER_CLIENT
    if args.users < 2 * senders + 1:
        parser.error(f"--users must be at least {2 * senders + 1} for {args.clients} clients")

    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    with tempfile.TemporaryDirectory(prefix="gx-bench-") as work:  # the API's keys, profiles
        await run(args, Path(work))


async def run(args: argparse.Namespace, work: Path) -> None:
    senders = args.clients * SENDERS_PER_CLIENT
    profiles = {
        name: work / f"{name}.prof"
        for name in ("api", "relay", "projector")
        if args.profile == "all" or (args.profile == "api" and name == "api")
    }
    async with migrated_database() as url, system_connection(url) as conn:
        started = time.perf_counter()
        await setup(url, args.users)
        genesis = await wallets_total(conn)
        print(f"setup: {args.users} funded wallets in {time.perf_counter() - started:.1f} s")
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        api = GxProcess(url, "api", "--port", str(port), "--data-dir", str(work),
                        "--workers", str(args.api_workers),
                        profile=profiles.get("api"), env={"GX_ENVIRONMENT": "test"})  # fmt: skip
        postmaster = await postmaster_pid(url)
        try:
            await api.wait_for("Uvicorn running on")
            # With --workers the socket is bound before the workers start to accept.
            while api.log.read_text().count("Application startup complete") < args.api_workers:
                await api.wait_for("Application startup complete")
                await asyncio.sleep(0.05)
            clients = await signed_in(base, args.clients, 0, args.users)
            cpu = Cpu({"API": api.pid}, postmaster)
            before = cpu.read()
            api.profile_start()
            a = await window(clients, args.seconds, None)
            used = cpu.read()
            await api.profile_stop()
            print(f"(a) accepted over HTTP, gx api only, {args.clients} clients back to back: "
                  f"{a.describe()}")  # fmt: skip
            print(f"    {Cpu.describe(before, used, a)}")
            print(f"    invariants: {await check(conn, a.ids, genesis, settled=False)}")

            relay = GxProcess(url, "relay", profile=profiles.get("relay"))
            projector = GxProcess(url, "projector", "run", profile=profiles.get("projector"))
            try:
                await relay.wait_for("started")
                print(
                    f"(b) (a)'s backlog delivered and projected in {await settle(url, conn):.1f} s"
                )
                clients = await signed_in(base, args.clients, senders, args.users)
                seen = Checkpoints()
                watcher = asyncio.create_task(seen.watch(url))
                cpu = Cpu({"API": api.pid, "relay": relay.pid, "projector": projector.pid},
                          postmaster)  # fmt: skip
                before = cpu.read()
                for worker in relay, projector:
                    worker.profile_start()
                b = await window(clients, args.seconds, args.rate)
                used = cpu.read()
                drained = await settle(url, conn)
                for worker in relay, projector:
                    await worker.profile_stop()
                await asyncio.sleep(2 * WATCH_EVERY)
                seen.stop()
                await watcher
            finally:
                relay.stop()
                projector.stop()
        finally:
            api.stop(signal.SIGINT)
        how = f"open-loop at {args.rate:,.0f}/s" if args.rate else "back to back"
        print(f"(b) gx api + gx relay + gx projector run, {args.clients} clients {how}: "
              f"offered {b.offered:,.0f}/s, accepted {b.describe()}; settled {drained:.1f} s "
              f"after the window")  # fmt: skip
        print(f"    {Cpu.describe(before, used, b)}")
        lat = await latency(conn, b, seen)
        print(f"    from the request to (p50 / p99 / max, {lat.measured} transfers):")
        for step, (p50, p99, top) in lat.steps.items():
            print(f"      {step:20s} {p50:8.1f} {p99:8.1f} {top:8.1f} ms")
        print(f"    invariants: {await check(conn, a.ids + b.ids, genesis, settled=True)}")

        stages = [await block_stage(url, size, args.ledger_seconds, 2) for size in (1, 200)]
        tps = await asyncio.to_thread(pgbench_tps, url)

    for stage in stages:
        print(f"(c) {stage.line(tps)}")
    if tps is None:
        print("pgbench not found: no baseline")
    summary(a, b, lat, stages, tps)
    # The API is sampled in (a)'s window, the workers in (b)'s until settled.
    for name, path in profiles.items():
        print_profile(path, name, a.sent if name == "api" else len(b.accepted))


def summary(a: Stream, b: Stream, lat: Latency, stages: list[Blocks], tps: float | None) -> None:
    def ratio(rate: float) -> str:
        return f"{rate / tps:.2f}x" if tps else "-"

    if tps:
        print(f"pgbench TPC-B (-c 8 -j 2 -s 8) on the same server: {tps:,.0f} tps")
    p50, p99, _ = lat.steps["visible (projected)"]
    offered = b.offered
    if offered >= TARGET_RATE:
        verdict = "met" if p99 < TARGET_P99_MS else "MISSED"
    else:
        within = "within" if p99 < TARGET_P99_MS else "over"
        verdict = f"not shown: only {offered:,.0f}/s offered, p99 {within} the bound at that rate"
    print(f"{'measure':44s} {'value':>14s} {'x pgbench':>10s}  target")
    print(f"{'(a) transfers accepted over HTTP':44s} {f'{a.rate:,.0f}/s':>14s} "
          f"{ratio(a.rate):>10s}")  # fmt: skip
    print(f"{'(b) accepted with relay and projector':44s} {f'{b.rate:,.0f}/s':>14s} "
          f"{ratio(b.rate):>10s}")  # fmt: skip
    print(f"{f'(b) request to projected, p50 at {offered:,.0f}/s':44s} "
          f"{f'{p50:.0f} ms':>14s}")  # fmt: skip
    print(f"{'(b) request to projected, p99':44s} {f'{p99:.0f} ms':>14s} {'':>10s}  "
          f"< {TARGET_P99_MS:g} ms at {TARGET_RATE:,.0f}/s offered: {verdict}")  # fmt: skip
    for stage in stages:
        print(f"{f'(c) ledger, blocks of {stage.size}':44s} "
              f"{f'{stage.rate:,.0f}/s':>14s} {ratio(stage.rate):>10s}")  # fmt: skip
    print_gain(stages)


if __name__ == "__main__":
    asyncio.run(main())
