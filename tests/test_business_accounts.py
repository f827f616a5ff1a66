"""Business accounts over HTTP: organization profiles, signatories, rules, and transfers held
for their approvals in front of the outbox, through the real loop (relay, ledger, projector)."""

# ruff: noqa: F811  (the `loop` fixture imported below)

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from gxcore.business import approvals
from gxcore.business.models import ApprovalVote, SignatoryRule, TransactionApproval
from gxcore.cqrs.models import OutboxCommand
from gxcore.cqrs.outbox import enqueue
from gxcore.enums import CommandType, OutboxStatus
from gxcore.identity.models import UserProfile
from gxcore.notifications.models import Notification
from gxcore.wallet import holds
from gxcore.wallet.models import Wallet
from tests.test_money_api import Loop, loop  # noqa: F401  (the fixture)
from tests.test_registration import assert_problem

User = dict[str, Any]
ORG = "ORG-ACME"


async def fabric_id(loop: Loop, user: User) -> str:
    async with loop.db.tenant(loop.tenant) as session:
        profile = await session.get(UserProfile, user["id"])
        assert profile is not None and profile.fabric_user_id
        return profile.fabric_user_id


async def ledger_organization(loop: Loop, org_id: str, stakeholders: list[User]) -> None:
    """Through `/organizations`: the first stakeholder proposes, each endorses, the first
    activates; the organization's account and its wallet open."""
    first, *others = stakeholders
    proposed = await loop.client.post(
        "/organizations",
        json={
            "organizationName": "Acme",
            "organizationId": org_id,
            "stakeholders": [u["id"] for u in others],
        },
        headers=first["headers"],
    )
    assert proposed.status_code == 202, proposed.text
    await loop.settle()
    for user in stakeholders:
        endorsed = await loop.client.post(
            f"/organizations/{org_id}/endorse", headers=user["headers"]
        )
        assert endorsed.status_code == 202, endorsed.text
    await loop.settle()
    activated = await loop.client.post(
        f"/organizations/{org_id}/activate", headers=first["headers"]
    )
    assert activated.status_code == 202, activated.text
    await loop.settle()


async def fund(loop: Loop, sender: User, account_id: str, amount: str) -> None:
    """A ledger organization that backs no business account is funded by a direct command."""
    async with loop.db.tenant(loop.tenant) as session:
        await enqueue(
            session,
            service="test",
            command_type=CommandType.TRANSFER_TOKENS,
            request_id=f"test:fund:{account_id}:{amount}",
            payload={
                "senderId": await fabric_id(loop, sender),
                "receiverId": account_id,
                "amount": amount,
            },
        )
    await loop.settle()


async def pay(loop: Loop, payer: User, business_account_id: str, amount: str, **more: Any) -> Any:
    """`POST /transfers` to a business account, as any signed-in user pays one."""
    return await loop.client.post(
        "/transfers",
        json={"toBusinessAccountId": business_account_id, "amount": amount, **more},
        headers=payer["headers"],
    )


@dataclass
class Biz:
    loop: Loop
    account_id: str  # the business account
    wallet_id: str
    owner: User
    bob: User  # initiates and approves
    carol: User  # approves
    viewer: User  # a confirmed signatory without approval rights
    payee: User
    signatories: dict[str, str]  # profile id -> signatory id

    async def post(self, user: User, path: str, body: Any = None) -> Any:
        return await self.loop.client.post(path, json=body, headers=user["headers"])

    async def send(self, user: User, amount: str) -> Any:
        return await self.post(
            user,
            f"/business-accounts/{self.account_id}/transfers",
            {"toUserId": self.payee["id"], "amount": amount},
        )

    async def vote(self, user: User, approval_id: str, verdict: str = "approve") -> Any:
        return await self.post(user, f"/approvals/{approval_id}/{verdict}")

    async def available(self) -> str:
        async with self.loop.db.tenant(self.loop.tenant) as session:
            return f"{(await holds.funds(session, self.wallet_id)).available:f}"


