"""The outbox relay and its operator tooling: every command delivered once, failures handled.

Each test gets a private database (`scratch_url`): a relay claims due commands of every tenant,
so a shared database would let it deliver other tests' commands.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text
from typer.testing import CliRunner

from gxcore.cli import app as gx_app
from gxcore.cqrs import operator
from gxcore.cqrs.models import OutboxCommand
from gxcore.cqrs.outbox import enqueue
from gxcore.cqrs.projection import Batch
from gxcore.cqrs.registry import PROJECTIONS
from gxcore.cqrs.relay import Relay, RelayConfig, backoff_seconds
from gxcore.db import pages
from gxcore.db.tenancy import Database
from gxcore.enums import CommandType, OutboxStatus
from gxcore.errors import InvalidTransition, LedgerUnavailable, ValidationFailed
from gxcore.ledger import EmbeddedLedger
from gxcore.ledger.port import Command, LedgerEvent, Outcome, OutcomeStatus, Position
from gxcore.ledger.state import tx_id_of
from tests.conftest import ROLE_KEY

S = OutboxStatus
FAST = RelayConfig(
    batch_size=10,
    lease_seconds=5,
    submit_timeout=2,
    poll_interval=0.05,
    backoff_base=0.5,
    backoff_max=4,
)


class FakeLedger:
    """A Ledger double that commits, rejects, fails transiently, hangs or breaks on demand.

    Idempotent on (tenant, request id) like the real port; `handed` counts how many times each
    command was handed to it, which is what "never submitted twice" is about.
    """

    def __init__(self) -> None:
        self.outcomes: dict[tuple[str, str], Outcome] = {}
        self.handed: Counter[tuple[str, str]] = Counter()
        self.received: dict[tuple[str, str], Command] = {}
        self.calls: list[int] = []  # batch sizes
        self.reject: dict[str, str] = {}  # request id -> rejection code
        self.unavailable = 0  # the next n calls raise LedgerUnavailable
        self.broken: set[str] = set()  # request ids that make submit raise a bug
        self.delay = 0.0
        self.entered = asyncio.Event()  # set when a submit starts
        self.release: asyncio.Event | None = None  # when set, submit waits for it
        self.block = 0

    async def submit(self, commands: Sequence[Command]) -> list[Outcome]:
        self.calls.append(len(commands))
        self.entered.set()
        if self.release is not None:
            await self.release.wait()
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.unavailable:
            self.unavailable -= 1
            raise LedgerUnavailable("the ledger is down (test)")
        if any(c.request_id in self.broken for c in commands):
            raise RuntimeError("ledger bug (test)")
        self.block += 1
        out = []
        for i, c in enumerate(commands):
            key = (c.tenant_id, c.request_id)
            self.handed[key] += 1
            self.received[key] = c
            if key not in self.outcomes:
                code = self.reject.get(c.request_id)
                self.outcomes[key] = Outcome(
                    tenant_id=c.tenant_id,
                    request_id=c.request_id,
                    tx_id=f"tx-{self.block}-{i}",
                    block_number=self.block,
                    status=OutcomeStatus.REJECTED if code else OutcomeStatus.COMMITTED,
                    code=code,
                    message=f"rejected: {code}" if code else None,
                )
            out.append(self.outcomes[key])
        return out

    async def events_after(
        self, position: Position | None, limit: int = 500, *, tenant_id: str | None = None
    ) -> list[LedgerEvent]:
        return []

    async def height(self) -> int:
        return self.block

    async def close(self) -> None:
        pass


@pytest.fixture
async def rdb(scratch_url: str) -> AsyncIterator[Database]:
    database = Database.connect(scratch_url, role_key=ROLE_KEY)
    yield database
    await database.dispose()


async def put(db: Database, tenant: str, n: int, prefix: str = "r") -> list[str]:
    """Enqueue n CREATE_USER commands in one transaction; returns their ids in order."""
    ids = []
    async with db.tenant(tenant) as session:
        for i in range(n):
            command = await enqueue(
                session,
                service="identity",
                command_type=CommandType.CREATE_USER,
                request_id=f"{prefix}-{i}",
                payload={
                    "userId": f"u-{prefix}-{i}",
                    "biometricHash": f"bio-{prefix}-{i}",
                    "nationality": "NG",
                    "age": 30,
                },
            )
            ids.append(command.id)
    return ids


async def commands(db: Database) -> dict[str, OutboxCommand]:
    async with db.system(reason="test: read the outbox") as session:
        return {c.id: c for c in (await session.scalars(select(OutboxCommand))).all()}


async def make_due(db: Database) -> None:
    """Let time pass: every backed-off command is due now."""
    async with db.system(reason="test: skip the backoff") as session:
        await session.execute(
            text(
                'UPDATE "OutboxCommand" SET "nextAttemptAt" = now() - interval \'1 ms\' '
                "WHERE status = 'PENDING'"
            )
        )


async def wait_for(predicate, timeout: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    """Wait until the async predicate holds; `timeout` only bounds a test that would hang."""
    start = time.perf_counter()
    while not await predicate():
        assert time.perf_counter() - start < timeout, "condition not met in time"
        await asyncio.sleep(0.01)


# --------------------------------------------------------------------------------------------
# Claim, submit, record
# --------------------------------------------------------------------------------------------


async def test_a_batch_is_claimed_submitted_and_recorded_in_one_ledger_call(
    rdb: Database, tenant: str
) -> None:
    ids = await put(rdb, tenant, 5)
    ledger = FakeLedger()
    relay = Relay(rdb, ledger, FAST)
    stats = await relay.drain()

    assert (stats.claimed, stats.committed, stats.failed) == (5, 5, 0)
    assert ledger.calls == [5]  # one block for the whole batch
    sent = ledger.received[(tenant, "r-3")]
    assert sent.command_type is CommandType.CREATE_USER
    assert sent.payload["userId"] == "u-r-3" and sent.payload["age"] == 30
    rows = await commands(rdb)
    for i, command_id in enumerate(ids):
        c = rows[command_id]
        assert c.status is S.COMMITTED and c.attempts == 1
        outcome = ledger.outcomes[(tenant, f"r-{i}")]
        assert (c.fabric_tx_id, c.commit_block) == (outcome.tx_id, outcome.block_number)
        assert c.submitted_at is not None and c.locked_by == relay.worker_id
        assert c.error_code is None and c.error is None


async def test_commands_of_successive_transactions_keep_their_order_in_a_block(
    rdb: Database, tenant: str
) -> None:
    for prefix in ("a", "b", "c"):
        await put(rdb, tenant, 1, prefix=prefix)
        await asyncio.sleep(0.01)  # createdAt has millisecond precision
    ledger = FakeLedger()
    await Relay(rdb, ledger, FAST).drain()
    order = [ledger.outcomes[(tenant, f"{p}-0")].tx_id for p in ("a", "b", "c")]
    assert order == ["tx-1-0", "tx-1-1", "tx-1-2"]


async def test_a_claim_locks_with_a_lease_until_the_outcome_is_recorded(
    rdb: Database, tenant: str
) -> None:
    [command_id] = await put(rdb, tenant, 1)
    ledger = FakeLedger()
    ledger.release = asyncio.Event()
    relay = Relay(rdb, ledger, FAST)
    batch = asyncio.create_task(relay.run_batch())
    await asyncio.wait_for(ledger.entered.wait(), 5)

    c = (await commands(rdb))[command_id]
    assert c.status is S.LOCKED and c.locked_by == relay.worker_id and c.attempts == 1
    assert c.locked_at is not None
    lease = (c.next_attempt_at - c.locked_at).total_seconds()
    assert lease == pytest.approx(FAST.lease_seconds, abs=0.01)
    # Another worker finds nothing to claim while the lease runs.
    assert (await Relay(rdb, FakeLedger(), FAST).run_batch()).claimed == 0

    ledger.release.set()
    assert (await batch).committed == 1
    assert (await commands(rdb))[command_id].status is S.COMMITTED


async def test_commands_are_not_claimed_before_they_are_due(rdb: Database, tenant: str) -> None:
    [command_id] = await put(rdb, tenant, 1)
    async with rdb.system(reason="test: schedule later") as session:
        await session.execute(
            text('UPDATE "OutboxCommand" SET "nextAttemptAt" = now() + interval \'1 hour\'')
        )
    assert (await Relay(rdb, FakeLedger(), FAST).drain()).claimed == 0
    assert (await commands(rdb))[command_id].status is S.PENDING


# --------------------------------------------------------------------------------------------
# Several workers
# --------------------------------------------------------------------------------------------


async def test_two_relays_in_parallel_never_hand_a_command_over_twice(
    scratch_url: str, tenant: str
) -> None:
    first, second = (
        Database.connect(scratch_url, role_key=ROLE_KEY),
        Database.connect(scratch_url, role_key=ROLE_KEY),
    )
    try:
        await put(first, tenant, 200)
        await put(first, f"{tenant}-b", 100, prefix="b")
        ledger = FakeLedger()
        ledger.delay = 0.002  # let the workers interleave
        a, b = Relay(first, ledger, FAST), Relay(second, ledger, FAST)
        await asyncio.gather(a.drain(), b.drain())

        assert a.stats.committed > 0 and b.stats.committed > 0
        assert a.stats.committed + b.stats.committed == 300
        assert len(ledger.handed) == 300 and set(ledger.handed.values()) == {1}
        rows = (await commands(first)).values()
        assert {(c.status, c.attempts) for c in rows} == {(S.COMMITTED, 1)}
        assert {c.locked_by for c in rows} == {a.worker_id, b.worker_id}
    finally:
        await first.dispose()
        await second.dispose()


class CountingLedger(EmbeddedLedger):
    """The embedded ledger, counting how many times each command was handed to it."""

    handed: Counter[tuple[str, str]]

    async def submit(self, commands: Sequence[Command]) -> list[Outcome]:
        if not hasattr(self, "handed"):
            self.handed = Counter()
        self.handed.update((c.tenant_id, c.request_id) for c in commands)
        return await super().submit(commands)


async def test_two_relays_on_the_ledger_with_tenants_committing_side_by_side_submit_once(
    scratch_url: str, tenant: str
) -> None:
    tenants = [tenant, f"{tenant}-b", f"{tenant}-c"]
    first, second = (
        Database.connect(scratch_url, role_key=ROLE_KEY),
        Database.connect(scratch_url, role_key=ROLE_KEY),
    )
    one = await CountingLedger.open(scratch_url)
    two = await CountingLedger.open(scratch_url)
    try:
        for t in tenants:
            await one.submit([Command(t, "boot", CommandType.BOOTSTRAP_SYSTEM, {})])
        for k, t in enumerate(tenants):
            await put(first, t, 60, prefix=f"p{k}")
        small = RelayConfig(batch_size=7, poll_interval=0.01, listen=False)
        a, b = Relay(first, one, small), Relay(second, two, small)
        await asyncio.gather(a.drain(), b.drain())

        assert a.stats.committed > 0 and b.stats.committed > 0
        assert a.stats.committed + b.stats.committed == 180
        handed = one.handed + two.handed
        del handed[(tenants[0], "boot")], handed[(tenants[1], "boot")], handed[(tenants[2], "boot")]
        assert len(handed) == 180 and set(handed.values()) == {1}
        rows = (await commands(first)).values()
        assert {(c.status, c.attempts) for c in rows} == {(S.COMMITTED, 1)}
        events = await one.events_after(None, 100_000)
        for t in tenants:  # each tenant's users, once each, in its order
            created = [e for e in events if e.tenant_id == t and e.name == "UserCreated"]
            assert len({e.payload["userId"] for e in created}) == len(created) == 60
            assert [e.position for e in created] == sorted(e.position for e in created)
    finally:
        await one.close()
        await two.close()
        await first.dispose()
        await second.dispose()


async def test_an_expired_lease_is_taken_over_and_the_old_owner_cannot_overwrite(
    rdb: Database, tenant: str
) -> None:
    ids = await put(rdb, tenant, 3)
    short = RelayConfig(lease_seconds=0.3, submit_timeout=0.2, poll_interval=0.05)
    dead = Relay(rdb, FakeLedger(), short)
    claimed = await dead._claim()  # claims, then "dies" before submitting
    assert len(claimed) == 3

    ledger = FakeLedger()
    heir = Relay(rdb, ledger, short)
    assert (await heir.run_batch()).claimed == 0  # the lease still runs
    await asyncio.sleep(0.35)
    assert (await heir.drain()).committed == 3

    rows = await commands(rdb)
    assert {(rows[i].status, rows[i].locked_by, rows[i].attempts) for i in ids} == {
        (S.COMMITTED, heir.worker_id, 2)
    }
    # The old owner comes back with a stale result: the guard on lockedBy refuses it.
    stale = [dead._transient(c, "LEDGER_UNAVAILABLE", "late") for c in claimed]
    assert await dead._record(stale, datetime.now(UTC), [tenant]) == set()
    assert {c.status for c in (await commands(rdb)).values()} == {S.COMMITTED}


async def _lock_waiters(db: Database) -> int:
    async with db.system(reason="test: who waits on a lock") as session:
        return await session.scalar(
            text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock'"
            )
        )


async def test_the_relay_and_the_projector_recording_the_same_commands_never_deadlock(
    rdb: Database, tenant: str
) -> None:
    # The relay records a batch's outcomes while the projector marks the same commands
    # COMMITTED from their events. Stored in descending id order, the projector finds them
    # opposite to the relay's (id) order. A third transaction holds the first id; once both
    # wait on it, it lets go: locking in one order, one goes first and the other follows; in
    # two orders, each holds what the other waits for (PostgreSQL ends one: deadlock_detected).
    for r in range(3):
        ids = [f"round{r}-{i:03}" for i in range(50, 0, -1)]
        async with rdb.system(reason="test: commands") as session:
            await session.execute(
                text(
                    'INSERT INTO "OutboxCommand" ("id", "tenantId", "service", "commandType", '
                    '"requestId", "payload", "updatedAt") SELECT id, :t, \'test\', '
                    "'PAUSE_SYSTEM', id, '{}', now() FROM unnest(CAST(:ids AS text[])) AS id"
                ),
                {"t": tenant, "ids": ids},
            )
        ledger = FakeLedger()
        ledger.release = asyncio.Event()
        recorded = asyncio.create_task(Relay(rdb, ledger, RelayConfig(batch_size=100)).run_batch())
        await asyncio.wait_for(ledger.entered.wait(), 30)  # all claimed, none recorded yet
        events = [
            LedgerEvent(
                tenant_id=tenant, tx_id=tx_id_of(tenant, command_id), block_number=r + 1,
                event_index=i, name="SystemPaused", timestamp=datetime.now(UTC), payload={},
            )
            for i, command_id in enumerate(ids)
        ]  # fmt: skip

        async def project(events: list[LedgerEvent]) -> None:
            async with rdb.system(reason="test: a projector batch") as session:
                batch = Batch(session, PROJECTIONS)
                for event in events:
                    await batch.project(event)
                await batch.flush()

        async with rdb.system(reason="test: hold the first command") as holder:
            await holder.execute(
                text('SELECT 1 FROM "OutboxCommand" WHERE "id" = :id FOR UPDATE'), {"id": ids[-1]}
            )
            both = asyncio.gather(recorded, project(events), return_exceptions=True)
            ledger.release.set()

            async def both_wait() -> bool:
                return await _lock_waiters(rdb) >= 2

            await wait_for(both_wait, 30)
        outcomes = await both
        assert [o for o in outcomes if isinstance(o, Exception)] == []
        assert {c.status for c in (await commands(rdb)).values()} == {S.COMMITTED}


# --------------------------------------------------------------------------------------------
# Failures
# --------------------------------------------------------------------------------------------


async def test_a_rejection_fails_at_once_with_its_code_and_is_logged(
    rdb: Database, tenant: str, caplog: pytest.LogCaptureFixture
) -> None:
    ids = await put(rdb, tenant, 3)
    ledger = FakeLedger()
    ledger.reject["r-1"] = "USER_EXISTS"
    with caplog.at_level(logging.INFO, logger="gxcore.cqrs.relay"):
        stats = await Relay(rdb, ledger, FAST).drain()
    [line] = [r.getMessage() for r in caplog.records if "rejected" in r.getMessage()]
    assert line.endswith(
        f"command {ids[1]} (CREATE_USER, tenant {tenant}) rejected by the ledger: USER_EXISTS"
    )

    assert (stats.committed, stats.failed, stats.retried) == (2, 1, 0)
    rows = await commands(rdb)
    rejected = rows[ids[1]]
    assert rejected.status is S.FAILED and rejected.attempts == 1
    assert rejected.error_code == "USER_EXISTS" and rejected.error == "rejected: USER_EXISTS"
    assert rejected.fabric_tx_id is not None  # the ledger recorded the rejection too
    assert rows[ids[0]].status is rows[ids[2]].status is S.COMMITTED


async def test_a_transient_failure_backs_off_then_fails_at_the_attempt_limit(
    rdb: Database, tenant: str
) -> None:
    [command_id] = await put(rdb, tenant, 1)
    ledger = FakeLedger()
    ledger.unavailable = 100
    config = RelayConfig(max_attempts=3, backoff_base=2, backoff_max=60, poll_interval=0.05)
    relay = Relay(rdb, ledger, config)

    for attempt in (1, 2):
        stats = await relay.drain()
        assert (stats.claimed, stats.retried) == (attempt, attempt)
        c = (await commands(rdb))[command_id]
        assert c.status is S.PENDING and c.attempts == attempt and c.locked_by is None
        assert c.error_code == "LEDGER_UNAVAILABLE" and "down" in (c.error or "")
        step = 2 * 2 ** (attempt - 1)
        wait = (c.next_attempt_at - c.updated_at).total_seconds()
        assert step / 2 - 0.01 <= wait <= step + 0.01  # equal jitter
        assert (await relay.drain()).claimed == attempt  # not due yet: nothing more claimed
        await make_due(rdb)

    await relay.drain()
    c = (await commands(rdb))[command_id]
    assert c.status is S.FAILED and c.attempts == 3
    assert c.error_code == "LEDGER_UNAVAILABLE" and "gave up after 3 attempts" in (c.error or "")
    assert ledger.handed == Counter()  # the ledger never took it


async def test_a_ledger_that_recovers_commits_the_retried_command(
    rdb: Database, tenant: str
) -> None:
    [command_id] = await put(rdb, tenant, 1)
    ledger = FakeLedger()
    ledger.unavailable = 1
    relay = Relay(rdb, ledger, FAST)
    assert (await relay.drain()).retried == 1
    await make_due(rdb)
    assert (await relay.drain()).committed == 1
    c = (await commands(rdb))[command_id]
    assert (c.status, c.attempts, c.error_code, c.error) == (S.COMMITTED, 2, None, None)


async def test_a_slow_ledger_counts_as_a_transient_failure(rdb: Database, tenant: str) -> None:
    [command_id] = await put(rdb, tenant, 1)
    ledger = FakeLedger()
    ledger.delay = 1.0
    config = RelayConfig(lease_seconds=1, submit_timeout=0.2, poll_interval=0.05)
    assert (await Relay(rdb, ledger, config).run_batch()).retried == 1
    c = (await commands(rdb))[command_id]
    assert c.status is S.PENDING and c.error_code == "LEDGER_TIMEOUT"


async def test_a_ledger_bug_fails_only_the_command_that_causes_it(
    rdb: Database, tenant: str
) -> None:
    ids = await put(rdb, tenant, 4)
    ledger = FakeLedger()
    ledger.broken.add("r-2")
    stats = await Relay(rdb, ledger, FAST).drain()
    assert (stats.committed, stats.failed) == (3, 1)
    rows = await commands(rdb)
    assert rows[ids[2]].status is S.FAILED and rows[ids[2]].error_code == "LEDGER_ERROR"
    assert "ledger bug" in (rows[ids[2]].error or "")
    assert all(rows[i].status is S.COMMITTED for i in (ids[0], ids[1], ids[3]))


async def test_isolating_a_failed_batch_stops_before_the_lease_ends(
    rdb: Database, tenant: str
) -> None:
    ids = sorted(await put(rdb, tenant, 8))  # one transaction's commands: claimed in id order
    now = [0.0]

    class SlowLedger(FakeLedger):
        async def submit(self, commands: Sequence[Command]) -> list[Outcome]:
            now[0] += 5  # every call takes 5 s of the relay's clock
            return await super().submit(commands)

    ledger = SlowLedger()
    ledger.broken.add((await commands(rdb))[ids[-1]].request_id)
    config = RelayConfig(batch_size=8, lease_seconds=30, submit_timeout=10)
    relay = Relay(rdb, ledger, config, clock=lambda: now[0])
    first = await relay.run_batch()
    # The batch (t=0..5), then one by one (5..10, 10..15, 15..20): one more could end after
    # the lease (20 + 10 >= 30), so the other five go back to the queue unsubmitted, due now.
    assert ledger.calls == [8, 1, 1, 1]
    assert (first.committed, first.failed, first.retried) == (3, 0, 5)
    rows = await commands(rdb)
    assert [rows[i].status for i in ids] == [S.COMMITTED] * 3 + [S.PENDING] * 5
    assert {rows[i].locked_by for i in ids[3:]} == {None}

    # Claimed again at once (no backoff), each claim a new lease: every command gets through.
    second, third = await relay.run_batch(), await relay.run_batch()
    assert (second.claimed, second.committed, second.failed, second.retried) == (5, 3, 0, 2)
    assert (third.claimed, third.committed, third.failed) == (2, 1, 1)
    rows = await commands(rdb)
    assert rows[ids[7]].status is S.FAILED and rows[ids[7]].error_code == "LEDGER_ERROR"


def test_backoff_grows_exponentially_with_equal_jitter_and_a_cap() -> None:
    config = RelayConfig(backoff_base=1, backoff_max=300)
    rng = random.Random(7)
    for attempts in range(1, 15):
        step = min(300, 2 ** (attempts - 1))
        waits = [backoff_seconds(attempts, config, rng) for _ in range(200)]
        assert all(step / 2 <= w <= step for w in waits)
        assert max(waits) - min(waits) > step / 4  # really jittered


def test_a_config_that_could_outlive_its_lease_is_refused() -> None:
    with pytest.raises(ValidationFailed, match="shorter than the lease"):
        RelayConfig(lease_seconds=5, submit_timeout=5)
    with pytest.raises(ValidationFailed):
        RelayConfig(batch_size=0)


# --------------------------------------------------------------------------------------------
# The loop: wake-up and shutdown
# --------------------------------------------------------------------------------------------


async def _committed(db: Database, command_id: str) -> bool:
    return (await commands(db))[command_id].status is S.COMMITTED


async def test_listen_wakes_the_relay_long_before_the_next_poll(rdb: Database, tenant: str) -> None:
    # Its next poll is an hour away: whatever the relay delivers within the test, after the
    # claim that follows LISTEN, a notification woke it for.
    relay = Relay(rdb, FakeLedger(), RelayConfig(poll_interval=3600))
    task = asyncio.create_task(relay.run())
    try:
        await wait_for(lambda: _listening(relay))
        [first] = await put(rdb, tenant, 1, prefix="first")
        await wait_for(lambda: _committed(rdb, first), timeout=60)
        # That batch done, the relay waits for a notification (or the poll an hour away).
        [second] = await put(rdb, tenant, 1, prefix="second")
        await wait_for(lambda: _committed(rdb, second), timeout=60)
    finally:
        relay.stop()
        await asyncio.wait_for(task, 30)


async def _listening(relay: Relay) -> bool:
    return relay._listener is not None


async def test_polling_alone_delivers_without_listen(rdb: Database, tenant: str) -> None:
    relay = Relay(rdb, FakeLedger(), RelayConfig(poll_interval=0.1, listen=False))
    task = asyncio.create_task(relay.run())
    try:
        await asyncio.sleep(0.2)
        [command_id] = await put(rdb, tenant, 1)
        await wait_for(lambda: _committed(rdb, command_id), timeout=5)
        assert relay._listener is None
    finally:
        relay.stop()
        await asyncio.wait_for(task, 5)


async def test_a_lost_listen_connection_falls_back_to_polling_and_reconnects(
    scratch_url: str, rdb: Database, tenant: str
) -> None:
    relay = Relay(rdb, FakeLedger(), RelayConfig(poll_interval=0.2))
    task = asyncio.create_task(relay.run())
    try:
        await wait_for(lambda: _listening(relay))
        assert relay._listener is not None
        first = relay._listener.get_server_pid()
        async with server_conn(scratch_url) as conn:
            assert await conn.fetchval("SELECT pg_terminate_backend($1)", first)
        [command_id] = await put(rdb, tenant, 1)
        await wait_for(lambda: _committed(rdb, command_id), timeout=5)

        async def relistening() -> bool:
            return relay._listener is not None and relay._listener.get_server_pid() != first

        await wait_for(relistening, timeout=5)
    finally:
        relay.stop()
        await asyncio.wait_for(task, 5)


async def test_stop_finishes_the_batch_in_hand_and_leaves_nothing_locked(
    rdb: Database, tenant: str
) -> None:
    ids = await put(rdb, tenant, 25)
    ledger = FakeLedger()
    ledger.release = asyncio.Event()
    relay = Relay(rdb, ledger, FAST)  # batches of 10
    task = asyncio.create_task(relay.run())
    await asyncio.wait_for(ledger.entered.wait(), 5)
    relay.stop()  # what SIGTERM does
    ledger.release.set()
    stats = await asyncio.wait_for(task, 5)

    assert (stats.batches, stats.committed) == (1, 10)
    rows = await commands(rdb)
    assert Counter(rows[i].status for i in ids) == {S.COMMITTED: 10, S.PENDING: 15}


# --------------------------------------------------------------------------------------------
# Operator tooling
# --------------------------------------------------------------------------------------------


async def _fail_some(db: Database, tenant: str) -> list[str]:
    ids = await put(db, tenant, 4)
    ledger = FakeLedger()
    ledger.reject["r-0"] = "USER_EXISTS"  # the ledger's answer for good
    ledger.broken.add("r-3")  # fails without an answer: worth re-queueing
    await Relay(db, ledger, FAST).drain()
    return ids


def paging(**asked: Any) -> pages.PageRequest:
    return pages.PageRequest(pages.Cursors.from_secret(b"k" * 32), operator.LIST, **asked)


async def test_operator_lists_pages_shows_and_requeues(rdb: Database, tenant: str) -> None:
    ids = await _fail_some(rdb, tenant)
    other = await put(rdb, f"{tenant}-x", 2, prefix="x")
    async with rdb.system(reason="test: operator") as session:
        failed = await operator.list_page(session, paging(), status=S.FAILED)
        assert {c.id for c in failed.rows} == {ids[0], ids[3]} and failed.next_cursor is None
        assert await operator.counts(session, tenant_id=tenant) == {
            S.PENDING: 0, S.LOCKED: 0, S.SUBMITTED: 0, S.COMMITTED: 2, S.FAILED: 2, S.HELD: 0,
        }  # fmt: skip
        walked, cursor = [], None
        while True:
            page = await operator.list_page(session, paging(limit=4, cursor=cursor))
            walked.append([c.id for c in page.rows])
            if (cursor := page.next_cursor) is None:
                break
        assert [len(p) for p in walked] == [4, 2]
        assert sorted(i for p in walked for i in p) == sorted(ids + other)
        only = await operator.list_page(session, paging(), tenant_id=f"{tenant}-x")
        assert {c.id for c in only.rows} == set(other)

    async with rdb.system(reason="test: retry one") as session:
        again = await operator.retry(session, ids[3])
    assert again.status is S.PENDING and again.next_attempt_at <= datetime.now(UTC)
    c = (await commands(rdb))[ids[3]]
    assert (c.status, c.attempts, c.error_code, c.error, c.fabric_tx_id) == (
        S.PENDING, 0, None, None, None,
    )  # fmt: skip
    assert c.next_attempt_at <= datetime.now(UTC) + timedelta(seconds=1)

    with pytest.raises(operator.RejectedByLedger, match="USER_EXISTS"):
        async with rdb.system(reason="test: retry a rejected one") as session:
            await operator.retry(session, ids[0])
    with pytest.raises(InvalidTransition):
        async with rdb.system(reason="test: retry a committed one") as session:
            await operator.retry(session, ids[1])
    with pytest.raises(operator.OutboxCommandNotFound):
        async with rdb.system(reason="test: retry nothing") as session:
            await operator.retry(session, "no-such-id")
    rows = await commands(rdb)
    assert (rows[ids[0]].status, rows[ids[0]].error_code) == (S.FAILED, "USER_EXISTS")


async def test_retry_all_failed_leaves_what_the_ledger_rejected(rdb: Database, tenant: str) -> None:
    ids = await _fail_some(rdb, tenant)
    async with rdb.system(reason="test: retry all") as session:
        assert await operator.retry_all_failed(session, tenant_id=tenant) == [ids[3]]
    rows = await commands(rdb)
    assert [rows[i].status for i in ids] == [S.FAILED, S.COMMITTED, S.COMMITTED, S.PENDING]
    # Delivered again, the re-queued command commits; the rejected one would only fail again.
    assert (await Relay(rdb, FakeLedger(), FAST).drain()).committed == 1


def _gx(url: str, *args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(gx_app, list(args), env={"DATABASE_URL": url, "COLUMNS": "200"})


async def test_gx_outbox_list_show_and_retry(scratch_url: str, rdb: Database, tenant: str) -> None:
    ids = await _fail_some(rdb, tenant)

    listed = await asyncio.to_thread(_gx, scratch_url, "outbox", "list", "--status", "failed")
    assert listed.exit_code == 0, listed.output
    assert ids[0] in listed.output and ids[3] in listed.output and ids[1] not in listed.output, (
        listed.output
    )
    assert "FAILED 2" in listed.output and "USER_EXISTS" in listed.output

    shown = await asyncio.to_thread(_gx, scratch_url, "outbox", "show", ids[3])
    assert shown.exit_code == 0, shown.output
    assert "LEDGER_ERROR" in shown.output and '"userId": "u-r-3"' in shown.output

    missing = await asyncio.to_thread(_gx, scratch_url, "outbox", "show", "nope")
    assert missing.exit_code == 1 and "no outbox command 'nope'" in missing.output

    not_failed = await asyncio.to_thread(_gx, scratch_url, "outbox", "retry", ids[1])
    assert not_failed.exit_code == 1 and "cannot go from COMMITTED to PENDING" in not_failed.output

    usage = await asyncio.to_thread(_gx, scratch_url, "outbox", "retry")
    assert usage.exit_code == 2

    rejected = await asyncio.to_thread(_gx, scratch_url, "outbox", "retry", ids[0])
    assert rejected.exit_code == 1 and "rejected by the ledger" in rejected.output
    every = await asyncio.to_thread(_gx, scratch_url, "outbox", "retry", "--all-failed")
    assert every.exit_code == 0 and "re-queued 1" in every.output and ids[3] in every.output
    assert "left 1 command(s) rejected for good" in every.output
    rows = await commands(rdb)
    assert (rows[ids[0]].status, rows[ids[3]].status) == (S.FAILED, S.PENDING)


# --------------------------------------------------------------------------------------------
# Against the embedded ledger, in process and as `gx relay` processes
# --------------------------------------------------------------------------------------------


async def bootstrap(url: str, *tenants: str) -> None:
    async with await EmbeddedLedger.open(url) as ledger:
        boot = [Command(t, f"boot-{t}", CommandType.BOOTSTRAP_SYSTEM) for t in tenants]
        assert all(o.committed for o in await ledger.submit(boot))


async def test_the_relay_delivers_to_the_embedded_ledger(
    scratch_url: str, rdb: Database, tenant: str
) -> None:
    await bootstrap(scratch_url, tenant)
    ids = await put(rdb, tenant, 20)
    async with rdb.tenant(tenant) as session:  # the same user again: the ledger refuses it
        duplicate = await enqueue(
            session,
            service="identity",
            command_type=CommandType.CREATE_USER,
            request_id="dup",
            payload={"userId": "u-r-0", "biometricHash": "bio-x", "nationality": "NG", "age": 30},
        )
    unknown_tenant = (await put(rdb, f"{tenant}-nb", 1, prefix="nb"))[0]
    async with await EmbeddedLedger.open(scratch_url) as ledger:
        await asyncio.sleep(0.01)
        stats = await Relay(rdb, ledger, RelayConfig(batch_size=50)).drain()
        assert (stats.committed, stats.failed) == (20, 2)
        rows = await commands(rdb)
        # The ledger answers a known request with its first outcome: the one recorded.
        again = await ledger.submit([Command(tenant, "r-7", CommandType.CREATE_USER)])
    assert (rows[ids[7]].fabric_tx_id, rows[ids[7]].commit_block) == (
        again[0].tx_id,
        again[0].block_number,
    )
    assert all(rows[i].status is S.COMMITTED for i in ids)
    assert rows[duplicate.id].status is S.FAILED and rows[duplicate.id].error_code == "USER_EXISTS"
    assert rows[unknown_tenant].error_code == "NOT_BOOTSTRAPPED"


async def test_a_rejection_by_the_ledgers_state_is_retried_under_a_new_request_id(
    scratch_url: str, rdb: Database, tenant: str
) -> None:
    early = await put(rdb, tenant, 2)  # before the tenant is bootstrapped
    async with await EmbeddedLedger.open(scratch_url) as ledger:
        assert (await Relay(rdb, ledger, FAST).drain()).failed == 2
        first = (await commands(rdb))[early[0]]
        assert first.error_code == "NOT_BOOTSTRAPPED"
        async with rdb.system(reason="test: retry before the bootstrap") as session:
            requeued = await operator.retry(session, early[0])
        # The ledger keeps r-0's rejection for good; the command goes back as a new request.
        assert requeued.request_id == f"r-0:retry-{first.commit_block}"
        assert (requeued.status, requeued.fabric_tx_id, requeued.attempts) == (S.PENDING, None, 0)
        assert (await Relay(rdb, ledger, FAST).drain()).failed == 1  # still not bootstrapped

        await bootstrap(scratch_url, tenant)
        async with rdb.system(reason="test: retry all") as session:
            assert sorted(await operator.retry_all_failed(session, tenant_id=tenant)) == sorted(
                early
            )
        assert (await Relay(rdb, ledger, FAST).drain()).committed == 2
        rows = await commands(rdb)
        assert [rows[i].status for i in early] == [S.COMMITTED, S.COMMITTED]
        # One suffix, from the newest rejection: retries do not pile up suffixes.
        assert rows[early[0]].request_id == f"r-0:retry-{first.commit_block + 1}"
        assert rows[early[1]].request_id == f"r-1:retry-{first.commit_block}"

        async with rdb.tenant(tenant) as session:  # r-0's user again: rejected for good
            duplicate = await enqueue(
                session,
                service="identity",
                command_type=CommandType.CREATE_USER,
                request_id="dup",
                payload={"userId": "u-r-0", "biometricHash": "x", "nationality": "NG", "age": 30},
            )
        assert (await Relay(rdb, ledger, FAST).drain()).failed == 1
    async with rdb.system(reason="test: retry what is rejected for good") as session:
        assert await operator.retry_all_failed(session, tenant_id=tenant) == []
    with pytest.raises(operator.RejectedByLedger, match="USER_EXISTS"):
        async with rdb.system(reason="test: retry one rejected for good") as session:
            await operator.retry(session, duplicate.id)


async def test_injected_ledger_faults_are_retried_until_each_command_commits_once(
    scratch_url: str, rdb: Database, tenant: str
) -> None:
    await bootstrap(scratch_url, tenant)
    ids = await put(rdb, tenant, 40)
    config = RelayConfig(batch_size=8, max_attempts=50)
    async with await EmbeddedLedger.open(scratch_url, fault_rate=0.5, seed=3) as ledger:
        relay = Relay(rdb, ledger, config)
        for _ in range(60):
            await relay.drain()
            if relay.stats.committed == 40:
                break
            await make_due(rdb)
    assert relay.stats.retried > 0 and relay.stats.committed == 40
    rows = await commands(rdb)
    assert {rows[i].status for i in ids} == {S.COMMITTED}
    assert max(rows[i].attempts for i in ids) > 1
    async with server_conn(scratch_url) as conn:
        assert (
            await conn.fetchval(
                "SELECT count(*) FROM ledger.transactions WHERE tenant_id = $1", tenant
            )
            == 41
        )  # 40 users and the bootstrap, each executed once


def server_conn(url: str):  # type: ignore[no-untyped-def]
    from gxcore.db import server

    return server.connect(url)


def start_relay(url: str, log: Path, *args: str, **env: str) -> subprocess.Popen[str]:
    environ = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "GX_DATABASE_URL")}
    environ.update(DATABASE_URL=url, **env)
    return subprocess.Popen(
        [sys.executable, "-m", "gxcore", "relay", *args],
        stdout=subprocess.PIPE,
        stderr=log.open("w"),
        text=True,
        env=environ,
    )


async def wait_started(log: Path, workers: int) -> None:
    async def up() -> bool:
        return log.read_text().count("started") >= workers

    await wait_for(up, timeout=60)


async def _statuses(db: Database) -> Counter[OutboxStatus]:
    return Counter(c.status for c in (await commands(db)).values())


async def test_two_gx_relay_processes_deliver_every_command_exactly_once(
    scratch_url: str, rdb: Database, tenant: str, tmp_path: Path
) -> None:
    tenants = [tenant, f"{tenant}-2", f"{tenant}-3"]
    await bootstrap(scratch_url, *tenants)
    logs = [tmp_path / "a.log", tmp_path / "b.log"]
    relays = [
        start_relay(scratch_url, log, "--batch", "10", GX_LEDGER_FAULT_DELAY_MS="5") for log in logs
    ]
    try:
        for log in logs:
            await wait_started(log, 1)
        for t in tenants:
            await put(rdb, t, 100)

        async def done() -> bool:
            return (await _statuses(rdb))[S.COMMITTED] == 300

        await wait_for(done, timeout=60)
    finally:
        for proc in relays:
            proc.send_signal(signal.SIGTERM)
        outputs = [await asyncio.to_thread(proc.communicate, None, 30) for proc in relays]
    for proc, (out, _), log in zip(relays, outputs, logs, strict=True):
        assert proc.returncode == 0, log.read_text()
        assert "relay stopped" in out and "Traceback" not in log.read_text()
    rows = (await commands(rdb)).values()
    assert {(c.status, c.attempts) for c in rows} == {(S.COMMITTED, 1)}  # each claimed once
    assert len({c.locked_by for c in rows}) == 2  # both processes delivered some


async def test_sigterm_mid_run_finishes_the_batch_and_exits_0_with_nothing_locked(
    scratch_url: str, rdb: Database, tenant: str, tmp_path: Path
) -> None:
    await bootstrap(scratch_url, tenant)
    ids = await put(rdb, tenant, 400)
    log = tmp_path / "relay.log"
    proc = start_relay(
        scratch_url, log, "--workers", "2", "--batch", "5", GX_LEDGER_FAULT_DELAY_MS="100"
    )
    try:

        async def both_delivering() -> bool:
            # Each worker has caught the stop signals (they are set before it claims) and is
            # mid-run: 400 commands, five a batch, each submit held 100 ms, are far from done.
            rows = (await commands(rdb)).values()
            return len({c.locked_by for c in rows if c.status is S.COMMITTED}) == 2

        await wait_for(both_delivering, timeout=120)
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = await asyncio.to_thread(proc.communicate, None, 30)
    assert proc.returncode == 0, log.read_text()
    assert out.count("relay stopped") == 2  # both worker processes stopped cleanly
    statuses = await _statuses(rdb)
    assert statuses[S.LOCKED] == 0 and statuses[S.COMMITTED] < len(ids)
    assert statuses[S.COMMITTED] + statuses[S.PENDING] == len(ids)


async def test_gx_relay_once_delivers_what_is_due_and_exits(
    scratch_url: str, rdb: Database, tenant: str, tmp_path: Path
) -> None:
    await bootstrap(scratch_url, tenant)
    await put(rdb, tenant, 12)
    proc = start_relay(scratch_url, tmp_path / "once.log", "--once", "--no-listen", "--batch", "5")
    out, _ = await asyncio.to_thread(proc.communicate, None, 60)
    assert proc.returncode == 0, (tmp_path / "once.log").read_text()
    assert "12 committed" in out and "(3 batches)" in out  # 5 + 5 + 2
    assert (await _statuses(rdb)) == {S.COMMITTED: 12}
