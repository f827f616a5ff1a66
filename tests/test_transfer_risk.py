"""Transfer risk: every request scored from named factors; risky ones HELD for an admin's review.

The real loop (`tests.test_money_api.loop`): HTTP, relay, embedded ledger and projector.
"""

# ruff: noqa: F811  (every test takes the `loop` fixture imported below)

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select, update

from gxcore.admin.models import SystemParameter
from gxcore.cqrs import operator
from gxcore.cqrs.models import OutboxCommand
from gxcore.enums import AuditEventType, NotificationType, OutboxStatus, UserProfileStatus
from gxcore.notifications.models import Notification
from gxcore.wallet.models import TransactionRiskScore
from gxcore.wallet.risk import Facts, factors
from tests.factories import register_tenant
from tests.test_auth import PASSWORD, bearer, events, make_user
from tests.test_money_api import Loop, loop  # noqa: F401
from tests.test_registration import assert_problem

#: A new account's first send, to a new receiver, from an untrusted device: 20 + 15 + 15 + 20.
FIRST_SEND_SCORE = 70


async def _score(loop: Loop, command_id: str) -> TransactionRiskScore:
    async with loop.db.tenant(loop.tenant) as s:
        found = await s.scalar(
            select(TransactionRiskScore).where(TransactionRiskScore.command_id == command_id)
        )
    assert found is not None
    return found


async def _status(loop: Loop, user: dict[str, Any], command_id: str) -> dict[str, Any]:
    got = await loop.client.get(f"/transfers/{command_id}/status", headers=user["headers"])
    assert got.status_code == 200, got.text
    return got.json()


REVIEWS = (NotificationType.TRANSACTION_APPROVED, NotificationType.TRANSACTION_REJECTED)


async def _inbox(loop: Loop, user: dict[str, Any]) -> list[NotificationType]:
    """The user's review notices (balance changes notify too, see test_money_api)."""
    async with loop.db.tenant(loop.tenant) as s:
        rows = await s.scalars(
            select(Notification.type).where(
                Notification.recipient_id == user["id"], Notification.type.in_(REVIEWS)
            )
        )
        return list(rows)


async def _held(loop: Loop) -> tuple[dict[str, Any], dict[str, Any], str]:
    """A new account sending 460 of its 500 to a stranger: 90 points, HELD at the default 80."""
    alice, bob = await loop.user(), await loop.user()
    sent = await loop.send(alice, bob, "460")
    assert sent.status_code == 202, sent.text
    assert sent.json()["status"] == "HELD"
    return alice, bob, sent.json()["commandId"]


def _points(score: TransactionRiskScore) -> dict[str, int]:
    return {f["name"]: f["points"] for f in score.risk_factors}


# --------------------------------------------------------------------------------------------


async def test_a_low_risk_transfer_is_scored_with_its_factors_and_flows_as_before(
    loop: Loop,
) -> None:
    alice, bob = await loop.user(), await loop.user()
    devices = await loop.client.get(f"/users/{alice['id']}/devices", headers=alice["headers"])
    device = devices.json()["items"][0]["deviceId"]
    trusted = await loop.client.post(
        f"/users/{alice['id']}/devices/{device}/trust", headers=alice["headers"]
    )
    assert trusted.status_code == 200, trusted.text

    first = await loop.send(alice, bob, "50")
    assert first.json()["status"] == "PENDING"
    score = await _score(loop, first.json()["commandId"])
    assert _points(score) == {
        "amount": 20,  # no history yet
        "drain": 0,
        "velocity": 0,
        "newCounterparty": 15,
        "newDevice": 0,  # trusted
        "accountAge": 20,
    }
    assert (score.risk_score, score.requires_review, score.off_tx_id) == (55, False, None)
    by_name = {f["name"]: f["facts"] for f in score.risk_factors}
    assert by_name["newDevice"] == {"deviceId": device, "trusted": True}
    assert by_name["drain"] == {"required": "50.050000000", "available": "500.000000000"}

    # Once sent, the same amount to the same receiver is usual; the burst is not one yet.
    await loop.settle()
    assert (await _status(loop, alice, first.json()["commandId"]))["status"] == "COMMITTED"
    second = await loop.send(alice, bob, "50")
    again = await _score(loop, second.json()["commandId"])
    assert _points(again) == {
        "amount": 0,
        "drain": 0,
        "velocity": 0,
        "newCounterparty": 0,
        "newDevice": 0,
        "accountAge": 20,
    }
    amount = next(f["facts"] for f in again.risk_factors if f["name"] == "amount")
    assert amount == {
        "amount": "50.000000000",
        "sentCount": 1,
        "sentMax": "50.000000000",
        "ratioToAverage": "1.00",
        "sentAverage": "50.000000000",
    }
    await loop.settle()
    assert (await loop.balance(bob))["balance"] == "600.000000000"


