"""Paying a business account over HTTP (`POST /transfers` with `toBusinessAccountId`), through
the real loop: relay, ledger (TRANSFER_TOKENS to the organization's account) and projector."""

# ruff: noqa: F811  (the `loop` and `biz` fixtures imported below)

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import func, select, update

from gxcore.admin import service as admin_service
from gxcore.admin.models import SystemParameter
from gxcore.audit.models import AuditLog
from gxcore.cqrs.models import OutboxCommand
from gxcore.enums import AuditEventType, OffChainTxType, UserProfileStatus
from gxcore.identity.models import UserProfile
from gxcore.ledger.rows import FEE_POOL
from gxcore.wallet.models import Transaction, TransferHold, Wallet
from tests.cqrs_end_state import ledger_rows
from tests.test_auth import bearer, make_user, signed_in
from tests.test_business_accounts import ORG, Biz, _balance, biz, pay  # noqa: F401
from tests.test_money_api import Loop, loop  # noqa: F401
from tests.test_registration import _client, assert_problem
from tests.test_sweep import _snapshot

FEE_BPS = Decimal(10) / 10_000  # the ledger's default transfer fee, above 3 coins


async def _ledger(url: str, tenant: str) -> dict[str, Decimal]:
    return {r["account_id"]: r["balance"] for r in await ledger_rows(url, "accounts", [tenant])}


async def _commands(loop: Loop) -> int:
    async with loop.db.tenant(loop.tenant) as session:
        return await session.scalar(select(func.count()).select_from(OutboxCommand)) or 0


async def _fabric_id(loop: Loop, user: dict[str, Any]) -> str:
    async with loop.db.tenant(loop.tenant) as session:
        profile = await session.get(UserProfile, user["id"])
        assert profile is not None and profile.fabric_user_id
        return profile.fabric_user_id


# --------------------------------------------------------------------------------------------


async def test_a_user_pays_a_business_account_which_then_pays_out_with_its_approvals(
    biz: Biz, scratch_url: str
) -> None:
    loop = biz.loop
    customer = await loop.user()
    before = await _ledger(scratch_url, loop.tenant)
    assert before[ORG] == Decimal(300)  # the owner's payment in the fixture, also over HTTP

    paid = await pay(loop, customer, biz.account_id, "120.5", remark="invoice 7")
    assert paid.status_code == 202 and paid.json()["status"] == "PENDING", paid.text
    fee = Decimal("120.5") * FEE_BPS
    async with loop.db.tenant(loop.tenant) as session:
        hold = await session.scalar(
            select(TransferHold).where(TransferHold.command_id == paid.json()["commandId"])
        )
        assert hold is not None and hold.receiver_wallet_id == biz.wallet_id
        assert (hold.amount, hold.fee) == (Decimal("120.5"), fee)
        command = await session.get(OutboxCommand, paid.json()["commandId"])
        assert command is not None and command.payload["receiverId"] == ORG
    assert (await loop.balance(customer))[
        "available"
    ] == f"{Decimal(500) - Decimal('120.5') - fee:.9f}"
    await loop.settle()

    status = await loop.client.get(
        f"/transfers/{paid.json()['commandId']}/status", headers=customer["headers"]
    )
    assert status.json()["status"] == "COMMITTED", status.text
    assert await _balance(loop, ORG) == "420.500000000"
    got = await loop.balance(customer)
    assert got["balance"] == f"{Decimal(500) - Decimal('120.5') - fee:.9f}" and got["held"] == (
        "0.000000000"
    )
    after = await _ledger(scratch_url, loop.tenant)
    assert sum(after.values()) == sum(before.values())  # supply conserved
    assert after[FEE_POOL] - before[FEE_POOL] == fee
    async with loop.db.tenant(loop.tenant) as session:
        received = (
            await session.scalars(
                select(Transaction).where(
                    Transaction.wallet_id == biz.wallet_id,
                    Transaction.type == OffChainTxType.RECEIVED,
                    Transaction.amount == Decimal("120.5"),
                )
            )
        ).one()
        assert received.counterparty == await _fabric_id(loop, customer)
        assert (received.fee, received.remark) == (Decimal(0), "invoice 7")
        initiated = (
            await session.scalars(
                select(AuditLog).where(
                    AuditLog.event_type == AuditEventType.TRANSACTION_INITIATED,
                    AuditLog.resource_id == paid.json()["commandId"],
                )
            )
        ).one()
        assert initiated.new_value["toBusinessAccountId"] == biz.account_id

    # The business pays out of that money with its signatories' approvals: 400 > the 300 it
    # had before the customer paid.
    sent = await biz.send(biz.bob, "400")
    assert sent.status_code == 202, sent.text
    assert (await biz.vote(biz.carol, sent.json()["approvalId"])).json()["status"] == "APPROVED"
    await loop.settle()
    await loop.settle()
    assert (await loop.balance(biz.payee))["balance"] == "400.000000000"
    assert await _balance(loop, ORG) == "20.100000000"  # 420.5 - 400 - fee 0.4
    assert sum((await _ledger(scratch_url, loop.tenant)).values()) == sum(before.values())