async def invite(biz_loop: Loop, account_id: str, owner: User, user: User, **rights: Any) -> str:
    invited = await biz_loop.client.post(
        f"/business-accounts/{account_id}/signatories",
        json={"profileId": user["id"], **rights},
        headers=owner["headers"],
    )
    assert invited.status_code == 201, invited.text
    sid = invited.json()["signatoryId"]
    confirmed = await biz_loop.client.post(
        f"/business-accounts/{account_id}/signatories/{sid}/confirm", headers=user["headers"]
    )
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["confirmedAt"] is not None
    return str(sid)


@pytest.fixture
async def biz(loop: Loop) -> AsyncIterator[Biz]:
    owner, bob, carol = await loop.user(), await loop.user(), await loop.user()
    viewer, payee = await loop.user(genesis=False), await loop.user(genesis=False)
    await ledger_organization(loop, ORG, [owner, bob, carol])

    created = await loop.client.post(
        "/organization-profiles",
        json={"legalName": "Acme Ltd", "jurisdictionCountryCode": "ng"},
        headers=owner["headers"],
    )
    assert created.status_code == 201, created.text
    org_profile = created.json()["orgProfileId"]
    assert created.json()["status"] == "PENDING_VERIFICATION"
    early = await loop.client.post(
        "/business-accounts",
        json={"orgProfileId": org_profile, "organizationId": ORG},
        headers=owner["headers"],
    )
    assert_problem(early, 409, "ORGANIZATION_NOT_VERIFIED")
    verified = await loop.client.post(
        f"/admin/organization-profiles/{org_profile}/verify", headers=loop.admin
    )
    assert verified.status_code == 200 and verified.json()["status"] == "VERIFIED", verified.text
    opened = await loop.client.post(
        "/business-accounts",
        json={"orgProfileId": org_profile, "organizationId": ORG, "defaultRequiredApprovals": 2},
        headers=owner["headers"],
    )
    assert opened.status_code == 201, opened.text
    account = opened.json()
    assert account["accountId"] == ORG
    # Funded over HTTP like any business account: its owner pays it 300 from their own wallet.
    paid = await pay(loop, owner, account["businessAccountId"], "300")
    assert paid.status_code == 202 and paid.json()["status"] == "PENDING", paid.text
    await loop.settle()
    sids = {
        bob["id"]: await invite(
            loop,
            account["businessAccountId"],
            owner,
            bob,
            role="DIRECTOR",
            canInitiateTransactions=True,
            canApproveTransactions=True,
        ),
        carol["id"]: await invite(
            loop,
            account["businessAccountId"],
            owner,
            carol,
            role="AUTHORIZED_SIGNATORY",
            canApproveTransactions=True,
        ),
        viewer["id"]: await invite(
            loop, account["businessAccountId"], owner, viewer, role="VIEWER"
        ),
    }
    yield Biz(
        loop,
        account["businessAccountId"],
        account["walletId"],
        owner,
        bob,
        carol,
        viewer,
        payee,
        sids,
    )


async def _commands(loop: Loop, approval_id: str) -> dict[CommandType, OutboxCommand]:
    async with loop.db.tenant(loop.tenant) as session:
        rows = await session.scalars(
            select(OutboxCommand).where(
                OutboxCommand.request_id.startswith(f"business:{approval_id}:")
            )
        )
        return {c.command_type: c for c in rows.all()}


async def _balance(loop: Loop, account_id: str) -> str:
    async with loop.db.tenant(loop.tenant) as session:
        wallet = await session.scalar(select(Wallet).where(Wallet.primary_account_id == account_id))
        assert wallet is not None
        return f"{wallet.cached_balance:f}"


# --------------------------------------------------------------------------------------------