async def test_a_risky_transfer_is_held_its_money_reserved_and_not_delivered(loop: Loop) -> None:
    alice, bob, command_id = await _held(loop)
    score = await _score(loop, command_id)
    assert (score.risk_score, score.requires_review) == (90, True)
    assert _points(score)["drain"] == 20
    await loop.settle()
    assert (await _status(loop, alice, command_id))["status"] == "HELD"
    funds = await loop.balance(alice)
    assert (funds["balance"], funds["held"], funds["available"]) == (
        "500.000000000",
        "460.460000000",
        "39.540000000",
    )
    assert (await loop.balance(bob))["balance"] == "500.000000000"
    # What is held is held: the rest cannot be spent twice.
    assert_problem(await loop.send(alice, bob, "40"), 409, "INSUFFICIENT_FUNDS")

    queue = await loop.client.get("/admin/transfers/held", headers=loop.admin)
    assert queue.status_code == 200, queue.text
    (item,) = queue.json()["items"]
    assert (item["commandId"], item["senderId"], item["receiverId"]) == (
        command_id,
        alice["id"],
        bob["id"],
    )
    assert (item["amount"], item["fee"], item["riskScore"]) == ("460.000000000", "0.460000000", 90)
    assert [f["name"] for f in item["riskFactors"]][:2] == ["amount", "drain"]


async def test_the_threshold_is_the_tenants_parameter(loop: Loop) -> None:
    alice, bob = await loop.user(), await loop.user()
    async with loop.db.system(reason="test: an operator lowers the threshold") as s:
        await s.execute(
            update(SystemParameter)
            .where(
                SystemParameter.tenant_id == loop.tenant,
                SystemParameter.param_key == "riskReviewThreshold",
            )
            .values(param_value=str(FIRST_SEND_SCORE))
        )
    sent = [await loop.send(alice, bob, amount) for amount in ("10", "11")]
    assert [s.json()["status"] for s in sent] == ["HELD", "HELD"]
    assert (await _score(loop, sent[0].json()["commandId"])).risk_score == FIRST_SEND_SCORE
    # The queue, a page at a time, oldest first.
    seen, cursor = [], None
    while True:
        params: dict[str, Any] = {"limit": 1, **({"cursor": cursor} if cursor else {})}
        page = await loop.client.get("/admin/transfers/held", params=params, headers=loop.admin)
        seen += [i["commandId"] for i in page.json()["items"]]
        if not (cursor := page.json()["nextCursor"]):
            break
    assert seen == [s.json()["commandId"] for s in sent]


async def test_a_released_transfer_is_delivered_and_its_sender_told(loop: Loop) -> None:
    alice, bob, command_id = await _held(loop)
    released = await loop.client.post(
        f"/admin/transfers/{command_id}/release",
        json={"reason": "confirmed with the customer"},
        headers=loop.admin,
    )
    assert released.status_code == 200, released.text
    body = released.json()
    assert (body["status"], body["reviewNotes"]) == ("PENDING", "confirmed with the customer")
    again = await loop.client.post(f"/admin/transfers/{command_id}/release", headers=loop.admin)
    body = assert_problem(again, 409, "TRANSFER_NOT_HELD")
    assert body["current"] == "PENDING"

    await loop.settle()
    assert (await _status(loop, alice, command_id))["status"] == "COMMITTED"
    funds = await loop.balance(alice)
    assert (funds["balance"], funds["held"]) == ("39.540000000", "0.000000000")
    assert (await loop.balance(bob))["balance"] == "960.000000000"
    score = await _score(loop, command_id)
    admin_id = released.json()["reviewedBy"]
    assert score.reviewed_by == admin_id and score.reviewed_at is not None
    assert await _inbox(loop, alice) == [NotificationType.TRANSACTION_APPROVED]
    (entry,) = await events(loop.db, loop.tenant, AuditEventType.TRANSACTION_APPROVED)
    assert (entry.resource_id, entry.target_profile_id, entry.actor_profile_id) == (
        command_id,
        alice["id"],
        admin_id,
    )
    assert (await loop.client.get("/admin/transfers/held", headers=loop.admin)).json() == {
        "items": [],
        "nextCursor": None,
        "nextPage": None,
    }