async def test_a_payment_is_replayed_under_its_idempotency_key(biz: Biz) -> None:
    loop = biz.loop
    customer = await loop.user()
    key = {"Idempotency-Key": "order-42"}
    first = await loop.client.post(
        "/transfers",
        json={"toBusinessAccountId": biz.account_id, "amount": "10"},
        headers={**customer["headers"], **key},
    )
    again = await loop.client.post(
        "/transfers",
        json={"toBusinessAccountId": biz.account_id, "amount": "10"},
        headers={**customer["headers"], **key},
    )
    assert first.status_code == again.status_code == 202, again.text
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["commandId"] == first.json()["commandId"]
    other = await loop.client.post(
        "/transfers",
        json={"toUserId": biz.payee["id"], "amount": "10"},
        headers={**customer["headers"], **key},
    )
    assert_problem(other, 409, "IDEMPOTENCY_CONFLICT")  # the key names another receiver
    await loop.settle()
    assert await _balance(loop, ORG) == "310.000000000"  # once


async def test_receiver_checks_for_people_do_not_follow_the_business_account(biz: Biz) -> None:
    """The wallet's owner profile is the organization's proposer: its receive limits and its
    contacts' block list are a person's, not the business account's; the wallet's own limits
    apply."""
    loop = biz.loop
    customer = await loop.user()
    limit = await loop.client.post(
        "/limits",
        json={"limitType": "DAILY_RECEIVE", "limitAmount": "1", "profileId": biz.owner["id"]},
        headers=loop.admin,
    )
    assert limit.status_code == 201, limit.text
    blocked = await loop.client.post(
        "/contacts",
        json={"displayName": "C", "contactProfileId": customer["id"]},
        headers=biz.owner["headers"],
    )
    assert blocked.status_code == 201, blocked.text
    updated = await loop.client.patch(
        f"/contacts/{blocked.json()['contactId']}",
        json={"status": "BLOCKED"},
        headers=biz.owner["headers"],
    )
    assert updated.status_code == 200, updated.text
    # The owner in person refuses both ...
    assert_problem(await loop.send(customer, biz.owner, "5"), 409, "CONTACT_BLOCKED")
    # ... the business account takes the payment.
    assert (await pay(loop, customer, biz.account_id, "5")).status_code == 202
    wallet_limit = await loop.client.post(
        "/limits",
        json={"limitType": "DAILY_RECEIVE", "limitAmount": "8", "walletId": biz.wallet_id},
        headers=loop.admin,
    )
    assert wallet_limit.status_code == 201, wallet_limit.text
    body = assert_problem(await pay(loop, customer, biz.account_id, "5"), 422, "LIMIT_EXCEEDED")
    assert body["limitType"] == "DAILY_RECEIVE"


async def test_a_suspended_or_frozen_business_account_takes_no_payment(biz: Biz) -> None:
    loop = biz.loop
    customer = await loop.user()
    got = await loop.client.get(
        f"/business-accounts/{biz.account_id}", headers=biz.owner["headers"]
    )
    org_profile = got.json()["orgProfileId"]
    suspended = await loop.client.post(
        f"/admin/organization-profiles/{org_profile}/suspend",
        json={"reason": "audit"},
        headers=loop.admin,
    )
    assert suspended.status_code == 200, suspended.text
    commands = await _commands(loop)
    refused = await pay(loop, customer, biz.account_id, "5")
    assert_problem(refused, 409, "ORGANIZATION_NOT_VERIFIED")
    assert await _commands(loop) == commands
    verified = await loop.client.post(
        f"/admin/organization-profiles/{org_profile}/verify", headers=loop.admin
    )
    assert verified.status_code == 200, verified.text
    frozen = await loop.client.post(
        f"/wallets/{biz.wallet_id}/freeze", json={"reason": "audit"}, headers=loop.admin
    )
    assert frozen.status_code == 202, frozen.text
    await loop.settle()
    commands = await _commands(loop)
    body = assert_problem(await pay(loop, customer, biz.account_id, "5"), 409, "WALLET_FROZEN")
    assert body["side"] == "receiver"
    assert await _commands(loop) == commands  # nothing written
    assert (await loop.balance(customer))["held"] == "0.000000000"