async def test_two_of_three_approval_releases_one_command_and_moves_the_money(biz: Biz) -> None:
    loop = biz.loop
    assert await _balance(loop, ORG) == "300.000000000"
    sent = await biz.send(biz.bob, "100")
    assert sent.status_code == 202, sent.text
    approval = sent.json()
    # The initiator may approve: its vote is the first of the two the account needs.
    assert (approval["status"], approval["receivedApprovals"]) == ("PENDING", 1)
    assert approval["requiredApprovals"] == 2 and approval["commandStatus"] == "HELD"
    assert await biz.available() == "199.900000000"  # 100 + fee 0.1 held

    await loop.settle()  # nothing reaches the ledger while it waits
    commands = await _commands(loop, approval["approvalId"])
    assert {c.status for c in commands.values()} == {OutboxStatus.HELD}
    assert await _balance(loop, ORG) == "300.000000000"

    voted = await biz.vote(biz.carol, approval["approvalId"])
    assert voted.status_code == 200, voted.text
    assert (voted.json()["status"], voted.json()["receivedApprovals"]) == ("APPROVED", 2)
    await loop.settle()  # INITIATE committed and projected: EXECUTE released
    await loop.settle()  # EXECUTE committed and projected
    commands = await _commands(loop, approval["approvalId"])
    assert {t: c.status for t, c in commands.items()} == {
        CommandType.INITIATE_MULTISIG_TX: OutboxStatus.COMMITTED,
        CommandType.EXECUTE_MULTISIG_TX: OutboxStatus.COMMITTED,
    }
    assert await _balance(loop, ORG) == "199.900000000"
    assert (await loop.balance(biz.payee))["balance"] == "100.000000000"
    assert await biz.available() == "199.900000000"  # projected: no longer held twice

    late = await biz.vote(biz.owner, approval["approvalId"])
    assert_problem(late, 409, "APPROVAL_CLOSED")
    async with loop.db.tenant(loop.tenant) as session:
        told = await session.scalar(
            select(func.count())
            .select_from(Notification)
            .where(Notification.action_resource_id == approval["approvalId"])
        )
    assert told and told >= 4  # request to the others, then the decision to everyone


async def test_a_second_vote_by_the_same_signatory_is_refused(biz: Biz) -> None:
    rule = await biz.post(
        biz.owner,
        f"/business-accounts/{biz.account_id}/rules",
        {"minAmount": "50", "requiredApprovals": 3},
    )
    assert rule.status_code == 201, rule.text
    sent = await biz.send(biz.bob, "60")
    assert sent.json()["requiredApprovals"] == 3
    approval_id = sent.json()["approvalId"]
    assert (await biz.vote(biz.carol, approval_id)).status_code == 200
    assert_problem(await biz.vote(biz.carol, approval_id), 409, "ALREADY_VOTED")
    assert_problem(await biz.vote(biz.bob, approval_id), 409, "ALREADY_VOTED")  # the initiator
    async with biz.loop.db.tenant(biz.loop.tenant) as session:
        approval = await session.get(TransactionApproval, approval_id)
        assert approval is not None and approval.received_approvals == 2
        assert approval.status.value == "PENDING"


async def test_a_signatory_without_approval_rights_cannot_vote(biz: Biz) -> None:
    approval_id = (await biz.send(biz.bob, "10")).json()["approvalId"]
    assert_problem(await biz.vote(biz.viewer, approval_id), 403, "NOT_PERMITTED")
    assert_problem(await biz.vote(biz.viewer, approval_id, "reject"), 403, "NOT_PERMITTED")
    # A user who is no signatory at all does not see the approval.
    assert_problem(await biz.vote(biz.payee, approval_id), 404, "APPROVAL_NOT_FOUND")
    # Nor may a signatory without initiation rights initiate.
    assert_problem(await biz.send(biz.carol, "10"), 403, "NOT_PERMITTED")
    async with biz.loop.db.tenant(biz.loop.tenant) as session:
        votes = await session.scalar(select(func.count()).select_from(ApprovalVote))
    assert votes == 1  # the initiator's


