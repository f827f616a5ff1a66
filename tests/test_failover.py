"""Failover with nothing lost: gxcore on a pg_auto_failover formation while its primary moves.

A monitor, a primary and a synchronous standby (tests/pg_auto_failover.py); gxcore connects
with the multi-host URL (`target_session_attrs=read-write`). While transfers arrive over HTTP
and the relay and projector run in-process, the primary is switched over (`pg_autoctl perform
switchover`), or its postmaster is SIGKILLed (its keeper restarts it: a crash and recovery).
A client retries a 503 with the same idempotency key, as clients are told to. Afterwards every
accepted (202) transfer committed exactly once, no event was applied twice, EventLog has no
gap, balances equal the ledger, supply is conserved, and the services are still running.
The time without writes is printed (`-s` shows it), not asserted.

Run alone with `pytest -m failover`; deselect with `-m 'not failover'`.
"""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from gxcore.admin import service as admin_service
from gxcore.admin.models import SystemParameter
from gxcore.app import create_app
from gxcore.config import Settings
from gxcore.cqrs.models import OutboxCommand
from gxcore.cqrs.projector import Projector
from gxcore.cqrs.relay import Relay, RelayConfig
from gxcore.db import migrate
from gxcore.db.engine import create_engine
from gxcore.db.tenancy import Database
from gxcore.enums import OutboxStatus, UserProfileStatus
from gxcore.identity.throttle import TRANSFERS
from gxcore.ledger import EmbeddedLedger
from tests import cqrs_end_state as end
from tests import pg_auto_failover
from tests.conftest import ROLE_KEY
from tests.test_auth import WallClock, bearer, make_user, signed_in
from tests.test_chaos import IN_FLIGHT, REJECTIONS
from tests.test_money_api import Loop
from tests.test_registration import _client

pytestmark = pytest.mark.failover

USERS = 4
#: Relay settings for a moving primary: short lease (a claim cut off is taken over soon),
#: attempts to spare (the ledger's failed submits count) and short backoff.
RELAY = RelayConfig(
    batch_size=50, lease_seconds=3, submit_timeout=2, poll_interval=0.05, max_attempts=100,
    backoff_base=0.1, backoff_max=1.0,
)  # fmt: skip
SEND_TIMEOUT = 60.0  # one transfer's retries on 503, at most
DRAIN_TIMEOUT = 60.0


@pytest.fixture(scope="module")
def formation() -> Any:
    if reason := pg_auto_failover.missing_reason():
        pytest.skip(reason)
    with pg_auto_failover.Formation() as f:
        yield f


@pytest.fixture(scope="module")
async def ha_url(formation: pg_auto_failover.Formation) -> str:
    await migrate.upgrade(formation.url, role_key=ROLE_KEY)
    owner = create_engine(formation.url)  # countries are the owner's, as in `gx db seed`
    async with AsyncSession(owner) as session, session.begin():
        await admin_service.seed_countries(session)
    await owner.dispose()
    return formation.url


@dataclass
class Traffic:
    """Transfers sent in a ring, each retried on 503 with its idempotency key until accepted."""

    loop: Loop
    users: list[dict[str, Any]]
    accepted: dict[str, str] = field(default_factory=dict)  # idempotency key -> command id
    statuses: Counter[int] = field(default_factory=Counter)
    accepted_at: list[float] = field(default_factory=list)
    stop: asyncio.Event = field(default_factory=asyncio.Event)

    async def sender(self, i: int) -> None:
        me, to = self.users[i], self.users[(i + 1) % len(self.users)]
        while not self.stop.is_set():
            key = uuid.uuid4().hex
            deadline = time.monotonic() + SEND_TIMEOUT
            while True:
                got = await self.loop.send(me, to, "1.5", **{"Idempotency-Key": key})
                self.statuses[got.status_code] += 1
                if got.status_code != 503 or time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.1)
            assert got.status_code == 202, got.text  # never a 500; a 503 only while away
            self.accepted[key] = got.json()["commandId"]
            self.accepted_at.append(time.monotonic())
            await asyncio.sleep(0.02)

    def longest_gap(self, since: float) -> float:
        """Longest wait between two accepted writes, from the last one before `since` on."""
        last_before = max((t for t in self.accepted_at if t < since), default=since)
        times = [last_before, *sorted(t for t in self.accepted_at if t >= since)]
        return max((b - a for a, b in itertools.pairwise(times)), default=0.0)


TRANSFER_RATE_LIMITS = (TRANSFERS.per_account_key, TRANSFERS.per_address_key)


