"""The velocity tax and fee quotes (svc-tax): the rule, the read model's timer, the daily run,
and the whole loop (run -> relay -> ledger -> projector) over HTTP.

Tiers: pure assessments (no database), the projector's timer fed by hand (`Feed`), the run on
wallets written as the projector leaves them, and the loop on a private database whose ledger
and app share a clock moved by hand.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select, text, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from gxcore.admin import service as admin_service
from gxcore.admin.models import SystemParameter
from gxcore.audit.models import AuditLog
from gxcore.config import Settings
from gxcore.cqrs.models import OutboxCommand
from gxcore.cqrs.outbox import enqueue
from gxcore.cqrs.rebuild import rebuild
from gxcore.db import server
from gxcore.db.engine import create_engine
from gxcore.db.tenancy import Database
from gxcore.enums import CommandType, OutboxStatus, UserProfileStatus
from gxcore.errors import ValidationFailed
from gxcore.identity.models import UserProfile
from gxcore.ledger import EmbeddedLedger
from gxcore.ledger import events as ev
from gxcore.ledger.contract import Params, plan_velocity_tax, split_tax, transfer_fee
from gxcore.ledger.port import LedgerEvent
from gxcore.ledger.rows import REDISTRIBUTION_POOL
from gxcore.ledger.state import tx_id_of
from gxcore.tax import service
from gxcore.tax.models import HoardingTaxSnapshot
from gxcore.tax.rules import Reason, assess, request_id
from gxcore.wallet.models import Wallet
from tests import test_auth
from tests.apps import per_test
from tests.conftest import ROLE_KEY
from tests.ledger_contract import START, ManualClock
from tests.test_auth import bearer, make_user, signed_in
from tests.test_money_api import Loop
from tests.test_projector import D, Feed, genesis, project, transfer, users
from tests.test_registration import Clock, _client, assert_problem

S = UserProfileStatus
countries = test_auth.countries  # the shared database's countries (profiles name GB)
DAY0 = date(2031, 3, 1)
PARAMS = Params.of()  # threshold 100, cycle 360 days, 300 bps


def days(n: int) -> date:
    return DAY0 + timedelta(days=n)


# =============================================================================================
# The rule: pure
# =============================================================================================


def test_a_balance_just_under_or_at_the_threshold_owes_nothing() -> None:
    for balance in ("99.999999999", "100"):
        a = assess("a", D(balance), None, days(400), PARAMS)
        assert (a.reason, a.taxable, a.tax, a.days_held) == (
            Reason.AT_OR_BELOW_THRESHOLD, D(0), D(0), 0,
        )  # fmt: skip
        assert a.days_remaining == 360  # a full cycle once the balance rises above it


def test_the_tax_is_due_exactly_at_360_days_above_the_threshold() -> None:
    short = assess("a", D(500), DAY0, days(359), PARAMS)
    assert (short.reason, short.days_held, short.days_remaining, short.tax) == (
        Reason.CYCLE_INCOMPLETE, 359, 1, D(0),
    )  # fmt: skip
    assert short.taxable == D(400)  # accruing, not yet due
    due = assess("a", D(500), DAY0, days(360), PARAMS)
    assert (due.reason, due.days_held, due.days_remaining) == (Reason.ELIGIBLE, 360, 0)
    assert (due.taxable, due.rate, due.tax) == (D(400), Decimal("0.0300"), D(12))
    late = assess("a", D("1000.5"), DAY0, days(500), PARAMS)
    assert (late.reason, late.days_held, late.tax) == (Reason.ELIGIBLE, 500, D("27.015"))


def test_system_accounts_are_never_taxed() -> None:
    for account in ("system:fee-pool", REDISTRIBUTION_POOL, "treasury:NG"):
        a = assess(account, D(10**9), DAY0, days(1000), PARAMS)
        assert (a.reason, a.eligible, a.tax, a.taxable) == (
            Reason.SYSTEM_ACCOUNT, False, D(0), D(0),
        )  # fmt: skip


def test_a_balance_above_a_lowered_threshold_waits_for_its_timer() -> None:
    a = assess("a", D(500), None, days(400), PARAMS)
    assert (a.reason, a.tax, a.days_remaining) == (Reason.TIMER_NOT_RUNNING, D(0), 360)


@given(
    st.decimals(min_value=Decimal("100.000000001"), max_value=Decimal(10**15), places=9),
    st.integers(min_value=0, max_value=600),
)
def test_the_assessment_is_the_ledgers_plan_and_its_halves_sum_to_the_tax(
    balance: Decimal, bps: int
) -> None:
    params = Params.of({"velocityTaxRateBps": str(bps)})
    a = assess("a", balance, DAY0, days(360), params)
    if a.reason is Reason.TAX_ROUNDS_TO_ZERO:
        assert (balance - params.velocity_tax_threshold) * bps / 10_000 < Decimal("0.0000000005")
        return
    plan = plan_velocity_tax(balance, DAY0, days(360), params)
    assert (a.tax, a.treasury_share, a.redistribution_share) == (
        plan.tax, plan.treasury_share, plan.redistribution_share,
    )  # fmt: skip
    assert a.treasury_share + a.redistribution_share == a.tax
    assert split_tax(a.tax) == (a.treasury_share, a.redistribution_share)
    assert -a.tax.as_tuple().exponent <= 9  # type: ignore[operator]


# =============================================================================================
# The projector keeps each wallet's timer
# =============================================================================================


def on_day(feed: Feed, n: int) -> LedgerEvent:
    """Date the feed's last event on day `n` (block time, as the ledger dates it)."""
    event = feed.events[-1]
    feed.events[-1] = dataclasses.replace(
        event, timestamp=datetime.combine(days(n), datetime.min.time(), UTC) + timedelta(hours=9)
    )
    return feed.events[-1]


