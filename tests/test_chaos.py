"""Chaos: relays and the projector killed at random while thousands of commands flow.

Two `gx relay` processes and one `gx projector run` work on a private database with the
embedded ledger's fault switch on (a fifth of the submits fail after doing their work, each one
delayed). The test enqueues random commands over time while a killer sends SIGKILL to a random
process every 0.2-1.5 s and restarts it. Once everything has drained, each invariant of the
CQRS loop is checked on its own (`tests.cqrs_end_state`): every command ended COMMITTED or
FAILED and matches exactly one ledger transaction, `EventLog` holds each ledger event once,
every wallet equals its ledger account and its history, nothing is negative, supply is
conserved. A second test shows that those checks catch each kind of damage.

Everything random comes from one seed, printed at the start (`GX_CHAOS_SEED=<n>` reruns it):
the commands, the kill schedule and the ledger's fault draws; process timing still varies.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import suppress
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import inspect, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from gxcore.cqrs.models import OutboxCommand
from gxcore.cqrs.outbox import enqueue
from gxcore.cqrs.projector import Projector
from gxcore.cqrs.relay import Relay, RelayConfig
from gxcore.db.tenancy import Database
from gxcore.enums import CommandType, OffChainTxType, OutboxStatus, UserProfileStatus
from gxcore.identity.models import UserProfile
from gxcore.ledger import EmbeddedLedger
from gxcore.ledger.rows import FEE_POOL
from tests import cqrs_end_state as end
from tests.conftest import ROLE_KEY
from tests.factories import make

C, S = CommandType, OutboxStatus
TENANTS = 3
USERS = 16  # per tenant
CHAOS_COMMANDS = 2_000
GENESIS_SUPPLY, LOAN_POOL_SUPPLY = Decimal(1_000_000), Decimal(5_000)
SUPPLY = GENESIS_SUPPLY + LOAN_POOL_SUPPLY
FAULTS = {"GX_LEDGER_FAULT_RATE": "0.2", "GX_LEDGER_FAULT_DELAY_MS": "20"}
# Small batches: more blocks, so more kills land between a claim and its record. Attempts are
# generous: a kill after the claim counts one, and giving up is not what this test is about.
# A short lease and backoff: a killed relay's claims are taken over, and retries come, within
# seconds.
RELAY = ("relay", "--batch", "100", "--poll-interval", "0.2", "--max-attempts", "50",
         "--lease", "2", "--backoff-max", "1")  # fmt: skip
PROJECTOR = ("projector", "run", "--batch", "100")
# What the random traffic may be refused with; any other failure is a bug.
REJECTIONS = {
    "INSUFFICIENT_FUNDS",
    "ACCOUNT_FROZEN",
    "SELF_TRANSFER",
    "ALREADY_FROZEN",
    "NOT_FROZEN",
}
IN_FLIGHT = (S.PENDING, S.LOCKED, S.SUBMITTED)
SETTLE_TIMEOUT = DRAIN_TIMEOUT = 60.0


# --------------------------------------------------------------------------------------------
# The processes under chaos
# --------------------------------------------------------------------------------------------


@dataclass
class Member:
    name: str
    args: tuple[str, ...]
    proc: subprocess.Popen[bytes] | None = None
    logs: list[Path] = field(default_factory=list)
    kills: int = 0

    @property
    def is_relay(self) -> bool:
        return self.args[0] == "relay"


class Fleet:
    """Two relays and a projector as `gx` subprocesses, one log file per incarnation."""

    def __init__(self, url: str, db: Database, logs: Path, rng: random.Random) -> None:
        self.url, self.db, self.dir, self.rng = url, db, logs, rng
        self.members = [Member("relay-a", RELAY), Member("relay-b", RELAY)]
        self.members.append(Member("projector", PROJECTOR))
        self.taken_over = 0  # commands a killed relay held, handed to the others

    def start(self, member: Member) -> None:
        log = self.dir / f"{member.name}-{len(member.logs)}.log"
        member.logs.append(log)
        env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "GX_DATABASE_URL")}
        env.update(
            FAULTS, DATABASE_URL=self.url, GX_LEDGER_FAULT_SEED=str(self.rng.getrandbits(31))
        )
        with log.open("wb") as out:
            member.proc = subprocess.Popen(
                [sys.executable, "-m", "gxcore", *member.args],
                stdout=out, stderr=subprocess.STDOUT, env=env,
            )  # fmt: skip

    def start_all(self) -> None:
        for member in self.members:
            self.start(member)

    async def kill_and_restart(self, member: Member, *, mid_batch: bool = False) -> None:
        """SIGKILL, then a new incarnation. `mid_batch` (relays): once it holds a claim."""
        assert member.proc is not None
        if mid_batch:
            await holding_leases(self.db, member.proc.pid)
        member.proc.send_signal(signal.SIGKILL)
        await asyncio.to_thread(member.proc.wait)
        member.kills += 1
        if member.is_relay:
            self.taken_over += await leases_held(self.db, member.proc.pid)
        self.start(member)

    async def relays_started(self) -> None:
        """Wait until each relay runs its loop (it catches SIGTERM from then on)."""
        deadline = time.monotonic() + SETTLE_TIMEOUT
        for m in self.members:
            while m.is_relay and "started" not in m.logs[-1].read_text(errors="replace"):
                self.check_alive()
                assert time.monotonic() < deadline, f"{m.name} did not start:\n{self.logs()}"
                await asyncio.sleep(0.1)

    def check_alive(self) -> None:
        """Only the killer ends a process: one that exited by itself crashed."""
        for m in self.members:
            assert m.proc is not None
            if m.proc.poll() is not None:
                pytest.fail(f"{m.name} exited by itself ({m.proc.returncode}):\n{tail(m.logs[-1])}")

    async def stop(self) -> dict[str, int | None]:
        """SIGTERM to each; their exit codes (None: still running after 60 s, then killed)."""
        codes: dict[str, int | None] = {}
        for m in self.members:
            if m.proc is not None and m.proc.poll() is None:
                m.proc.send_signal(signal.SIGTERM)
        for m in self.members:
            if m.proc is None:
                continue
            try:
                codes[m.name] = await asyncio.to_thread(m.proc.wait, 60)
            except subprocess.TimeoutExpired:
                m.proc.kill()
                codes[m.name] = None
        return codes

    def logs(self) -> str:
        return "\n".join(f"--- {m.name} ---\n{tail(m.logs[-1])}" for m in self.members if m.logs)


def tail(log: Path, lines: int = 15) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


def worker_of(pid: int) -> str:
    """LIKE pattern of a relay process's worker ids (`gxcore.cqrs.relay.new_worker_id`)."""
    return f"{socket.gethostname()}:{pid}:%"