@pytest.fixture
async def loop(ha_url: str, tmp_path: Path) -> AsyncIterator[Loop]:
    tenant = f"ha{uuid.uuid4().hex[:10]}"
    db = Database.connect(ha_url, role_key=ROLE_KEY)
    async with db.system(reason="test setup: gx tenant create") as session:
        await admin_service.create_tenant(session, tenant)
    async with db.system(reason="test setup: the traffic is load, not abuse") as session:
        await session.execute(
            update(SystemParameter)
            .where(
                SystemParameter.tenant_id == tenant,
                SystemParameter.param_key.in_(TRANSFER_RATE_LIMITS),
            )
            .values(param_value="0")  # off: every transfer comes from one address
        )
    settings = Settings(
        data_dir=tmp_path,
        otp_secret="test-only-otp-secret-0123456789abcdef",
        jwt_secret="test-only-jwt-secret-0123456789abcdefghij",
        environment="test",
    )
    app = create_app(database=db, settings=settings, clock=WallClock())
    async with await EmbeddedLedger.open(ha_url) as ledger, _client(app, tenant) as client:
        boss = await make_user(db, tenant, role="SUPER_ADMIN", status=UserProfileStatus.ACTIVE)
        admin = bearer(await signed_in(client, boss.email))
        yield Loop(db, ledger, client, tenant, admin)
    await db.dispose()


async def _drain(loop: Loop, url: str) -> None:
    deadline = time.monotonic() + DRAIN_TIMEOUT
    while True:
        async with loop.db.system(reason="test: in flight") as session:
            stuck = (
                await session.scalars(
                    select(OutboxCommand.id).where(
                        OutboxCommand.tenant_id == loop.tenant,
                        OutboxCommand.status.in_(IN_FLIGHT),
                    )
                )
            ).all()
        heads = await end.ledger_heads(url, [loop.tenant])
        at = await end.projected_to(loop.db, [loop.tenant])
        if not stuck and at == heads:
            return
        assert time.monotonic() < deadline, f"not drained: {len(stuck)} in flight, {at} {heads}"
        await asyncio.sleep(0.2)


async def _through(
    loop: Loop, url: str, disrupt: Callable[[], Any], what: str, capsys: Any
) -> None:
    users = [await loop.user() for _ in range(USERS)]
    # Whatever the bootstrap minted, every account together holds it to the end.
    supply = sum(r["balance"] for r in await end.ledger_rows(url, "accounts", [loop.tenant]))
    traffic = Traffic(loop, users)
    relay = Relay(loop.db, loop.ledger, RELAY)
    projector = Projector(loop.db, loop.ledger, tenant_id=loop.tenant, batch_size=100)
    stop_projector = asyncio.Event()
    services = [
        asyncio.create_task(relay.run()),
        asyncio.create_task(projector.run(stop=stop_projector, idle_delay=0.05)),
    ]
    senders = [asyncio.create_task(traffic.sender(i)) for i in range(USERS)]
    try:
        deadline = time.monotonic() + SEND_TIMEOUT
        while len(traffic.accepted) < USERS:  # traffic flowing before the primary moves
            assert time.monotonic() < deadline, "no traffic before the disruption"
            await asyncio.sleep(0.05)
        started = time.monotonic()
        before = len(traffic.accepted)
        await asyncio.to_thread(disrupt)
        await asyncio.sleep(3)  # and after: accepted again on the new (or restarted) primary
        traffic.stop.set()
        await asyncio.gather(*senders)
        assert len(traffic.accepted) > before, "no transfer was accepted after the disruption"
        for task in services:
            assert not task.done(), f"a service died: {task.exception()!r}"
        await _drain(loop, url)
        relay.stop()
        stop_projector.set()
        await asyncio.gather(*services)
    finally:  # a failed check leaves no task behind to work on the next test's tenant
        for task in (*senders, *services):
            task.cancel()
        await asyncio.gather(*senders, *services, return_exceptions=True)

    state = await end.read_end_state(loop.db, url, [loop.tenant])
    state.profiles = [p for p in state.profiles if p.fabric_user_id]  # the admin has no account
    end.check_all(state, supply=supply, rejections=REJECTIONS)
    by_request = {c.request_id: c for c in state.commands}
    by_id = {c.id: c for c in state.commands}
    accepted = [by_id.get(command_id) for command_id in traffic.accepted.values()]
    assert all(c is not None for c in accepted), "an accepted transfer has no command"
    assert len({c.id for c in accepted if c}) == len(traffic.accepted), "two keys, one command"
    committed = [c for c in accepted if c and c.status is OutboxStatus.COMMITTED]
    assert len(committed) == len(accepted), "an accepted transfer did not commit"
    ledger_keys = Counter(r["request_id"] for r in state.txs)
    assert all(ledger_keys[c.request_id] == 1 for c in committed), "committed twice on the ledger"
    assert set(traffic.statuses) <= {202, 503}, (
        f"answers other than 202 and 503: {traffic.statuses}"
    )
    assert len(by_request) == len(state.commands)
    with capsys.disabled():
        print(
            f"\n{what}: {len(traffic.accepted)} transfers accepted, answers {dict(traffic.statuses)}, "
            f"longest time without an accepted write: {traffic.longest_gap(started):.2f}s"
        )


async def test_a_switchover_loses_no_accepted_transfer_and_applies_none_twice(
    loop: Loop, ha_url: str, formation: pg_auto_failover.Formation, capsys: Any
) -> None:
    await _through(loop, ha_url, formation.switchover, "switchover", capsys)


async def test_a_killed_primary_postmaster_loses_no_accepted_transfer(
    loop: Loop, ha_url: str, formation: pg_auto_failover.Formation, capsys: Any
) -> None:
    formation.wait_settled()
    await _through(loop, ha_url, formation.kill_primary, "primary postmaster SIGKILLed", capsys)