async def timers(db: Database, tenant: str) -> dict[str, date | None]:
    async with db.tenant(tenant) as session:
        found = await session.execute(
            select(Wallet.primary_account_id, Wallet.above_threshold_since)
        )
        return dict(found.all())


async def test_the_timer_starts_above_the_threshold_and_restarts_after_a_dip(
    db: Database, tenant: str
) -> None:
    feed = Feed(tenant)
    await users(db, feed, "a", "b")
    feed.emit(genesis("a"))
    on_day(feed, 0)
    feed.emit(genesis("b", "500"))
    on_day(feed, 0)
    await project(db, feed)
    assert await timers(db, tenant) == {"a": days(0), "b": days(0)}

    feed.emit(transfer("a", "b", "450", "0.45", "49.55", "950"))  # a dips below mid-cycle
    on_day(feed, 100)
    await project(db, feed)
    assert await timers(db, tenant) == {"a": None, "b": days(0)}  # b stays above: unchanged

    feed.emit(transfer("b", "a", "100", "0.1", "849.9", "149.55"))
    on_day(feed, 150)
    await project(db, feed)
    assert await timers(db, tenant) == {"a": days(150), "b": days(0)}


async def test_a_dip_inside_one_batch_restarts_the_timer_too(db: Database, tenant: str) -> None:
    feed = Feed(tenant)
    await users(db, feed, "a", "b", "c")
    for account in ("a", "b", "c"):
        feed.emit(genesis(account))
        on_day(feed, 0)
    # One batch: a dips on day 100 and rises on day 150; b dips and rises on day 120 (same
    # day); c dips to exactly the threshold and stays there.
    feed.emit(transfer("a", "c", "450", "0", "50", "950"))
    on_day(feed, 100)
    feed.emit(transfer("b", "c", "400", "0", "100", "1350"))
    on_day(feed, 120)
    feed.emit(transfer("c", "b", "1", "0", "1349", "101"))
    on_day(feed, 120)
    feed.emit(transfer("c", "a", "1249", "0", "100", "1299"))
    on_day(feed, 150)
    await project(db, feed)
    assert await timers(db, tenant) == {"a": days(150), "b": days(120), "c": None}


async def test_the_threshold_is_the_tenants_parameter(db: Database, tenant: str) -> None:
    async with db.system(reason="test: the tenant's threshold") as session:
        session.add(
            SystemParameter(tenant_id=tenant, param_key="velocityTaxThreshold", param_value="600")
        )
    feed = Feed(tenant)
    await users(db, feed, "a", "b")
    feed.emit(genesis("a"))  # 500: below this tenant's 600
    on_day(feed, 0)
    feed.emit(genesis("b"))
    on_day(feed, 0)
    feed.emit(transfer("a", "b", "200", "0", "300", "700"))
    on_day(feed, 3)
    await project(db, feed)
    assert await timers(db, tenant) == {"a": None, "b": days(3)}


