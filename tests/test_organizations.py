"""Organizations on the ledger over HTTP: propose, endorse, activate, rules, multi-signature
transfers; each through the real loop (relay, embedded ledger, projector)."""

# ruff: noqa: F811  (the `loop` fixture imported below)

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import func, select

from gxcore.cqrs.models import OutboxCommand
from gxcore.enums import CommandType, OutboxStatus
from tests.test_business_accounts import _balance, fund
from tests.test_money_api import Loop, loop  # noqa: F401
from tests.test_registration import assert_problem

User = dict[str, Any]


async def _post(loop: Loop, user: User, path: str, body: Any = None) -> Any:
    return await loop.client.post(path, json=body, headers=user["headers"])


async def _status(loop: Loop, user: User, org_id: str, command_id: str) -> dict[str, Any]:
    got = await loop.client.get(
        f"/organizations/{org_id}/commands/{command_id}", headers=user["headers"]
    )
    assert got.status_code == 200, got.text
    return dict(got.json())


async def _proposed(loop: Loop, users: list[User]) -> str:
    first, *others = users
    proposed = await _post(
        loop,
        first,
        "/organizations",
        {"organizationName": "Coop", "stakeholders": [u["id"] for u in others]},
    )
    assert proposed.status_code == 202, proposed.text
    await loop.settle()
    org_id = str(proposed.json()["organizationId"])
    assert (await _status(loop, first, org_id, proposed.json()["commandId"]))[
        "status"
    ] == "COMMITTED"
    return org_id


async def _active(loop: Loop, users: list[User]) -> str:
    org_id = await _proposed(loop, users)
    for user in users:
        assert (await _post(loop, user, f"/organizations/{org_id}/endorse")).status_code == 202
    await loop.settle()
    activated = await _post(loop, users[0], f"/organizations/{org_id}/activate")
    assert activated.status_code == 202, activated.text
    await loop.settle()
    got = await loop.client.get(f"/organizations/{org_id}", headers=users[1]["headers"])
    assert got.json()["status"] == "ACTIVE", got.text
    return org_id


async def test_only_stakeholders_endorse_and_activation_waits_for_every_endorsement(
    loop: Loop,
) -> None:
    alice, bob = await loop.user(genesis=False), await loop.user(genesis=False)
    carol = await loop.user(genesis=False)
    org_id = await _proposed(loop, [alice, bob])
    # A non-stakeholder does not see the organization: endorsing is refused before the ledger.
    assert_problem(await _post(loop, carol, f"/organizations/{org_id}/endorse"), 404,
                   "ORGANIZATION_NOT_FOUND")  # fmt: skip
    got = await loop.client.get(f"/organizations/{org_id}", headers=carol["headers"])
    assert got.status_code == 404

    assert (await _post(loop, alice, f"/organizations/{org_id}/endorse")).status_code == 202
    await loop.settle()
    assert_problem(await _post(loop, alice, f"/organizations/{org_id}/endorse"), 409,
                   "ALREADY_EXISTS")  # fmt: skip
    early = await _post(loop, alice, f"/organizations/{org_id}/activate")
    assert early.status_code == 202
    await loop.settle()
    refused = await _status(loop, alice, org_id, early.json()["commandId"])
    assert (refused["status"], refused["errorCode"]) == ("FAILED", "ENDORSEMENTS_MISSING")
    got = await loop.client.get(f"/organizations/{org_id}", headers=bob["headers"])
    assert got.json()["status"] == "PROPOSED" and got.json()["endorsers"] == [
        got.json()["stakeholders"][0]
    ]

    assert (await _post(loop, bob, f"/organizations/{org_id}/endorse")).status_code == 202
    await loop.settle()
    again = await _post(loop, bob, f"/organizations/{org_id}/activate")
    await loop.settle()
    assert (await _status(loop, bob, org_id, again.json()["commandId"]))["status"] == "COMMITTED"
    assert (await loop.client.get(f"/organizations/{org_id}", headers=alice["headers"])).json()[
        "status"
    ] == "ACTIVE"
    assert await _balance(loop, org_id) == "0.000000000"  # its wallet opened, empty