async def holding_leases(db: Database, pid: int, timeout: float = 3.0) -> None:
    """Return once the relay process holds claimed commands (or after `timeout`)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        async with db.system(reason="chaos test: is the relay mid-batch") as session:
            held = await session.scalar(
                text('SELECT EXISTS (SELECT FROM "OutboxCommand" WHERE status = \'LOCKED\' '
                     'AND "lockedBy" LIKE :worker)'),
                {"worker": worker_of(pid)},
            )  # fmt: skip
        if held:
            return
        await asyncio.sleep(0.005)


async def leases_held(db: Database, pid: int) -> int:
    """Commands a (dead) relay process still holds: another worker takes them over once their
    lease ends."""
    async with db.system(reason="chaos test: a killed relay's leases") as session:
        held = await session.scalar(
            text(
                'SELECT count(*) FROM "OutboxCommand" '
                "WHERE status IN ('LOCKED', 'SUBMITTED') AND \"lockedBy\" LIKE :worker"
            ),
            {"worker": worker_of(pid)},
        )
    return int(held or 0)


# --------------------------------------------------------------------------------------------
# Commands
# --------------------------------------------------------------------------------------------

Spec = tuple[CommandType, str, dict[str, Any]]  # type, request id, payload


async def put(db: Database, tenant: str, specs: list[Spec]) -> None:
    """Enqueue commands in one transaction of the tenant, as a service would."""
    async with db.tenant(tenant) as session:
        for kind, request_id, payload in specs:
            await enqueue(
                session, service="chaos", command_type=kind, request_id=request_id, payload=payload
            )


async def outbox(db: Database) -> list[OutboxCommand]:
    async with db.system(reason="chaos test: read the outbox") as session:
        return list((await session.scalars(select(OutboxCommand))).all())


def describe(commands: list[OutboxCommand], limit: int = 10) -> str:
    return "\n".join(
        f"  {c.tenant_id} {c.request_id} {c.command_type.value} {c.status.value} "
        f"attempts={c.attempts} error={c.error_code} next={c.next_attempt_at:%H:%M:%S.%f} "
        f"lockedBy={c.locked_by}"
        for c in commands[:limit]
    )


async def all_committed(db: Database, step: str) -> None:
    failed = [c for c in await outbox(db) if c.status is not S.COMMITTED]
    assert not failed, f"{step}: setup commands did not commit:\n{describe(failed)}"


async def approved_profile(session: AsyncSession, tenant: str) -> UserProfile:
    """A profile as identity's review leaves it: approved, waiting for its ledger account."""
    status = UserProfileStatus.APPROVED_PENDING_ONCHAIN
    return await make(session, UserProfile, tenant, status=status)  # type: ignore[no-any-return]