async def test_the_tax_restarts_the_timer(db: Database, tenant: str) -> None:
    feed = Feed(tenant)
    await users(db, feed, "a")
    feed.emit(genesis("a"))
    on_day(feed, 0)
    feed.emit(ev.VelocityTaxApplied(
        account_id="a", taxable_amount=D(400), rate_bps=300, amount=D(12),
        treasury_account_id="treasury:NG", treasury_share=D(6), redistribution_share=D(6),
        balance=D(488), treasury_balance=D(6),
    ))  # fmt: skip
    on_day(feed, 361)
    await project(db, feed)
    assert await timers(db, tenant) == {"a": days(361)}


# =============================================================================================
# The daily run, on wallets as the projector leaves them
# =============================================================================================


async def wallet(
    db: Database, tenant: str, balance: str, since: date | None, account: str | None = None
) -> str:
    profile = await make_user(db, tenant, status=S.ACTIVE)
    async with db.system(reason="test: a projected wallet") as session:
        row = Wallet(
            tenant_id=tenant,
            profile_id=profile.profile_id,
            primary_account_id=account or profile.profile_id,
            wallet_name="Main",
            cached_balance=D(balance),
            above_threshold_since=since,
        )
        session.add(row)
        await session.flush()
        return row.wallet_id


async def snapshots(db: Database, tenant: str) -> dict[str, tuple[Any, ...]]:
    async with db.tenant(tenant) as session:
        found = await session.execute(select(HoardingTaxSnapshot))
        return {
            s.wallet_id: (s.balance, s.days_held, s.taxable_amount, s.tax_rate, s.tax_owed)
            for s in found.scalars()
        }


async def tax_commands(db: Database, tenant: str) -> dict[str, dict[str, Any]]:
    async with db.tenant(tenant) as session:
        found = await session.execute(
            select(OutboxCommand.request_id, OutboxCommand.payload).where(
                OutboxCommand.command_type == CommandType.APPLY_VELOCITY_TAX
            )
        )
        return dict(found.all())  # type: ignore[arg-type]


async def run(db: Database, tenant: str, on: date) -> service.VelocityTaxReport:
    async with db.tenant(tenant) as session:
        return await service.run(session, on=on, today=on)


async def test_the_run_snapshots_every_wallet_and_taxes_those_held_a_full_cycle(
    db: Database, tenant: str
) -> None:
    on = days(400)
    under = await wallet(db, tenant, "99.999999999", None)
    short = await wallet(db, tenant, "500", on - timedelta(days=359))
    exact = await wallet(db, tenant, "500", on - timedelta(days=360))
    above = await wallet(db, tenant, "1000.5", on - timedelta(days=400))
    dipped = await wallet(db, tenant, "900", on - timedelta(days=10))  # restarted mid-cycle
    pool = await wallet(db, tenant, "1000000", days(0), account="system:redistribution-pool")
    report = await run(db, tenant, on)
    assert (report.wallets, report.snapshots, report.taxed, report.taxOwed) == (
        5, 5, 2, D("39.015")
    )  # fmt: skip
    rate = Decimal("0.0300")
    assert await snapshots(db, tenant) == {
        under: (D("99.999999999"), 0, D(0), rate, D(0)),
        short: (D(500), 359, D(400), rate, D(0)),
        exact: (D(500), 360, D(400), rate, D(12)),
        above: (D("1000.5"), 400, D("900.5"), rate, D("27.015")),
        dipped: (D(900), 10, D(800), rate, D(0)),
    }  # the system account: no snapshot, no command
    assert pool not in await snapshots(db, tenant)
    async with db.tenant(tenant) as session:
        accounts = dict(
            (await session.execute(select(Wallet.wallet_id, Wallet.primary_account_id))).all()
        )
    assert await tax_commands(db, tenant) == {
        request_id(exact, on): {"accountId": accounts[exact]},
        request_id(above, on): {"accountId": accounts[above]},
    }