async def test_a_multisig_transfer_executes_once_at_the_threshold_and_moves_the_money(
    loop: Loop,
) -> None:
    alice, bob, carol = await loop.user(), await loop.user(), await loop.user()
    payee = await loop.user(genesis=False)
    org_id = await _active(loop, [alice, bob, carol])
    await fund(loop, alice, org_id, "200")
    rule = await _post(
        loop,
        alice,
        f"/organizations/{org_id}/rules",
        {
            "threshold": "0",
            "requiredApprovers": 3,
            "approvers": [alice["id"], bob["id"], carol["id"]],
        },
    )
    assert rule.status_code == 202, rule.text
    await loop.settle()
    sent = await _post(
        loop,
        bob,
        f"/organizations/{org_id}/transactions",
        {"toUserId": payee["id"], "amount": "50"},
    )
    assert sent.status_code == 202, sent.text
    tx_id = sent.json()["multisigTxId"]
    await loop.settle()
    listed = await loop.client.get(
        f"/organizations/{org_id}/transactions/pending", headers=carol["headers"]
    )
    assert [t["multisigTxId"] for t in listed.json()["items"]] == [tx_id]
    assert listed.json()["items"][0]["currentSignatures"] == 1  # the initiator's

    # Only members initiate; an approver approves once.
    assert_problem(
        await _post(loop, payee, f"/organizations/{org_id}/transactions",
                    {"toUserId": alice["id"], "amount": "1"}),
        404, "ORGANIZATION_NOT_FOUND",
    )  # fmt: skip
    assert_problem(await _post(loop, bob, f"/transactions/{tx_id}/approve"), 409, "ALREADY_EXISTS")
    assert_problem(await _post(loop, payee, f"/transactions/{tx_id}/approve"), 404,
                   "MULTISIG_NOT_FOUND")  # fmt: skip

    assert (await _post(loop, alice, f"/transactions/{tx_id}/approve")).status_code == 202
    await loop.settle()
    assert await _balance(loop, org_id) == "200.000000000"  # 2 of 3: not yet
    # The last approval, asked twice at once: one command executes it; the other is the
    # same request (idempotent) and moves nothing more.
    answers = await asyncio.gather(
        *(_post(loop, carol, f"/transactions/{tx_id}/approve") for _ in range(2))
    )
    assert {a.status_code for a in answers} == {202}
    await loop.settle()
    assert await _balance(loop, org_id) == "149.950000000"  # 50 + fee 0.05
    assert (await loop.balance(payee))["balance"] == "50.000000000"
    async with loop.db.tenant(loop.tenant) as session:
        approvals = await session.scalar(
            select(func.count())
            .select_from(OutboxCommand)
            .where(
                OutboxCommand.command_type == CommandType.APPROVE_MULTISIG_TX,
                OutboxCommand.status == OutboxStatus.COMMITTED,
            )
        )
    assert approvals == 2
    listed = await loop.client.get(
        f"/organizations/{org_id}/transactions/pending", headers=alice["headers"]
    )
    assert listed.json()["items"] == []
    assert_problem(await _post(loop, carol, f"/transactions/{tx_id}/approve"), 409,
                   "ORGANIZATION_STATE")  # fmt: skip


async def test_a_transfer_the_initiator_alone_approves_runs_when_approved_again(loop: Loop) -> None:
    alice, bob = await loop.user(), await loop.user()
    payee = await loop.user(genesis=False)
    org_id = await _active(loop, [alice, bob])
    await fund(loop, alice, org_id, "20")
    sent = await _post(
        loop,
        alice,
        f"/organizations/{org_id}/transactions",
        {"toUserId": payee["id"], "amount": "5"},
    )
    await loop.settle()
    tx_id = sent.json()["multisigTxId"]
    # No rule: the initiator's approval suffices; asking again executes it.
    run = await _post(loop, alice, f"/transactions/{tx_id}/approve")
    assert run.status_code == 202, run.text
    await loop.settle()
    assert (await loop.balance(payee))["balance"] == "5.000000000"
    assert await _balance(loop, org_id) == "14.995000000"  # 5 + fee 0.005


async def test_proposals_need_two_to_twenty_active_users(loop: Loop) -> None:
    alice = await loop.user(genesis=False)
    assert_problem(
        await _post(loop, alice, "/organizations", {"organizationName": "Solo",
                                                    "stakeholders": [alice["id"]]}),
        422, "VALIDATION_FAILED",
    )  # fmt: skip
    assert_problem(
        await _post(loop, alice, "/organizations", {"organizationName": "Ghost",
                                                    "stakeholders": ["nobody"]}),
        404, "USER_NOT_FOUND",
    )  # fmt: skip
    async with loop.db.tenant(loop.tenant) as session:
        queued = await session.scalar(
            select(func.count())
            .select_from(OutboxCommand)
            .where(OutboxCommand.command_type == CommandType.PROPOSE_ORGANIZATION)
        )
    assert queued == 0