def create_user(account: str, profile: UserProfile) -> Spec:
    payload = {"userId": account, "profileId": profile.profile_id,
               "biometricHash": profile.biometric_hash, "nationality": "NG", "age": 30}  # fmt: skip
    return C.CREATE_USER, f"create-{account}", payload


Settle = Callable[[str], Awaitable[None]]  # waits until the step's commands are delivered


async def populate(
    db: Database, tenants: list[str], users: int, settle: Settle
) -> dict[str, list[str]]:
    """Bootstrap each tenant, register `users` approved profiles, open their accounts, give
    them the genesis allocation; each step once the one it depends on has committed (the
    relay does not order commands across batches). Returns tenant -> account ids."""
    supply = {"genesisSupply": str(GENESIS_SUPPLY), "loanPoolSupply": str(LOAN_POOL_SUPPLY)}
    for t in tenants:
        await put(db, t, [(C.BOOTSTRAP_SYSTEM, "boot", supply)])
    await settle("BOOTSTRAP_SYSTEM")

    accounts = {t: [f"user-{i:02d}" for i in range(users)] for t in tenants}
    creates: dict[str, list[Spec]] = defaultdict(list)
    async with db.system(reason="chaos test: approved profiles") as session:
        for t in tenants:
            for account in accounts[t]:
                creates[t].append(create_user(account, await approved_profile(session, t)))
    for t in tenants:
        await put(db, t, creates[t])
    await settle("CREATE_USER")

    for t in tenants:
        await put(db, t, [(C.DISTRIBUTE_GENESIS, f"genesis-{a}", {"userId": a})
                          for a in accounts[t]])  # fmt: skip
    await settle("DISTRIBUTE_GENESIS")
    return accounts


async def late_user(db: Database, tenant: str, account: str) -> None:
    async with db.system(reason="chaos test: a late profile") as session:
        profile = await approved_profile(session, tenant)
    await put(db, tenant, [create_user(account, profile)])


class Traffic:
    """Random commands among a tenant's users: mostly transfers with amounts of up to 9
    places, some beyond any balance, self-transfers, freezes and unfreezes."""

    def __init__(self, rng: random.Random, accounts: dict[str, list[str]]) -> None:
        self.rng = rng
        self.accounts = accounts
        # Accounts a freeze was sent for and no unfreeze yet: unfreezes go mostly to them, so
        # few accounts stay frozen and most transfers can commit.
        self.frozen: dict[str, set[str]] = defaultdict(set)
        self.sent = 0

    def amount(self, top: int) -> str:
        return str(Decimal(self.rng.randint(1, top * 10**9)).scaleb(-9))

    def next(self, tenant: str) -> Spec:
        rng, users, frozen = self.rng, self.accounts[tenant], self.frozen[tenant]
        self.sent += 1
        request_id = f"chaos-{self.sent}"
        roll = rng.random()
        if roll < 0.02:
            account = rng.choice(users)
            frozen.add(account)
            return C.FREEZE_WALLET, request_id, {"accountId": account, "reason": "chaos"}
        if roll < 0.06:
            account = rng.choice(sorted(frozen) or users)
            frozen.discard(account)
            return C.UNFREEZE_WALLET, request_id, {"accountId": account}
        sender, receiver = rng.sample(users, 2)
        if roll < 0.08:
            receiver = sender  # SELF_TRANSFER
        amount = self.amount(40)
        if roll < 0.16:
            amount = str(Decimal(10_000) + Decimal(self.amount(90_000)))  # beyond any balance
        payload = {"senderId": sender, "receiverId": receiver, "amount": amount}
        return C.TRANSFER_TOKENS, request_id, payload

    def batch(self, tenant: str, size: int) -> list[Spec]:
        return [self.next(tenant) for _ in range(size)]


async def produce(db: Database, traffic: Traffic, tenants: list[str], rng: random.Random) -> None:
    """Enqueue CHAOS_COMMANDS commands over time, in transactions of 20-80 for one tenant."""
    while traffic.sent < CHAOS_COMMANDS:
        tenant = rng.choice(tenants)
        await put(db, tenant, traffic.batch(tenant, rng.randint(20, 80)))
        await asyncio.sleep(rng.uniform(0.05, 0.4))