async def test_running_a_date_twice_writes_one_snapshot_per_wallet_and_one_command(
    db: Database, tenant: str
) -> None:
    on = days(365)
    for _ in range(3):
        await wallet(db, tenant, "700", days(0))
    await wallet(db, tenant, "50", None)
    first = await run(db, tenant, on)
    assert (first.snapshots, first.taxed) == (4, 3)
    before = (await snapshots(db, tenant), await tax_commands(db, tenant))
    async with db.tenant(tenant) as session:
        audited = await session.scalar(select(func.count()).select_from(AuditLog))
    again = await run(db, tenant, on)
    assert (again.wallets, again.snapshots, again.taxed, again.taxOwed) == (4, 0, 0, D(0))
    assert (await snapshots(db, tenant), await tax_commands(db, tenant)) == before
    async with db.tenant(tenant) as session:  # nothing written: nothing audited either
        assert await session.scalar(select(func.count()).select_from(AuditLog)) == audited
    # The unique key holds even against a writer that skips the run's ON CONFLICT.
    with pytest.raises(DBAPIError, match="HoardingTaxSnapshot_tenantId_walletId_snapshotDate_key"):
        async with db.tenant(tenant) as session:
            first_wallet = next(iter(before[0]))
            session.add(
                HoardingTaxSnapshot(
                    wallet_id=first_wallet,
                    snapshot_date=on,
                    balance=D(1),
                    days_held=0,
                    taxable_amount=D(0),
                    tax_rate=Decimal(0),
                    tax_owed=D(0),
                )
            )
    # The next day is a new snapshot (and, owing again by the read model, a new command).
    later = await run(db, tenant, on + timedelta(days=1))
    assert later.snapshots == 4


async def test_the_run_pages_through_wallets_and_refuses_a_future_date(
    db: Database, tenant: str
) -> None:
    for n in range(5):
        await wallet(db, tenant, f"{200 + n}", days(0))
    progress = service.Progress(days(360))
    pages = 0
    while not progress.done:
        async with db.tenant(tenant) as session:
            await service.run_page(session, progress, limit=2)
        pages += 1
    assert (pages, progress.wallets, progress.snapshots, progress.taxed) == (3, 5, 5, 5)
    with pytest.raises(ValidationFailed, match="future"):
        async with db.tenant(tenant) as session:
            await service.run(session, on=days(2), today=days(1))


async def test_a_request_cannot_mark_a_tax_paid(db: Database, tenant: str) -> None:
    await wallet(db, tenant, "700", days(0))
    await run(db, tenant, days(360))
    with pytest.raises(DBAPIError, match="permission denied"):
        async with db.tenant(tenant) as session:
            await session.execute(update(HoardingTaxSnapshot).values(tax_paid=True))


def gx_jobs(*args: str, database_url: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "GX_DATABASE_URL")}
    environ["DATABASE_URL"] = database_url
    return subprocess.run(
        [sys.executable, "-m", "gxcore", "jobs", "velocity-tax", *args],
        capture_output=True, text=True, env=environ, timeout=120, check=False,
    )  # fmt: skip


async def test_gx_jobs_velocity_tax_runs_a_date_once_and_refuses_bad_ones(
    db: Database, tenant: str, migrated_url: str
) -> None:
    today = datetime.now(UTC).date()
    on = today - timedelta(days=1)
    owing = await wallet(db, tenant, "700", on - timedelta(days=400))
    await wallet(db, tenant, "90", None)
    for _ in range(2):
        ran = gx_jobs("--tenant", tenant, "--date", on.isoformat(), database_url=migrated_url)
        assert ran.returncode == 0, ran.stderr
        assert "velocity tax" in ran.stdout
    assert len(await snapshots(db, tenant)) == 2
    assert list(await tax_commands(db, tenant)) == [request_id(owing, on)]
    bad = gx_jobs("--tenant", tenant, "--date", "someday", database_url=migrated_url)
    assert bad.returncode == 2 and "--date" in bad.stderr
    ahead = (today + timedelta(days=2)).isoformat()
    future = gx_jobs("--tenant", tenant, "--date", ahead, database_url=migrated_url)
    assert future.returncode == 1 and "future" in future.stderr
    nobody = gx_jobs("--tenant", f"{tenant}-none", database_url=migrated_url)
    assert nobody.returncode == 1 and "no tenant" in nobody.stderr
    assert len(await snapshots(db, tenant)) == 2


# =============================================================================================
# Over HTTP, the whole loop: run -> relay -> ledger -> projector
# =============================================================================================