async def test_ten_parallel_votes_at_the_threshold_release_once(biz: Biz) -> None:
    loop = biz.loop
    voters = [await loop.user(genesis=False) for _ in range(9)]
    for voter in voters:
        await invite(loop, biz.account_id, biz.owner, voter, role="DIRECTOR",
                     canApproveTransactions=True)  # fmt: skip
    voters.append(biz.carol)
    sent = await biz.send(biz.bob, "20")  # bob's vote: 1 of 2
    approval_id = sent.json()["approvalId"]
    answers = await asyncio.gather(*(biz.vote(v, approval_id) for v in voters))
    codes = sorted(a.status_code for a in answers)
    assert codes == [200] + [409] * 9, [a.text for a in answers]
    assert {a.json()["code"] for a in answers if a.status_code == 409} == {"APPROVAL_CLOSED"}
    await loop.settle()
    await loop.settle()
    commands = await _commands(loop, approval_id)
    assert {c.status for c in commands.values()} == {OutboxStatus.COMMITTED}
    assert (await loop.balance(biz.payee))["balance"] == "20.000000000"
    assert await _balance(loop, ORG) == "279.980000000"  # 300 - 20 - fee 0.02
    # Another transfer locks the wallet and forgets the projected hold: the first still reads.
    assert (await biz.send(biz.bob, "1")).status_code == 202
    got = await loop.client.get(f"/approvals/{approval_id}", headers=biz.carol["headers"])
    assert got.status_code == 200, got.text
    assert (got.json()["amount"], got.json()["fee"]) == ("20.000000000", "0.020000000")
    assert len(got.json()["votes"]) == 2 and got.json()["commandStatus"] == "COMMITTED"


async def test_expiry_marks_it_expired_and_releases_the_hold(biz: Biz) -> None:
    loop = biz.loop
    sent = await biz.send(biz.bob, "150")
    approval_id = sent.json()["approvalId"]
    assert await biz.available() == "149.850000000"
    async with loop.db.tenant(loop.tenant) as session:
        approval = await session.get(TransactionApproval, approval_id)
        assert approval is not None
        later = approval.expires_at + timedelta(seconds=1)
    assert await approvals.expire_due(loop.db, now=later - timedelta(seconds=2)) == 0
    assert await approvals.expire_due(loop.db, now=later) == 1
    assert await approvals.expire_due(loop.db, now=later) == 0  # once
    got = await loop.client.get(f"/approvals/{approval_id}", headers=biz.bob["headers"])
    assert got.json()["status"] == "EXPIRED"
    assert got.json()["errorCode"] == "APPROVAL_EXPIRED"
    assert await biz.available() == "300.000000000"
    await loop.settle()
    assert await _balance(loop, ORG) == "300.000000000"


async def test_a_rejection_rejects_it_and_releases_the_hold(biz: Biz) -> None:
    loop = biz.loop
    sent = await biz.send(biz.bob, "250")
    approval_id = sent.json()["approvalId"]
    assert await biz.available() == "49.750000000"
    # With 250 held, a second transfer for the rest is refused: holds count.
    assert_problem(await biz.send(biz.bob, "60"), 409, "INSUFFICIENT_FUNDS")
    rejected = await biz.post(biz.carol, f"/approvals/{approval_id}/reject", {"remarks": "no"})
    assert rejected.status_code == 200, rejected.text
    assert rejected.json()["status"] == "REJECTED"
    assert rejected.json()["commandStatus"] == "FAILED"
    assert await biz.available() == "300.000000000"
    assert_problem(await biz.vote(biz.owner, approval_id), 409, "APPROVAL_CLOSED")
    await loop.settle()
    commands = await _commands(loop, approval_id)
    assert {c.error_code for c in commands.values()} == {"APPROVAL_REJECTED"}
    assert await _balance(loop, ORG) == "300.000000000"