async def kill_at_random(fleet: Fleet, rng: random.Random, done: asyncio.Event) -> None:
    """Until `done`: every 0.2-1.5 s, SIGKILL and restart a process. Victims come in rounds of
    a random order, so each process dies about as often; every other kill of a relay (its
    first included) waits until it holds a claim, so some commands must be taken over."""
    victims: list[Member] = []
    while True:
        with suppress(TimeoutError):
            await asyncio.wait_for(done.wait(), rng.uniform(0.2, 1.5))
        if done.is_set():
            return
        fleet.check_alive()
        victims = victims or rng.sample(fleet.members, len(fleet.members))
        member = victims.pop()
        await fleet.kill_and_restart(member, mid_batch=member.is_relay and member.kills % 2 == 0)


async def drain(db: Database, url: str, fleet: Fleet, tenants: list[str]) -> None:
    """Wait until no command is in flight and the projector has caught up with every tenant."""
    deadline = time.monotonic() + DRAIN_TIMEOUT
    while True:
        fleet.check_alive()
        stuck = [c for c in await outbox(db) if c.status in IN_FLIGHT]
        heads = await end.ledger_heads(url, tenants)
        at = await end.projected_to(db, tenants)
        behind = {t: (at.get(t), head) for t, head in heads.items() if at.get(t) != head}
        if not stuck and not behind:
            return
        if time.monotonic() > deadline:
            pytest.fail(
                f"not drained after {DRAIN_TIMEOUT:g}s: {len(stuck)} command(s) in flight\n"
                f"{describe(stuck)}\nprojector behind (checkpoint, ledger head): {behind}\n"
                f"{fleet.logs()}"
            )
        await asyncio.sleep(0.2)


# --------------------------------------------------------------------------------------------
# The tests
# --------------------------------------------------------------------------------------------


@pytest.fixture
async def cdb(scratch_url: str) -> AsyncIterator[Database]:
    database = Database.connect(scratch_url, role_key=ROLE_KEY)
    yield database
    await database.dispose()


@pytest.mark.timeout(240)
async def test_killed_relays_and_projector_lose_nothing_and_apply_nothing_twice(
    scratch_url: str, cdb: Database, tenant: str, tmp_path: Path
) -> None:
    seed = int(os.environ.get("GX_CHAOS_SEED") or random.SystemRandom().getrandbits(32))
    print(f"chaos seed: {seed} (rerun with GX_CHAOS_SEED={seed})")
    db, url = cdb, scratch_url
    tenants = [f"{tenant}-{k}" for k in range(TENANTS)]
    fleet = Fleet(url, db, tmp_path, random.Random(f"{seed}:faults"))

    async def settle(step: str) -> None:
        deadline = time.monotonic() + SETTLE_TIMEOUT
        while stuck := [c for c in await outbox(db) if c.status in IN_FLIGHT]:
            fleet.check_alive()
            if time.monotonic() > deadline:
                pytest.fail(f"{step}: {len(stuck)} command(s) still in flight after "
                            f"{SETTLE_TIMEOUT:g}s:\n{describe(stuck)}\n{fleet.logs()}")  # fmt: skip
            await asyncio.sleep(0.1)
        await all_committed(db, step)

    fleet.start_all()
    try:
        accounts = await populate(db, tenants, USERS, settle)
        traffic = Traffic(random.Random(f"{seed}:traffic"), accounts)
        done = asyncio.Event()
        killer = asyncio.create_task(kill_at_random(fleet, random.Random(f"{seed}:kills"), done))
        try:
            await produce(db, traffic, tenants, random.Random(f"{seed}:pace"))
        finally:
            done.set()
            await killer
        # A last command once the kills are over: the projector that applies it is the one
        # running now, so it is past its start and stops cleanly on SIGTERM, like the relays.
        await fleet.relays_started()
        await late_user(db, tenants[0], "user-late")
        await drain(db, url, fleet, tenants)
    finally:
        codes = await fleet.stop()
    kills = {m.name: m.kills for m in fleet.members}
    state = await end.read_end_state(db, url, tenants)
    retried = sum(c.attempts > 1 for c in state.commands)
    print(f"{len(state.commands)} commands, {retried} retried; kills {kills}; "
          f"{fleet.taken_over} commands taken over from killed relays")  # fmt: skip
    assert codes == {m.name: 0 for m in fleet.members}, f"unclean stop {codes}\n{fleet.logs()}"
    assert all(kills.values()), f"every process must have been killed at least once: {kills}"
    assert retried > 0, "no command needed a second attempt: the chaos did not happen"
    assert fleet.taken_over > 0, "no relay was killed with a claim in hand"
    assert traffic.sent >= CHAOS_COMMANDS
    end.check_all(state, supply=SUPPLY, rejections=REJECTIONS)
    failed = [c.error_code for c in state.commands if c.status is S.FAILED]
    assert "INSUFFICIENT_FUNDS" in failed, "no transfer beyond a balance was refused"