class Clocks:
    """The ledger's block time and the app's now, moved together."""

    def __init__(self) -> None:
        self.ledger = ManualClock(START)
        self.app = Clock(START)

    def advance(self, **delta: float) -> None:
        self.ledger.advance(**delta)
        self.app.advance(**delta)


@pytest.fixture
async def clocks() -> Clocks:
    return Clocks()


@pytest.fixture
async def loop(scratch_url: str, tenant: str, tmp_path: Any, clocks: Clocks) -> AsyncIterator[Loop]:
    owner = create_engine(scratch_url)
    async with AsyncSession(owner) as session, session.begin():
        await admin_service.seed_countries(session)
    await owner.dispose()
    db = Database.connect(scratch_url, role_key=ROLE_KEY)
    async with db.system(reason="test setup: gx tenant create") as session:
        await admin_service.create_tenant(session, tenant)
        # These stories move most of a balance at once: no transfer waits for a review here.
        await session.execute(
            update(SystemParameter)
            .where(SystemParameter.tenant_id == tenant)
            .where(SystemParameter.param_key == "riskReviewThreshold")
            .values(param_value="101")
        )
    settings = Settings(
        data_dir=tmp_path,
        otp_secret="test-only-otp-secret-0123456789abcdef",
        jwt_secret="test-only-jwt-secret-0123456789abcdefghij",
        environment="test",
    )
    app = per_test(database=db, settings=settings, clock=clocks.app)
    ledger = await EmbeddedLedger.open(scratch_url, clock=clocks.ledger)
    async with ledger, _client(app, tenant) as client:
        boss = await make_user(db, tenant, role="SUPER_ADMIN", status=S.ACTIVE)
        admin = bearer(await signed_in(client, boss.email))
        yield Loop(db, ledger, client, tenant, admin)
    await db.dispose()


async def ledger_balances(url: str, tenant: str) -> dict[str, Decimal]:
    async with server.connect(url) as conn:
        found = await conn.fetch(
            "SELECT account_id, balance FROM ledger.accounts WHERE tenant_id = $1", tenant
        )
    return {r["account_id"]: r["balance"] for r in found}


async def eligibility(loop: Loop, user: dict[str, Any], account: str) -> dict[str, Any]:
    got = await loop.client.get(f"/velocity-tax/eligibility/{account}", headers=user["headers"])
    assert got.status_code == 200, got.text
    return got.json()


async def open_treasury(loop: Loop) -> None:
    async with loop.db.tenant(loop.tenant) as session:  # what the administration will send
        await enqueue(
            session,
            service="svc-admin",
            command_type=CommandType.INITIALIZE_COUNTRY_DATA,
            request_id="countries:GB",
            payload={"countries": [{"code": "GB", "name": "United Kingdom",
                                    "populationShare": "0.01"}]},
        )  # fmt: skip
    await loop.settle()
    opened = await loop.client.post("/treasury", json={"countryCode": "GB"}, headers=loop.admin)
    assert opened.status_code == 202, opened.text
    await loop.settle()


async def advance(loop: Loop, clocks: Clocks, *people: dict[str, Any], **delta: float) -> None:
    """Move both clocks; everyone (the administrator too) signs in again: tokens expired."""
    clocks.advance(**delta)
    async with loop.db.tenant(loop.tenant) as session:
        emails = dict(
            (await session.execute(select(UserProfile.profile_id, UserProfile.email))).all()
        )
    for who in people:
        who["headers"].clear()
        who["headers"].update(bearer(await signed_in(loop.client, emails[who["id"]])))
    async with loop.db.tenant(loop.tenant) as session:
        admin_email = await session.scalar(
            select(UserProfile.email).where(UserProfile.role == "SUPER_ADMIN")
        )
    loop.admin.clear()
    loop.admin.update(bearer(await signed_in(loop.client, admin_email)))


async def send(loop: Loop, sender: dict[str, Any], receiver: dict[str, Any], amount: str) -> None:
    sent = await loop.send(sender, receiver, amount)
    assert sent.status_code == 202, sent.text
    await loop.settle()