async def test_a_rejected_transfer_fails_and_frees_its_money_for_good(loop: Loop) -> None:
    alice, bob, command_id = await _held(loop)
    missing = await loop.client.post(f"/admin/transfers/{command_id}/reject", headers=loop.admin)
    assert_problem(missing, 422, "VALIDATION_FAILED")  # a rejection says why
    rejected = await loop.client.post(
        f"/admin/transfers/{command_id}/reject", json={"reason": "mule pattern"}, headers=loop.admin
    )
    assert rejected.status_code == 200, rejected.text
    assert (rejected.json()["status"], rejected.json()["errorCode"]) == ("FAILED", "RISK_REJECTED")
    await loop.settle()
    status = await _status(loop, alice, command_id)
    assert (status["status"], status["errorCode"]) == ("FAILED", "RISK_REJECTED")
    funds = await loop.balance(alice)
    assert (funds["balance"], funds["held"], funds["available"]) == (
        "500.000000000",
        "0.000000000",
        "500.000000000",
    )
    assert (await loop.balance(bob))["balance"] == "500.000000000"
    assert await _inbox(loop, alice) == [NotificationType.TRANSACTION_REJECTED]
    assert len(await events(loop.db, loop.tenant, AuditEventType.TRANSACTION_REJECTED)) == 1
    assert (await _score(loop, command_id)).review_notes == "mule pattern"
    # Neither review nor the operator's tooling sends it after all.
    again = await loop.client.post(f"/admin/transfers/{command_id}/release", headers=loop.admin)
    assert_problem(again, 409, "TRANSFER_NOT_HELD")
    async with loop.db.system(reason="test: gx outbox retry") as s:
        with pytest.raises(operator.RefusedInReview):
            await operator.retry(s, command_id)
        assert await operator.retry_all_failed(s, tenant_id=loop.tenant) == []


async def test_only_this_tenants_administrators_review(loop: Loop) -> None:
    alice, _, command_id = await _held(loop)
    paths = [
        ("GET", "/admin/transfers/held", None),
        ("POST", f"/admin/transfers/{command_id}/release", None),
        ("POST", f"/admin/transfers/{command_id}/reject", {"reason": "x"}),
    ]
    for method, path, body in paths:
        answer = await loop.client.request(method, path, json=body, headers=alice["headers"])
        assert_problem(answer, 403, "FORBIDDEN")

    other = await register_tenant(loop.db, f"{loop.tenant}-b")
    boss = await make_user(loop.db, other, role="ADMIN", status=UserProfileStatus.ACTIVE)
    theirs = {"X-Tenant-Id": other}
    login = await loop.client.post(
        "/auth/login", json={"email": boss.email, "password": PASSWORD}, headers=theirs
    )
    assert login.status_code == 200, login.text
    headers = {**bearer(login.json()), **theirs}
    listed = await loop.client.get("/admin/transfers/held", headers=headers)
    assert listed.json()["items"] == []
    for _, path, body in paths[1:]:
        answer = await loop.client.post(path, json=body, headers=headers)
        assert_problem(answer, 404, "TRANSFER_NOT_FOUND")
    unknown = await loop.client.post("/admin/transfers/nope/release", headers=loop.admin)
    assert_problem(unknown, 404, "TRANSFER_NOT_FOUND")

    score = await _score(loop, command_id)
    assert (score.reviewed_at, score.reviewed_by) == (None, None)
    assert (await _status(loop, alice, command_id))["status"] == "HELD"
    async with loop.db.tenant(loop.tenant) as s:
        reviews = select(func.count()).where(Notification.type.in_(REVIEWS))
        assert await s.scalar(reviews) == 0
        held = await s.scalar(
            select(func.count())
            .select_from(OutboxCommand)
            .where(OutboxCommand.status == OutboxStatus.HELD)
        )
    assert held == 1


# --------------------------------------------------------------------------------------------
# The points, without a database
# --------------------------------------------------------------------------------------------

USUAL = Facts(
    amount=Decimal(10),
    fee=Decimal(0),
    available=Decimal(1000),
    sent_count=20,
    sent_average=Decimal(10),
    sent_max=Decimal(12),
    known_receiver=True,
    sends_last_10_minutes=0,
    sends_last_hour=1,
    device_id="d",
    trusted_device=True,
    account_age=timedelta(days=400),
)


@pytest.mark.parametrize(
    ("change", "name", "points"),
    [
        ({}, "amount", 0),
        ({"amount": Decimal(30)}, "amount", 20),
        ({"amount": Decimal(100)}, "amount", 40),
        ({"sent_count": 0, "sent_average": None}, "amount", 20),
        ({"available": Decimal(11)}, "drain", 20),
        ({"available": Decimal(12)}, "drain", 0),
        ({"sends_last_hour": 10}, "velocity", 15),
        ({"sends_last_10_minutes": 5, "sends_last_hour": 5}, "velocity", 25),
        ({"known_receiver": False}, "newCounterparty", 15),
        ({"device_id": None, "trusted_device": False}, "newDevice", 15),
        ({"account_age": timedelta(hours=3)}, "accountAge", 20),
        ({"account_age": timedelta(days=29)}, "accountAge", 10),
    ],
)
def test_each_factor_scores_its_facts(change: dict[str, Any], name: str, points: int) -> None:
    found = {f.name: f.points for f in factors(replace(USUAL, **change))}
    assert found[name] == points
    assert sum(found.values()) == points  # the usual transfer scores 0 on every other factor