def altered(row: Any, **changes: Any) -> Any:
    """A copy of a result row, ORM object or ledger record, with some fields changed."""
    if hasattr(row, "_mapping"):
        return SimpleNamespace(**{**row._mapping, **changes})
    if hasattr(row, "keys"):  # a ledger record: read by key
        return {**dict(row), **changes}
    values = {a.key: getattr(row, a.key) for a in inspect(row).mapper.column_attrs}
    return SimpleNamespace(**{**values, **changes})


async def test_the_end_state_checks_catch_each_kind_of_damage(
    scratch_url: str, cdb: Database, tenant: str
) -> None:
    """The same pipeline in one process without chaos passes every check; each check fails
    when its invariant is broken in a copy of that end state."""
    db, tenants = cdb, [f"{tenant}-a", f"{tenant}-b"]
    async with await EmbeddedLedger.open(scratch_url) as ledger:
        relay = Relay(db, ledger, RelayConfig(listen=False))

        async def settle(step: str) -> None:
            await relay.drain()
            await all_committed(db, step)

        accounts = await populate(db, tenants, 6, settle)
        traffic = Traffic(random.Random(7), accounts)
        for k in range(6):
            await put(db, tenants[k % 2], traffic.batch(tenants[k % 2], 50))
        await relay.drain()
        await Projector(db, ledger).run(once=True)
    s = await end.read_end_state(db, scratch_url, tenants)
    end.check_all(s, supply=SUPPLY, rejections=REJECTIONS)

    def broken(**changes: Any) -> end.EndState:
        return dataclasses.replace(s, **changes)

    committed = next(i for i, c in enumerate(s.commands) if c.status is S.COMMITTED)
    failed = next(i for i, c in enumerate(s.commands) if c.status is S.FAILED)
    sent = next(i for i, e in enumerate(s.entries) if e.type is OffChainTxType.SENT)
    pool = next(i for i, r in enumerate(s.accounts) if r["account_id"] == FEE_POOL)
    active, frozen = UserProfileStatus.ACTIVE, UserProfileStatus.FROZEN
    other = frozen if s.profiles[0].status is active else active

    def replaced(rows: list[Any], i: int, **changes: Any) -> list[Any]:
        return [*rows[:i], altered(rows[i], **changes), *rows[i + 1 :]]

    cases: list[tuple[Callable[[end.EndState], None], end.EndState, str]] = [
        (end.check_commands_final,
         broken(commands=replaced(s.commands, committed, status=S.LOCKED)), "not final"),
        (end.check_ledger_holds_each_command_once,
         broken(txs=[*s.txs, s.txs[-1]]), "held twice"),
        (end.check_ledger_holds_each_command_once,
         broken(commands=s.commands[1:]), "without a command"),
        (end.check_committed_on_the_ledger,
         broken(commands=replaced(s.commands, committed, commit_block=10**6)), "as committed"),
        (lambda st: end.check_failed_rejected_on_the_ledger(st, REJECTIONS),
         broken(commands=replaced(s.commands, failed, error_code="LEDGER_UNAVAILABLE")),
         "other than"),
        (end.check_event_log, broken(logged=s.logged[:-1]), "not in EventLog"),
        (end.check_event_log, broken(logged=[*s.logged, s.logged[0]]), "logged twice"),
        (end.check_event_log, broken(dead=[("t", "UNKNOWN_PROFILE")]), "DLQ"),
        (end.check_wallets,
         broken(wallets=replaced(s.wallets, 0, cached_balance=s.wallets[0].cached_balance
                                 + Decimal("0.000000001"))), "differ"),
        (end.check_wallets, broken(entries=[*s.entries[:sent], *s.entries[sent + 1 :]]),
         "differ"),
        (end.check_no_negative_balance,
         broken(wallets=replaced(s.wallets, 0, cached_balance=Decimal(-1))), "negative"),
        (end.check_profiles, broken(profiles=replaced(s.profiles, 0, status=other)), "frozen"),
        (lambda st: end.check_supply(st, SUPPLY),
         broken(accounts=replaced(s.accounts, pool, balance=s.accounts[pool]["balance"] + 1)),
         "total supply"),
    ]  # fmt: skip
    for check, state, message in cases:
        with pytest.raises(AssertionError, match=message):
            check(state)