async def test_the_whole_loop_taxes_once_marks_the_snapshot_paid_and_conserves_supply(
    loop: Loop, clocks: Clocks, scratch_url: str
) -> None:
    await open_treasury(loop)
    alice = await loop.user()  # 500 from day 0
    bob = await loop.user()
    carol = await loop.user(genesis=False)
    people = (alice, bob, carol)
    await advance(loop, clocks, *people, days=100)
    await send(loop, bob, carol, "420")  # bob: 79.58, below the threshold mid-cycle
    await advance(loop, clocks, *people, days=100)
    await send(loop, carol, bob, "300")  # bob above again from day 200; carol 119.7 since 100
    await advance(loop, clocks, *people, days=160)  # day 360

    views = {who["id"]: await eligibility(loop, who, who["id"]) for who in (alice, bob, carol)}
    assert {k: (v["reason"], v["daysHeld"], v["daysRemaining"], v["taxDue"])
            for k, v in views.items()} == {
        alice["id"]: ("ELIGIBLE", 360, 0, "12.000000000"),
        bob["id"]: ("CYCLE_INCOMPLETE", 160, 200, "0.000000000"),
        carol["id"]: ("CYCLE_INCOMPLETE", 260, 100, "0.000000000"),
    }  # fmt: skip
    assert (
        views[alice["id"]]["treasuryShare"]
        == views[alice["id"]]["redistributionShare"]
        == ("6.000000000")
    )
    supply_before = sum((await ledger_balances(scratch_url, loop.tenant)).values())
    pool_before = (await ledger_balances(scratch_url, loop.tenant))[REDISTRIBUTION_POOL]

    refused = await loop.client.post("/velocity-tax/apply", headers=alice["headers"])
    assert refused.status_code == 403
    applied = await loop.client.post("/velocity-tax/apply", headers=loop.admin)
    assert applied.status_code == 202, applied.text
    assert applied.json() == {
        "date": (START + timedelta(days=360)).date().isoformat(), "wallets": 3, "snapshots": 3,
        "taxed": 1, "taxOwed": "12.000000000",
    }  # fmt: skip
    await loop.settle()

    on_ledger = await ledger_balances(scratch_url, loop.tenant)
    assert sum(on_ledger.values()) == supply_before  # nothing created or destroyed
    assert on_ledger[alice["id"]] == D(488)
    assert on_ledger[REDISTRIBUTION_POOL] - pool_before == D(6)
    assert on_ledger["treasury:GB"] == D(6)
    assert (await loop.balance(alice))["balance"] == "488.000000000"
    treasury = await loop.client.get("/treasury/GB/balance", headers=loop.admin)
    assert treasury.json()["treasury"]["balance"] == "6.000000000"

    async with loop.db.tenant(loop.tenant) as session:
        paid = (
            await session.execute(
                select(HoardingTaxSnapshot).where(HoardingTaxSnapshot.tax_owed > 0)
            )
        ).scalar_one()
        command = (
            await session.execute(
                select(OutboxCommand).where(
                    OutboxCommand.command_type == CommandType.APPLY_VELOCITY_TAX
                )
            )
        ).scalar_one()
        unpaid = await session.scalar(
            select(func.count()).where(HoardingTaxSnapshot.tax_paid.is_(False))
        )
    assert (paid.tax_paid, paid.tax_owed, paid.fabric_tx_id) == (True, D(12), command.fabric_tx_id)
    assert command.status is OutboxStatus.COMMITTED
    assert paid.fabric_tx_id == tx_id_of(
        loop.tenant, request_id(paid.wallet_id, paid.snapshot_date)
    )
    assert paid.paid_at is not None and unpaid == 2

    # The ledger restarted alice's cycle, and the read model with it.
    after = await eligibility(loop, alice, alice["id"])
    assert (after["reason"], after["daysRemaining"], after["aboveThresholdSince"]) == (
        "CYCLE_INCOMPLETE", 360, (START + timedelta(days=360)).date().isoformat(),
    )  # fmt: skip
    again = await loop.client.post("/velocity-tax/apply", json={}, headers=loop.admin)
    assert again.json()["snapshots"] == again.json()["taxed"] == 0

    report = await rebuild(loop.db, loop.ledger, tenant_id=loop.tenant)
    assert report.equal, report.differences  # timers included: the events imply them