async def test_both_or_neither_receiver_is_a_422_naming_the_fields(biz: Biz) -> None:
    loop = biz.loop
    customer = await loop.user()
    commands = await _commands(loop)
    for body in (
        {"amount": "5"},
        {"toUserId": biz.payee["id"], "toBusinessAccountId": biz.account_id, "amount": "5"},
    ):
        answer = await loop.client.post("/transfers", json=body, headers=customer["headers"])
        problem = assert_problem(answer, 422, "VALIDATION_FAILED")
        assert {e["field"] for e in problem["errors"]} == {"toUserId", "toBusinessAccountId"}
    assert await _commands(loop) == commands


async def test_an_unknown_or_another_tenants_business_account_is_404_and_writes_nothing(
    biz: Biz,
) -> None:
    loop = biz.loop
    customer = await loop.user()
    before = await _snapshot(loop.db, loop.tenant)
    unknown = await pay(loop, customer, "00000000-0000-0000-0000-000000000000", "5")
    body = assert_problem(unknown, 404, "BUSINESS_ACCOUNT_NOT_FOUND")
    assert body["errors"][0]["field"] == "toBusinessAccountId"
    assert await _snapshot(loop.db, loop.tenant) == before

    # Another tenant's user, with a funded wallet of its own, names this tenant's account.
    other = f"{loop.tenant}-b"
    async with loop.db.system(reason="test setup: another tenant and its wallet") as session:
        await admin_service.create_tenant(session, other)
    mallory = await make_user(loop.db, other, status=UserProfileStatus.ACTIVE,
                              fabric_user_id=f"{other}-mallory")  # fmt: skip
    async with loop.db.system(reason="test setup: the projector's wallet") as session:
        session.add(
            Wallet(
                tenant_id=other,
                profile_id=mallory.profile_id,
                primary_account_id=f"{other}-mallory",
                wallet_name="Main",
                cached_balance=Decimal(100),
            )
        )
    async with _client(loop.client._transport.app, other) as elsewhere:  # type: ignore[attr-defined]
        headers = bearer(await signed_in(elsewhere, mallory.email))
        control = await elsewhere.get(f"/wallets/{mallory.profile_id}/balance", headers=headers)
        assert control.json()["balance"]["available"] == "100.000000000"
        theirs_before = await _snapshot(loop.db, other)  # sign-in written
        answer = await elsewhere.post(
            "/transfers",
            json={"toBusinessAccountId": biz.account_id, "amount": "5"},
            headers=headers,
        )
    assert_problem(answer, 404, "BUSINESS_ACCOUNT_NOT_FOUND")
    assert await _snapshot(loop.db, other) == theirs_before
    assert await _snapshot(loop.db, loop.tenant) == before


async def test_a_payment_held_for_review_names_the_business_account_and_is_delivered(
    biz: Biz,
) -> None:
    loop = biz.loop
    customer = await loop.user()
    async with loop.db.system(reason="test: an operator lowers the threshold") as s:
        await s.execute(
            update(SystemParameter)
            .where(
                SystemParameter.tenant_id == loop.tenant,
                SystemParameter.param_key == "riskReviewThreshold",
            )
            .values(param_value="1")
        )
    paid = await pay(loop, customer, biz.account_id, "7")
    assert paid.json()["status"] == "HELD", paid.text
    queue = await loop.client.get("/admin/transfers/held", headers=loop.admin)
    (item,) = queue.json()["items"]
    assert (item["commandId"], item["receiverBusinessAccountId"]) == (
        paid.json()["commandId"],
        biz.account_id,
    )
    assert item["receiverId"] == biz.owner["id"]  # the wallet's owner: the proposer
    released = await loop.client.post(
        f"/admin/transfers/{item['commandId']}/release",
        json={"reason": "a known customer"},
        headers=loop.admin,
    )
    assert released.status_code == 200, released.text
    assert released.json()["receiverBusinessAccountId"] == biz.account_id
    await loop.settle()
    assert await _balance(loop, ORG) == "307.000000000"
