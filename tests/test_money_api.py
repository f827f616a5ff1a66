"""Money over HTTP: genesis, transfers with holds and idempotency keys, balances and history.

The real loop on a private database: the app (gx_app, RLS), the outbox relay, the embedded
ledger and the projector, each run in-process until nothing is left to do.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from gxcore.admin import service as admin_service
from gxcore.config import Settings
from gxcore.cqrs import idempotency
from gxcore.cqrs.models import HttpIdempotency, OutboxCommand
from gxcore.cqrs.outbox import enqueue
from gxcore.cqrs.postings import Posting, write_postings
from gxcore.cqrs.projector import Projector
from gxcore.cqrs.rebuild import rebuild
from gxcore.cqrs.relay import Relay
from gxcore.db.engine import PoolConfig, create_engine
from gxcore.db.tenancy import Database
from gxcore.enums import CommandType, OutboxStatus, UserProfileStatus
from gxcore.identity.models import UserProfile
from gxcore.ledger import EmbeddedLedger
from gxcore.ledger.port import LedgerEvent
from gxcore.notifications.models import Notification
from gxcore.wallet.models import Transaction, TransferHold, Wallet
from tests.apps import per_test
from tests.conftest import ROLE_KEY
from tests.test_auth import bearer, make_user, signed_in
from tests.test_registration import Clock, _client, assert_problem
from tests.test_relay import FAST

S = UserProfileStatus


@dataclass
class Loop:
    db: Database
    ledger: EmbeddedLedger
    client: httpx.AsyncClient
    tenant: str
    admin: dict[str, str]

    async def settle(self) -> None:
        """Deliver every due command and project every event, until both are idle."""
        await Relay(self.db, self.ledger, FAST).drain()
        await Projector(self.db, self.ledger, tenant_id=self.tenant).run(once=True)

    async def user(self, *, genesis: bool = True) -> dict[str, Any]:
        """An ACTIVE user with a wallet (and its 500 of genesis), signed in."""
        profile = await make_user(self.db, self.tenant, status=S.PENDING_ADMIN_APPROVAL)
        pid = profile.profile_id
        approved = await self.client.post(f"/admin/users/{pid}/approve", headers=self.admin)
        assert approved.status_code == 200, approved.text
        await self.settle()
        if genesis:
            sent = await self.client.post("/genesis", json={"userId": pid}, headers=self.admin)
            assert sent.status_code == 202, sent.text
            await self.settle()
        tokens = await signed_in(self.client, profile.email)
        return {"id": pid, "headers": bearer(tokens)}

    async def balance(self, user: dict[str, Any]) -> dict[str, Any]:
        got = await self.client.get(f"/wallets/{user['id']}/balance", headers=user["headers"])
        assert got.status_code == 200, got.text
        return got.json()["balance"]

    async def send(
        self, sender: dict[str, Any], receiver: dict[str, Any], amount: Any, **headers: str
    ) -> httpx.Response:
        return await self.client.post(
            "/transfers",
            json={"toUserId": receiver["id"], "amount": amount},
            headers={**sender["headers"], **headers},
        )


@pytest.fixture
async def loop(
    scratch_url: str, tenant: str, tmp_path: Any, pool: PoolConfig
) -> AsyncIterator[Loop]:
    owner = create_engine(scratch_url)  # countries are the owner's, as in `gx db seed`
    async with AsyncSession(owner) as session, session.begin():
        await admin_service.seed_countries(session)
    await owner.dispose()
    db = Database.connect(scratch_url, role_key=ROLE_KEY, pool=pool)
    async with db.system(reason="test setup: gx tenant create") as session:
        await admin_service.create_tenant(session, tenant)  # its BOOTSTRAP_SYSTEM is queued
    settings = Settings(
        data_dir=tmp_path,
        otp_secret="test-only-otp-secret-0123456789abcdef",
        jwt_secret="test-only-jwt-secret-0123456789abcdefghij",
        environment="test",
    )
    app = per_test(database=db, settings=settings, clock=Clock())
    async with await EmbeddedLedger.open(scratch_url) as ledger, _client(app, tenant) as client:
        boss = await make_user(db, tenant, role="SUPER_ADMIN", status=S.ACTIVE)
        admin = bearer(await signed_in(client, boss.email))
        yield Loop(db, ledger, client, tenant, admin)
    await db.dispose()


async def _count(db: Database, tenant: str, model: Any) -> int:
    async with db.tenant(tenant) as s:
        return await s.scalar(select(func.count()).select_from(model)) or 0


# --------------------------------------------------------------------------------------------


async def test_genesis_then_a_transfer_moves_exact_money_through_the_whole_loop(
    loop: Loop,
) -> None:
    alice, bob = await loop.user(), await loop.user()
    assert (await loop.balance(alice))["balance"] == "500.000000000"

    sent = await loop.send(alice, bob, "100.5")
    assert sent.status_code == 202, sent.text
    command_id = sent.json()["commandId"]
    pending = await loop.balance(alice)
    # amount 100.5 + fee 0.1005 (10 bps above the threshold of 3) is held until projected.
    assert (pending["balance"], pending["held"], pending["available"]) == (
        "500.000000000",
        "100.600500000",
        "399.399500000",
    )
    await loop.settle()
    after = await loop.balance(alice)
    assert (after["balance"], after["held"], after["available"]) == (
        "399.399500000",
        "0.000000000",
        "399.399500000",
    )
    assert (await loop.balance(bob))["balance"] == "600.500000000"
    status = await loop.client.get(f"/transfers/{command_id}/status", headers=alice["headers"])
    assert status.json()["status"] == "COMMITTED" and status.json()["txId"]

    history = await loop.client.get(
        f"/wallets/{alice['id']}/transactions", headers=alice["headers"]
    )
    items = history.json()["items"]
    assert [(i["type"], i["amount"], i["fee"]) for i in items] == [
        ("SENT", "100.500000000", "0.100500000"),
        ("MINT", "500.000000000", "0.000000000"),
    ]


async def test_parallel_requests_never_spend_more_than_is_available(loop: Loop) -> None:
    alice, bob = await loop.user(), await loop.user()
    # 20 requests of 30 (+ fee 0.03) against 500: at most 16 fit.
    answers = await asyncio.gather(*(loop.send(alice, bob, "30") for _ in range(20)))
    codes = sorted(a.status_code for a in answers)
    assert codes.count(202) == 16 and codes.count(409) == 4, codes
    refused = next(a for a in answers if a.status_code == 409)
    assert_problem(refused, 409, "INSUFFICIENT_FUNDS")
    assert (await loop.balance(alice))["available"] == "19.520000000"
    await loop.settle()
    assert (await loop.balance(alice))["balance"] == "19.520000000"
    assert (await loop.balance(bob))["balance"] == "980.000000000"
    assert await _count(loop.db, loop.tenant, OutboxCommand) > 0
    async with loop.db.tenant(loop.tenant) as s:
        failed = await s.scalar(
            select(func.count())
            .select_from(OutboxCommand)
            .where(OutboxCommand.status == OutboxStatus.FAILED)
        )
    assert failed == 0


async def test_a_repeated_idempotency_key_moves_the_money_once(loop: Loop) -> None:
    alice, bob = await loop.user(), await loop.user()
    key = {"Idempotency-Key": "pay-rent-2026-12"}
    first = await loop.send(alice, bob, "10", **key)
    again = await loop.send(alice, bob, "10", **key)
    assert first.status_code == again.status_code == 202
    assert first.json() == again.json() and again.headers["Idempotent-Replayed"] == "true"
    other = await loop.send(alice, bob, "11", **key)
    assert_problem(other, 409, "IDEMPOTENCY_CONFLICT")
    await loop.settle()
    assert (await loop.balance(bob))["balance"] == "510.000000000"
    # The same key once settled still answers with the first command, not a second transfer.
    late = await loop.send(alice, bob, "10", **key)
    assert late.json()["commandId"] == first.json()["commandId"]
    await loop.settle()
    assert (await loop.balance(bob))["balance"] == "510.000000000"


async def test_an_idempotency_key_is_its_owners_and_expires(loop: Loop) -> None:
    alice, bob, carol = await loop.user(), await loop.user(), await loop.user()
    key = {"Idempotency-Key": "k-1"}
    first = await loop.send(alice, bob, "10", **key)
    # Another sender's request under the same key is its own, not a replay of alice's.
    theirs = await loop.send(carol, bob, "10", **key)
    assert theirs.status_code == 202 and "Idempotent-Replayed" not in theirs.headers
    assert theirs.json()["commandId"] != first.json()["commandId"]
    # A refused request keeps nothing: fixed, it goes through under the same key.
    assert_problem(await loop.send(bob, carol, "100000", **key), 409, "INSUFFICIENT_FUNDS")
    assert (await loop.send(bob, carol, "1", **key)).status_code == 202

    async with loop.db.system(reason="test: age alice's key") as session:
        (kept,) = (
            await session.scalars(
                select(HttpIdempotency).where(
                    HttpIdempotency.tenant_id == loop.tenant,
                    HttpIdempotency.profile_id == alice["id"],
                )
            )
        ).all()
        assert (kept.idempotency_key, kept.status_code) == ("k-1", 202)
        assert kept.ttl_expires_at is not None
        assert kept.ttl_expires_at - kept.created_at == timedelta(hours=24)
        kept.ttl_expires_at = datetime.now(UTC) - timedelta(seconds=1)
    # Expired, the key is free again: the same request is a new transfer.
    renewed = await loop.send(alice, bob, "10", **key)
    assert renewed.status_code == 202 and "Idempotent-Replayed" not in renewed.headers
    assert renewed.json()["commandId"] != first.json()["commandId"]
    await loop.settle()
    assert (await loop.balance(bob))["balance"] == "529.000000000"  # 500 + 10 + 10 - 1 + 10


async def test_expired_idempotency_keys_are_deleted_by_the_cleanup_job(loop: Loop) -> None:
    alice, bob = await loop.user(), await loop.user()
    for key in ("old", "new"):
        assert (await loop.send(alice, bob, "1", **{"Idempotency-Key": key})).status_code == 202
    now = datetime.now(UTC)
    async with loop.db.system(reason="test: age one key") as session:
        old = await session.get(
            HttpIdempotency, (loop.tenant, alice["id"], "POST", "/transfers", "old")
        )
        assert old is not None
        old.ttl_expires_at = now - timedelta(minutes=1)
    async with loop.db.system(reason="test: gx jobs cleanup") as session:
        assert await idempotency.delete_expired(session=session, now=now) == 1
    async with loop.db.system(reason="test: what is left") as session:
        left = (await session.scalars(select(HttpIdempotency.idempotency_key))).all()
    assert left == ["new"]


async def _notices(loop: Loop, profile_id: str) -> list[tuple[str, str]]:
    async with loop.db.tenant(loop.tenant) as session:
        rows = await session.execute(
            select(Notification.type, Notification.message)
            .where(Notification.recipient_id == profile_id)
            .order_by(Notification.created_at, Notification.message)
        )
        return [(t.value, m) for t, m in rows]


async def test_balance_changes_notify_each_owner_once_even_after_a_rebuild(loop: Loop) -> None:
    alice, bob = await loop.user(), await loop.user()
    assert (await loop.send(alice, bob, "100")).status_code == 202
    await loop.settle()
    genesis = ("WALLET_CREDITED", "Your genesis allocation of 500.000000000 GX arrived")
    expected = {
        alice["id"]: [genesis, ("WALLET_DEBITED", "You sent 100.000000000 GX (fee 0.100000000)")],
        bob["id"]: [genesis, ("WALLET_CREDITED", "You received 100.000000000 GX")],
    }
    assert {pid: await _notices(loop, pid) for pid in expected} == expected
    async with loop.db.system(reason="test: lose the history") as session:
        await session.execute(delete(Transaction).where(Transaction.tenant_id == loop.tenant))
    report = await rebuild(loop.db, loop.ledger, tenant_id=loop.tenant, apply=True)
    assert report.committed and await _count(loop.db, loop.tenant, Transaction) == 4
    assert {pid: await _notices(loop, pid) for pid in expected} == expected


@pytest.mark.parametrize(
    "amount", ["0", "-1", "1.0000000001", "NaN", "Infinity", "abc", 0.1 + 0.2, None, True, []]
)
async def test_an_amount_that_is_not_exact_positive_money_is_a_422_and_writes_nothing(
    loop: Loop, amount: Any
) -> None:
    alice, bob = await loop.user(genesis=False), await loop.user(genesis=False)
    before = await _count(loop.db, loop.tenant, OutboxCommand)
    answer = await loop.send(alice, bob, amount)
    assert answer.status_code == 422, answer.text
    assert "amount" in answer.text
    assert await _count(loop.db, loop.tenant, OutboxCommand) == before
    assert await _count(loop.db, loop.tenant, TransferHold) == 0


async def test_an_exact_json_number_is_accepted(loop: Loop) -> None:
    alice, bob = await loop.user(), await loop.user()
    assert (await loop.send(alice, bob, 2.5)).status_code == 202
    await loop.settle()
    assert (await loop.balance(bob))["balance"] == "502.500000000"


async def test_another_users_wallet_and_transfer_are_not_found(loop: Loop) -> None:
    alice, bob = await loop.user(), await loop.user()
    sent = await loop.send(alice, bob, "1")
    for path, code in (
        (f"/wallets/{alice['id']}/balance", "WALLET_NOT_FOUND"),
        (f"/wallets/{alice['id']}/transactions", "WALLET_NOT_FOUND"),
        (f"/transfers/{sent.json()['commandId']}/status", "TRANSFER_NOT_FOUND"),
    ):
        assert_problem(await loop.client.get(path, headers=bob["headers"]), 404, code)
    # An administrator sees both.
    for path in (
        f"/wallets/{alice['id']}/balance",
        f"/transfers/{sent.json()['commandId']}/status",
    ):
        assert (await loop.client.get(path, headers=loop.admin)).status_code == 200


async def test_a_frozen_sender_or_receiver_cannot_move_money(loop: Loop) -> None:
    alice, bob = await loop.user(), await loop.user()
    async with loop.db.system(reason="test: the ledger froze bob") as s:
        profile = await s.get(UserProfile, bob["id"])
        assert profile is not None
        profile.onchain_status = "FROZEN"
    assert_problem(await loop.send(alice, bob, "1"), 409, "WALLET_FROZEN")
    assert (await loop.balance(bob))["isFrozen"] is True
    assert await _count(loop.db, loop.tenant, TransferHold) == 0


async def test_an_admin_freezes_a_wallet_on_the_ledger_and_lifts_the_freeze(loop: Loop) -> None:
    alice, bob = await loop.user(), await loop.user()
    wallet = (await loop.balance(bob))["walletId"]

    async def act(action: str, headers: dict[str, str], expect: int) -> httpx.Response:
        url = f"/wallets/{wallet}/{action}"
        answer = await loop.client.post(url, json={"reason": "fraud check"}, headers=headers)
        assert answer.status_code == expect, answer.text
        await loop.settle()
        return answer

    assert_problem(await act("freeze", bob["headers"], 403), 403, "FORBIDDEN")
    await act("freeze", loop.admin, 202)
    # The ledger's WalletFrozen, projected: the wallet and its owner are frozen.
    seen = await loop.client.get(f"/wallets/{bob['id']}/balance", headers=loop.admin)
    assert seen.json()["balance"]["isFrozen"] is True
    mine = await loop.client.get(f"/wallets/{bob['id']}/balance", headers=bob["headers"])
    assert_problem(mine, 403, "ACCOUNT_FROZEN")
    assert_problem(await loop.send(alice, bob, "1"), 409, "WALLET_FROZEN")
    await act("unfreeze", loop.admin, 202)
    assert (await loop.balance(bob))["isFrozen"] is False
    assert (await loop.send(bob, alice, "1")).status_code == 202
    await loop.settle()
    assert (await loop.balance(alice))["balance"] == "501.000000000"
    for payload in ({}, {"reason": ""}):
        refused = await loop.client.post(f"/wallets/{wallet}/freeze", json=payload,
                                         headers=loop.admin)  # fmt: skip
        assert_problem(refused, 422, "VALIDATION_FAILED")
    unknown = await loop.client.post(
        "/wallets/no-such-wallet/freeze", json={"reason": "x"}, headers=loop.admin
    )
    assert_problem(unknown, 404, "WALLET_NOT_FOUND")


async def test_sending_to_oneself_or_to_nobody_is_refused(loop: Loop) -> None:
    alice = await loop.user()
    assert_problem(await loop.send(alice, alice, "1"), 422, "SELF_TRANSFER")
    assert_problem(await loop.send(alice, {"id": "no-such-user"}, "1"), 404, "USER_NOT_FOUND")


async def test_history_pages_newest_first_and_filters_by_type(loop: Loop) -> None:
    alice, bob = await loop.user(), await loop.user()
    for amount in ("1", "2", "3"):
        assert (await loop.send(alice, bob, amount)).status_code == 202
        await loop.settle()
    path = f"/wallets/{alice['id']}/transactions"
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await loop.client.get(path, params=params, headers=alice["headers"])).json()
        seen += [i["amount"] for i in page["items"]]
        if not (cursor := page["nextCursor"]):
            break
    assert seen == ["3.000000000", "2.000000000", "1.000000000", "500.000000000"]
    sent_only = await loop.client.get(path, params={"type": "SENT"}, headers=alice["headers"])
    assert [i["type"] for i in sent_only.json()["items"]] == ["SENT"] * 3
    bad = await loop.client.get(path, params={"cursor": "nonsense"}, headers=alice["headers"])
    assert_problem(bad, 400, "INVALID_CURSOR")


async def test_the_balance_at_an_instant_is_the_sum_of_the_history_until_then(
    loop: Loop,
) -> None:
    alice, bob = await loop.user(), await loop.user()
    await loop.send(alice, bob, "40")
    await loop.settle()
    async with loop.db.tenant(loop.tenant) as s:
        sent_at = await s.scalar(
            select(Transaction.timestamp).join(Wallet).where(Wallet.profile_id == alice["id"])
            .order_by(Transaction.timestamp.desc()).limit(1)
        )  # fmt: skip
    live = await loop.balance(alice)
    params = {"at": sent_at.isoformat()}
    then = await loop.client.get(
        f"/wallets/{alice['id']}/balance", params=params, headers=alice["headers"]
    )
    assert then.json()["balance"]["balance"] == live["balance"] == "459.960000000"


async def test_an_admin_opens_a_treasury_and_reads_its_balance(loop: Loop) -> None:
    user = await loop.user(genesis=False)
    assert_problem(await loop.client.get("/treasury/NG/balance", headers=loop.admin), 404,
                   "TREASURY_NOT_FOUND")  # fmt: skip
    for body, code in (({"countryCode": "ZZ"}, "VALIDATION_FAILED"), ({}, "VALIDATION_FAILED")):
        refused = await loop.client.post("/treasury", json=body, headers=loop.admin)
        assert_problem(refused, 422, code)
    assert (await loop.client.post("/treasury", json={"countryCode": "NG"},
                                   headers=user["headers"])).status_code == 403  # fmt: skip
    before = await _count(loop.db, loop.tenant, OutboxCommand)
    unknown = await loop.client.post("/treasury", json={"countryCode": "NG"}, headers=loop.admin)
    assert_problem(unknown, 409, "COUNTRY_NOT_INITIALIZED")
    assert await _count(loop.db, loop.tenant, OutboxCommand) == before
    async with loop.db.tenant(loop.tenant) as session:  # what the administration will send
        await enqueue(
            session,
            service="svc-admin",
            command_type=CommandType.INITIALIZE_COUNTRY_DATA,
            request_id="countries:NG",
            payload={"countries": [{"code": "NG", "name": "Nigeria", "populationShare": "0.02"}]},
        )
    await loop.settle()
    opened = await loop.client.post("/treasury", json={"countryCode": "ng"}, headers=loop.admin)
    assert opened.status_code == 202, opened.text
    await loop.settle()
    status = await loop.client.get(
        f"/transfers/{opened.json()['commandId']}/status", headers=loop.admin
    )
    assert status.json()["status"] == "COMMITTED", status.text
    read = await loop.client.get("/treasury/ng/balance", headers=loop.admin)
    assert read.status_code == 200, read.text
    treasury = read.json()["treasury"]
    assert (treasury["countryCode"], treasury["balance"]) == ("NG", "0.000000000")
    assert (
        await loop.client.get("/treasury/NG/balance", headers=user["headers"])
    ).status_code == 403

    # Its balance follows the ledger account like a wallet's: the projector's balance statement.
    event = LedgerEvent(
        tenant_id=loop.tenant, tx_id="tx-tax", block_number=10**6, event_index=0,
        channel="gx", chaincode="gx", name="VelocityTaxApplied", version="1",
        timestamp=datetime.now(UTC), payload={},
    )  # fmt: skip
    async with loop.db.system(reason="test: a tax credited to the treasury") as session:
        await write_postings(session, [(event, Posting(treasury["accountId"], Decimal("1.5")))])
    moved = (await loop.client.get("/treasury/NG/balance", headers=loop.admin)).json()
    assert moved["treasury"]["balance"] == "1.500000000"


async def test_only_an_admin_distributes_genesis_and_only_once(loop: Loop) -> None:
    alice = await loop.user(genesis=False)
    refused = await loop.client.post(
        "/genesis", json={"userId": alice["id"]}, headers=alice["headers"]
    )
    assert_problem(refused, 403, "FORBIDDEN")
    for _ in range(2):
        sent = await loop.client.post("/genesis", json={"userId": alice["id"]}, headers=loop.admin)
        assert sent.status_code == 202
        await loop.settle()
    assert (await loop.balance(alice))["balance"] == "500.000000000"
    # The tenant's bootstrap, CREATE_USER and one genesis.
    assert await _count(loop.db, loop.tenant, OutboxCommand) == 3


# --------------------------------------------------------------------------------------------
# Limits
# --------------------------------------------------------------------------------------------


async def _limit(loop: Loop, **body: Any) -> dict[str, Any]:
    made = await loop.client.post("/limits", json=body, headers=loop.admin)
    assert made.status_code == 201, made.text
    return made.json()


async def test_concurrent_opposite_transfers_all_finish_and_conserve_money(loop: Loop) -> None:
    alice, bob = await loop.user(), await loop.user()
    # Each side holds its own balance while the other credits it: no lock order can cross.
    calls = [loop.send(a, b, "7") for _ in range(10) for a, b in ((alice, bob), (bob, alice))]
    answers = await asyncio.wait_for(asyncio.gather(*calls), timeout=60)
    assert [a.status_code for a in answers] == [202] * 20, [a.text for a in answers]
    await loop.settle()
    fee = Decimal(7) * 10 / 10_000  # 10 bps, charged to each sender of each transfer
    seen = [await loop.balance(u) for u in (alice, bob)]
    assert [Decimal(b["balance"]) for b in seen] == [Decimal(500) - 10 * fee] * 2
    assert [b["held"] for b in seen] == ["0.000000000"] * 2  # every hold released
    async with loop.db.tenant(loop.tenant) as s:
        sent = await s.scalar(
            select(func.count()).select_from(Transaction).where(Transaction.type == "SENT")
        )
    assert sent == 20


async def test_parallel_requests_cannot_break_a_daily_limit(loop: Loop) -> None:
    alice, bob = await loop.user(), await loop.user()
    await _limit(loop, limitType="DAILY_SEND", limitAmount="50", profileId=alice["id"])
    answers = await asyncio.gather(*(loop.send(alice, bob, "10") for _ in range(8)))
    assert sorted(a.status_code for a in answers) == [202] * 5 + [422] * 3
    refused = next(a for a in answers if a.status_code == 422)
    body = assert_problem(refused, 422, "LIMIT_EXCEEDED")
    assert (body["limitType"], body["remaining"]) == ("DAILY_SEND", "0.000000000")
    await loop.settle()
    # Projected, the day's sends still count: history now instead of holds.
    assert_problem(await loop.send(alice, bob, "0.5"), 422, "LIMIT_EXCEEDED")
    assert (await loop.balance(bob))["balance"] == "550.000000000"


async def test_the_most_specific_limit_wins(loop: Loop) -> None:
    alice, bob = await loop.user(), await loop.user()
    await _limit(loop, limitType="SINGLE_TRANSACTION", limitAmount="5")  # the tenant's default
    assert_problem(await loop.send(bob, alice, "6"), 422, "LIMIT_EXCEEDED")
    async with loop.db.tenant(loop.tenant) as s:
        wallet_id = await s.scalar(select(Wallet.wallet_id).where(Wallet.profile_id == alice["id"]))
    await _limit(loop, limitType="SINGLE_TRANSACTION", limitAmount="1", profileId=alice["id"])
    await _limit(loop, limitType="SINGLE_TRANSACTION", limitAmount="100", walletId=wallet_id)
    assert (await loop.send(alice, bob, "60")).status_code == 202  # the wallet's 100
    listed = await loop.client.get("/limits", params={"profileId": alice["id"]}, headers=loop.admin)
    assert [entry["limitAmount"] for entry in listed.json()["items"]] == ["1.000000000"]


async def test_a_receive_limit_and_a_velocity_check(loop: Loop) -> None:
    alice, bob, carol = await loop.user(), await loop.user(), await loop.user()
    await _limit(loop, limitType="DAILY_RECEIVE", limitAmount="15", profileId=carol["id"])
    assert (await loop.send(alice, carol, "10")).status_code == 202
    body = assert_problem(await loop.send(bob, carol, "10"), 422, "LIMIT_EXCEEDED")
    assert body["remaining"] == "5.000000000"
    await _limit(
        loop, limitType="VELOCITY_CHECK", maxCount=2, timeWindowMinutes=60, profileId=bob["id"]
    )
    assert (await loop.send(bob, alice, "1")).status_code == 202
    assert (await loop.send(bob, alice, "1")).status_code == 202
    assert_problem(await loop.send(bob, alice, "1"), 422, "LIMIT_EXCEEDED")


async def test_a_limit_is_validated_ended_and_only_for_admins(loop: Loop) -> None:
    alice = await loop.user(genesis=False)
    velocity = await loop.client.post(
        "/limits", json={"limitType": "VELOCITY_CHECK"}, headers=loop.admin
    )
    assert_problem(velocity, 422, "VALIDATION_FAILED")
    nobody = await loop.client.post(
        "/limits", json={"limitType": "DAILY_SEND", "profileId": "nobody"}, headers=loop.admin
    )
    assert_problem(nobody, 404, "USER_NOT_FOUND")
    mine = await loop.client.post(
        "/limits", json={"limitType": "DAILY_SEND"}, headers=alice["headers"]
    )
    assert_problem(mine, 403, "FORBIDDEN")
    made = await _limit(loop, limitType="DAILY_SEND", limitAmount="1")
    ended = await loop.client.delete(f"/limits/{made['limitId']}", headers=loop.admin)
    assert ended.json()["isActive"] is False
    again = await loop.client.delete(f"/limits/{made['limitId']}", headers=loop.admin)
    assert_problem(again, 404, "LIMIT_NOT_FOUND")