async def test_eligibility_is_the_owners_or_an_admins(loop: Loop) -> None:
    alice = await loop.user()
    mallory = await loop.user(genesis=False)
    mine = await eligibility(loop, alice, alice["id"])
    assert (mine["eligible"], mine["reason"], mine["daysRemaining"], mine["balance"]) == (
        False, "CYCLE_INCOMPLETE", 360, "500.000000000",
    )  # fmt: skip
    assert (await eligibility(loop, {"headers": loop.admin}, alice["id"]))["walletId"] == (
        mine["walletId"]
    )
    for account in (alice["id"], "system:fee-pool", "nobody"):
        got = await loop.client.get(
            f"/velocity-tax/eligibility/{account}", headers=mallory["headers"]
        )
        assert_problem(got, 404, "WALLET_NOT_FOUND")


async def test_eligibility_as_of_a_later_day_projects_todays_balance(
    loop: Loop, clocks: Clocks
) -> None:
    alice = await loop.user()  # 500 since today: 400 above the threshold of 100
    today = clocks.app().date()
    path = f"/velocity-tax/eligibility/{alice['id']}"
    for ahead, eligible, due in ((359, False, "0"), (360, True, "12")):
        got = await loop.client.get(
            path, params={"asOf": (today + timedelta(days=ahead)).isoformat()},
            headers=alice["headers"],
        )  # fmt: skip
        assert got.status_code == 200, got.text
        view = got.json()
        assert (view["eligible"], Decimal(view["taxDue"]), view["daysHeld"]) == (
            eligible, Decimal(due), ahead,
        )  # fmt: skip
    # 3% of the 400 above the threshold: half to the treasury, half to the pool.
    assert Decimal(view["treasuryShare"]) == Decimal(view["redistributionShare"]) == 6
    yesterday = (today - timedelta(days=1)).isoformat()
    before = await loop.client.get(path, params={"asOf": yesterday}, headers=alice["headers"])
    assert_problem(before, 422, "VALIDATION_FAILED")


async def test_a_fee_quote_is_the_ledgers_fee_to_the_last_decimal(loop: Loop) -> None:
    alice = await loop.user(genesis=False)
    params = Params.of()
    for amount, fee in (("3", "0"), ("3.000000001", "0.003000000"), ("4.0000005", "0.004000000"), ("4.0000015", "0.004000002"), ("100", "0.1"),
                        ("123.456789012", "0.123456789"), ("0.000000001", "0")):  # fmt: skip
        got = await loop.client.post(
            "/fees/calculate", json={"amount": amount}, headers=alice["headers"]
        )
        assert got.status_code == 200, got.text
        assert got.json()["fee"] == f"{transfer_fee(D(amount), params):f}" == f"{D(fee):f}"
        assert D(got.json()["total"]) == D(amount) + D(fee)
        assert (got.json()["feeBps"], got.json()["feeThreshold"]) == (10, "3.000000000")
    async with loop.db.tenant(loop.tenant) as session:
        before = await session.scalar(select(func.count()).select_from(OutboxCommand))
    for bad in ("0", "-1", "1.0000000001", "NaN", "Infinity", "abc", 1.5e-10, None):
        got = await loop.client.post(
            "/fees/calculate", json={"amount": bad}, headers=alice["headers"]
        )
        assert_problem(got, 422, "VALIDATION_FAILED")
    async with loop.db.tenant(loop.tenant) as session:
        assert await session.scalar(select(func.count()).select_from(OutboxCommand)) == before
    anonymous = await loop.client.post("/fees/calculate", json={"amount": "5"})
    assert anonymous.status_code == 401


async def test_the_job_runs_every_tenant_once_per_date(loop: Loop, clocks: Clocks) -> None:
    await loop.user()
    await advance(loop, clocks, days=360)
    today = clocks.app().date()
    first = await service.run_job(loop.db, on=today, today=today, tenant_id=loop.tenant)
    assert (first[loop.tenant].snapshots, first[loop.tenant].taxed) == (1, 1)
    second = await service.run_job(loop.db, on=today, today=today, tenant_id=loop.tenant)
    assert (second[loop.tenant].snapshots, second[loop.tenant].taxed) == (0, 0)
    future = await loop.client.post(
        "/velocity-tax/apply", json={"date": (today + timedelta(days=1)).isoformat()},
        headers=loop.admin,
    )  # fmt: skip
    assert_problem(future, 422, "VALIDATION_FAILED")
    async with loop.db.system(reason="test: count") as session:
        count = await session.scalar(
            text('SELECT count(*) FROM "HoardingTaxSnapshot" WHERE "tenantId" = :t'),
            {"t": loop.tenant},
        )
    assert count == 1