async def test_overlapping_active_rules_are_refused_even_in_parallel(biz: Biz) -> None:
    path = f"/business-accounts/{biz.account_id}/rules"
    first = await biz.post(biz.owner, path, {"minAmount": "10", "maxAmount": "100",
                                              "requiredApprovals": 2})  # fmt: skip
    assert first.status_code == 201, first.text
    for clash in (
        {"requiredApprovals": 1},  # open on both sides
        {"maxAmount": "10", "requiredApprovals": 1},  # ends included
        {"minAmount": "100", "requiredApprovals": 1},
        {"minAmount": "50", "maxAmount": "60", "requiredApprovals": 1, "transactionType": "SENT"},
    ):
        assert_problem(await biz.post(biz.owner, path, clash), 409, "RULE_OVERLAP")
    assert_problem(
        await biz.post(
            biz.owner, path, {"minAmount": "5", "maxAmount": "1", "requiredApprovals": 1}
        ),
        422,
        "VALIDATION_FAILED",
    )
    assert_problem(
        await biz.post(biz.bob, path, {"minAmount": "500", "requiredApprovals": 1}),
        403,
        "NOT_PERMITTED",
    )
    answers = await asyncio.gather(
        *(
            biz.post(biz.owner, path, {"minAmount": f"{200 + i}", "requiredApprovals": 1})
            for i in range(6)
        )
    )
    assert sorted(a.status_code for a in answers) == [201] + [409] * 5
    # Deactivated, a rule no longer blocks its range.
    rule_id = first.json()["ruleId"]
    off = await biz.post(biz.owner, f"{path}/{rule_id}/deactivate")
    assert off.status_code == 200 and off.json()["isActive"] is False
    again = await biz.post(biz.owner, path, {"minAmount": "10", "maxAmount": "100",
                                              "requiredApprovals": 1})  # fmt: skip
    assert again.status_code == 201, again.text
    async with biz.loop.db.tenant(biz.loop.tenant) as session:
        active = await session.scalar(
            select(func.count()).select_from(SignatoryRule).where(SignatoryRule.is_active)
        )
    assert active == 2


async def test_a_rule_sets_the_approvals_and_a_daily_limit(biz: Biz) -> None:
    path = f"/business-accounts/{biz.account_id}/rules"
    made = await biz.post(biz.owner, path, {"maxAmount": "30", "requiredApprovals": 1,
                                             "dailyLimit": "50"})  # fmt: skip
    assert made.status_code == 201, made.text
    small = await biz.send(biz.bob, "30")  # one approval needed: bob's own releases it
    assert small.json()["status"] == "APPROVED"
    second = await biz.send(biz.bob, "25")
    body = assert_problem(second, 422, "LIMIT_EXCEEDED")
    assert body["limit"] == "50.000000000"
    big = await biz.send(biz.bob, "40")  # above the rule's range: the account's default
    assert big.json()["requiredApprovals"] == 2 and big.json()["status"] == "PENDING"


async def test_signatories_are_invited_confirmed_and_revoked(biz: Biz) -> None:
    loop = biz.loop
    dave = await loop.user(genesis=False)
    invited = await biz.post(
        biz.owner,
        f"/business-accounts/{biz.account_id}/signatories",
        {"profileId": dave["id"], "role": "ACCOUNTANT", "canApproveTransactions": True},
    )
    sid = invited.json()["signatoryId"]
    sent = await biz.send(biz.bob, "10")
    # Not confirmed yet: no rights.
    assert_problem(await biz.vote(dave, sent.json()["approvalId"]), 403, "NOT_PERMITTED")
    # Only the invitee confirms.
    assert_problem(
        await biz.post(biz.bob, f"/business-accounts/{biz.account_id}/signatories/{sid}/confirm"),
        404,
        "SIGNATORY_NOT_FOUND",
    )
    confirmed = await biz.post(
        dave, f"/business-accounts/{biz.account_id}/signatories/{sid}/confirm"
    )
    assert confirmed.status_code == 200
    assert_problem(
        await biz.post(biz.bob, f"/business-accounts/{biz.account_id}/signatories/{sid}/revoke"),
        403,
        "NOT_PERMITTED",
    )
    revoked = await biz.post(
        biz.owner, f"/business-accounts/{biz.account_id}/signatories/{sid}/revoke"
    )
    assert revoked.status_code == 200 and revoked.json()["revokedAt"] is not None
    assert_problem(await biz.vote(dave, sent.json()["approvalId"]), 403, "NOT_PERMITTED")
    async with loop.db.tenant(loop.tenant) as session:
        kinds = (
            await session.scalars(
                select(Notification.type).where(Notification.recipient_id == dave["id"])
            )
        ).all()
    assert "BUSINESS_SIGNATORY_INVITATION" in {k.value for k in kinds}


async def test_a_signatory_limit_and_a_non_stakeholder_initiator_are_refused(biz: Biz) -> None:
    loop = biz.loop
    erin = await loop.user(genesis=False)
    await invite(loop, biz.account_id, biz.owner, erin, role="DIRECTOR",
                 canInitiateTransactions=True, maxTransactionLimit="5")  # fmt: skip
    # erin is no stakeholder of the ledger organization: the ledger would refuse NOT_A_MEMBER.
    assert_problem(await biz.send(erin, "1"), 403, "NOT_PERMITTED")
    await invite(loop, biz.account_id, biz.owner, biz.payee, role="DIRECTOR",
                 canInitiateTransactions=True, maxTransactionLimit="5")  # fmt: skip
    assert_problem(await biz.send(biz.payee, "6"), 422, "LIMIT_EXCEEDED")


async def test_organization_profiles_are_their_members_and_admins_only(biz: Biz) -> None:
    loop = biz.loop
    got = await loop.client.get(
        f"/business-accounts/{biz.account_id}", headers=biz.owner["headers"]
    )
    org_profile = got.json()["orgProfileId"]
    stranger = await loop.user(genesis=False)
    for path in (f"/organization-profiles/{org_profile}", f"/business-accounts/{biz.account_id}"):
        seen = await loop.client.get(path, headers=stranger["headers"])
        assert seen.status_code == 404, seen.text
        assert (await loop.client.get(path, headers=loop.admin)).status_code == 200
    added = await biz.post(
        biz.owner, f"/organization-profiles/{org_profile}/members",
        {"profileId": stranger["id"], "role": "member"},
    )  # fmt: skip
    assert added.status_code == 201, added.text
    seen = await loop.client.get(
        f"/organization-profiles/{org_profile}", headers=stranger["headers"]
    )
    assert seen.status_code == 200
    # A member, not a manager: cannot add members.
    assert_problem(
        await biz.post(
            stranger,
            f"/organization-profiles/{org_profile}/members",
            {"profileId": biz.payee["id"]},
        ),
        403,
        "NOT_PERMITTED",
    )
    suspended = await loop.client.post(
        f"/admin/organization-profiles/{org_profile}/suspend",
        json={"reason": "audit"},
        headers=loop.admin,
    )
    assert suspended.json()["status"] == "SUSPENDED"
    rejected = await loop.client.post(
        f"/admin/organization-profiles/{org_profile}/reject",
        json={"reason": "late"},
        headers=loop.admin,
    )
    assert_problem(rejected, 409, "INVALID_TRANSITION")


async def test_an_initiation_the_ledger_refuses_ends_the_transfer_and_its_hold(biz: Biz) -> None:
    loop = biz.loop
    sent = await biz.send(biz.bob, "40")
    approval_id = sent.json()["approvalId"]
    async with loop.db.tenant(loop.tenant) as session:  # as if the member left meanwhile
        initiate = await session.scalar(
            select(OutboxCommand).where(
                OutboxCommand.request_id == f"business:{approval_id}:initiate"
            )
        )
        assert initiate is not None
        initiate.payload = {**initiate.payload, "initiatorId": "not-a-member"}
    assert (await biz.vote(biz.carol, approval_id)).json()["status"] == "APPROVED"
    await loop.settle()
    commands = await _commands(loop, approval_id)
    assert commands[CommandType.INITIATE_MULTISIG_TX].error_code == "NOT_A_MEMBER"
    assert commands[CommandType.EXECUTE_MULTISIG_TX].status is OutboxStatus.HELD
    assert await biz.available() == "259.960000000"  # still held: 40 + fee 0.04
    # The cleanup job ends it with the ledger's code; the money is available again.
    assert await approvals.expire_due(loop.db, now=datetime.now(UTC)) == 1
    commands = await _commands(loop, approval_id)
    execute = commands[CommandType.EXECUTE_MULTISIG_TX]
    assert (execute.status, execute.error_code) == (OutboxStatus.FAILED, "NOT_A_MEMBER")
    assert await biz.available() == "300.000000000"
    assert await approvals.expire_due(loop.db, now=datetime.now(UTC)) == 0
