"""Governance over HTTP: proposals, one vote per member, execution after a passed vote.

The real loop on a private database: the app (gx_app, RLS), the relay, the embedded ledger and
the projector, with one clock for the app and the ledger that the tests move forward.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from gxcore.admin import service as admin_service
from gxcore.admin.models import SystemParameter
from gxcore.config import Settings
from gxcore.cqrs.models import OutboxCommand
from gxcore.cqrs.outbox import enqueue
from gxcore.db.engine import create_engine
from gxcore.db.tenancy import Database
from gxcore.enums import CommandType, UserProfileStatus
from gxcore.identity.models import UserProfile
from gxcore.ledger import EmbeddedLedger
from tests.apps import per_test
from tests.conftest import ROLE_KEY
from tests.test_auth import bearer, make_user, signed_in
from tests.test_money_api import Loop
from tests.test_registration import Clock, _client, assert_problem

S = UserProfileStatus
VOTING_DAYS = 7  # governanceVotingPeriodDays' default


@dataclass
class ClockedLoop(Loop):
    """The money loop with one clock for the app and the ledger, and who signed in (to sign
    everyone in again once the clock has moved past their sessions)."""

    clock: Clock = field(default_factory=Clock)
    emails: dict[str, str] = field(default_factory=dict)
    admin_email: str = ""

    async def member(self, *, genesis: bool = True) -> dict[str, Any]:
        user = await self.user(genesis=genesis)
        async with self.db.tenant(self.tenant) as s:
            profile = await s.get(UserProfile, user["id"])
            assert profile is not None and profile.fabric_user_id is not None
            self.emails[user["id"]] = profile.email
            user["account"] = profile.fabric_user_id
        return user

    async def advance(self, users: list[dict[str, Any]], **delta: float) -> None:
        self.clock.advance(**delta)
        self.admin.update(bearer(await signed_in(self.client, self.admin_email)))
        for user in users:
            user["headers"] = bearer(await signed_in(self.client, self.emails[user["id"]]))

    async def command(self, command_id: str) -> OutboxCommand:
        async with self.db.tenant(self.tenant) as s:
            command = await s.get(OutboxCommand, command_id)
            assert command is not None
            return command


@pytest.fixture
async def gov(scratch_url: str, tenant: str, tmp_path: Any) -> AsyncIterator[ClockedLoop]:
    owner = create_engine(scratch_url)
    async with AsyncSession(owner) as session, session.begin():
        await admin_service.seed_countries(session)
    await owner.dispose()
    db = Database.connect(scratch_url, role_key=ROLE_KEY)
    async with db.system(reason="test setup: gx tenant create") as session:
        await admin_service.create_tenant(session, tenant)
    settings = Settings(
        data_dir=tmp_path,
        otp_secret="test-only-otp-secret-0123456789abcdef",
        jwt_secret="test-only-jwt-secret-0123456789abcdefghij",
        environment="test",
    )
    clock = Clock()
    app = per_test(database=db, settings=settings, clock=clock)
    async with (
        await EmbeddedLedger.open(scratch_url, clock=clock) as ledger,
        _client(app, tenant) as client,
    ):
        boss = await make_user(db, tenant, role="SUPER_ADMIN", status=S.ACTIVE)
        admin = bearer(await signed_in(client, boss.email))
        yield ClockedLoop(db, ledger, client, tenant, admin, clock=clock, admin_email=boss.email)
    await db.dispose()


async def propose(loop: ClockedLoop, user: dict[str, Any], key: str, value: str) -> httpx.Response:
    return await loop.client.post(
        "/proposals",
        json={"parameterKey": key, "newValue": value, "title": f"{key} to {value}"},
        headers=user["headers"],
    )


async def open_proposal(loop: ClockedLoop, user: dict[str, Any], key: str, value: str) -> str:
    sent = await propose(loop, user, key, value)
    assert sent.status_code == 202, sent.text
    await loop.settle()
    return str(sent.json()["proposalId"])


async def vote(
    loop: ClockedLoop, user: dict[str, Any], proposal_id: str, support: bool
) -> httpx.Response:
    return await loop.client.post(
        f"/proposals/{proposal_id}/vote", json={"support": support}, headers=user["headers"]
    )


async def read(loop: ClockedLoop, user: dict[str, Any], proposal_id: str) -> dict[str, Any]:
    got = await loop.client.get(f"/proposals/{proposal_id}", headers=user["headers"])
    assert got.status_code == 200, got.text
    return dict(got.json())


# --------------------------------------------------------------------------------------------


async def test_a_second_vote_is_refused_at_the_api_and_by_the_ledger(gov: ClockedLoop) -> None:
    alice, bob = await gov.member(genesis=False), await gov.member(genesis=False)
    pid = await open_proposal(gov, alice, "transferFeeBps", "20")
    before = await read(gov, alice, pid)
    assert (before["status"], before["votesFor"], before["votingOpen"]) == ("OPEN", 0, True)
    assert before["parameterKey"] == "transferFeeBps" and before["newValue"] == "20"

    first = await vote(gov, bob, pid, True)
    assert first.status_code == 202, first.text
    # Refused while the first vote is on its way, and once it is counted.
    assert_problem(await vote(gov, bob, pid, True), 409, "ALREADY_VOTED")
    await gov.settle()
    assert_problem(await vote(gov, bob, pid, False), 409, "ALREADY_VOTED")
    seen = await read(gov, bob, pid)
    assert (seen["votesFor"], seen["votesAgainst"]) == (1, 0)
    assert seen["voters"] == [{"voterId": bob["account"], "support": True}]
    assert seen["myVote"]["support"] is True and seen["myVote"]["command"]["status"] == (
        "COMMITTED"
    )

    # Past the API, the ledger refuses it too; its code is the command's outcome.
    async with gov.db.tenant(gov.tenant) as s:
        again = await enqueue(
            s,
            service="svc-governance",
            command_type=CommandType.CAST_VOTE,
            request_id=f"vote-bypass:{pid}",
            payload={"proposalId": pid, "voterId": bob["account"], "support": False},
        )
        again_id = again.id
    await gov.settle()
    refused = await gov.command(again_id)
    assert (refused.status.value, refused.error_code) == ("FAILED", "ALREADY_VOTED")
    after = await read(gov, alice, pid)
    assert (after["votesFor"], after["votesAgainst"]) == (1, 0)


async def test_execution_waits_for_the_voting_period_and_a_passed_vote(gov: ClockedLoop) -> None:
    people = [await gov.member(genesis=False) for _ in range(3)]
    alice, bob, carol = people
    passing = await open_proposal(gov, alice, "genesisAllocation", "600")
    tied = await open_proposal(gov, alice, "genesisMaxAge", "80")
    opened = await read(gov, alice, passing)
    ends = opened["votingEndsAt"]
    for who, on, support in (
        (alice, passing, True),
        (bob, passing, True),
        (carol, passing, False),
        (alice, tied, True),
        (bob, tied, False),
    ):
        assert (await vote(gov, who, on, support)).status_code == 202
    await gov.settle()

    early = await gov.client.post(f"/proposals/{passing}/execute", headers=alice["headers"])
    assert "votingEndsAt" in assert_problem(early, 409, "PROPOSAL_NOT_PASSED")
    # The ledger keeps the same rule when the API is bypassed.
    async with gov.db.tenant(gov.tenant) as s:
        bypass = await enqueue(
            s,
            service="svc-governance",
            command_type=CommandType.EXECUTE_PROPOSAL,
            request_id=f"execute-bypass:{passing}",
            payload={"proposalId": passing},
        )
        bypass_id = bypass.id
    await gov.settle()
    assert (await gov.command(bypass_id)).error_code == "PROPOSAL_NOT_PASSED"

    # One minute before the end voting is still open; a minute after it, closed.
    await gov.advance(people, days=VOTING_DAYS, minutes=-1)
    assert (await read(gov, alice, passing))["votingOpen"] is True
    await gov.advance(people, minutes=2)
    late = await gov.member(genesis=False)
    assert_problem(await vote(gov, late, passing, True), 409, "PROPOSAL_CLOSED")
    closed = await read(gov, alice, passing)
    assert closed["votingEndsAt"] == ends
    assert (closed["votingOpen"], closed["passed"], closed["votesFor"]) == (False, True, 2)
    assert (await read(gov, alice, tied))["passed"] is False

    not_passed = await gov.client.post(f"/proposals/{tied}/execute", headers=bob["headers"])
    assert_problem(not_passed, 409, "PROPOSAL_NOT_PASSED")
    run = await gov.client.post(f"/proposals/{passing}/execute", headers=carol["headers"])
    assert run.status_code == 202, run.text
    asked_again = await gov.client.post(f"/proposals/{passing}/execute", headers=bob["headers"])
    assert asked_again.json()["commandId"] == run.json()["commandId"]
    await gov.settle()
    done = await read(gov, alice, passing)
    assert done["status"] == "EXECUTED" and done["executedAt"] is not None
    assert done["execution"]["status"] == "COMMITTED"
    again = await gov.client.post(f"/proposals/{passing}/execute", headers=alice["headers"])
    assert_problem(again, 409, "ALREADY_EXECUTED")
    async with gov.db.tenant(gov.tenant) as s:
        value = await s.scalar(
            select(SystemParameter.param_value).where(
                SystemParameter.param_key == "genesisAllocation"
            )
        )
    assert value == "600.000000000"


async def test_an_executed_proposal_changes_the_fee_the_ledger_then_charges(
    gov: ClockedLoop,
) -> None:
    alice, bob = await gov.member(), await gov.member()
    pid = await open_proposal(gov, alice, "transferFeeBps", "100")
    assert (await vote(gov, bob, pid, True)).status_code == 202
    await gov.settle()
    await gov.advance([alice, bob], days=VOTING_DAYS, seconds=1)
    assert (
        await gov.client.post(f"/proposals/{pid}/execute", headers=alice["headers"])
    ).status_code == 202
    await gov.settle()
    executed = await gov.client.get("/proposals?status=EXECUTED", headers=bob["headers"])
    assert [p["proposalId"] for p in executed.json()["items"]] == [pid]

    # 100 coins now pay 1 (100 bps), not 0.1: held by the API, charged by the ledger.
    sent = await gov.send(alice, bob, "100")
    assert sent.status_code == 202, sent.text
    assert (await gov.balance(alice))["held"] == "101.000000000"
    await gov.settle()
    assert (await gov.balance(alice))["balance"] == "399.000000000"
    assert (await gov.balance(bob))["balance"] == "600.000000000"


async def test_a_proposal_is_checked_as_the_ledger_would_and_writes_nothing_when_refused(
    gov: ClockedLoop,
) -> None:
    alice = await gov.member(genesis=False)
    unknown = await propose(gov, alice, "mintEverything", "1")
    assert assert_problem(unknown, 422, "UNKNOWN_PARAMETER")["errors"][0]["field"] == (
        "parameterKey"
    )
    too_high = await propose(gov, alice, "velocityTaxRateBps", "601")
    assert assert_problem(too_high, 422, "INVALID_VALUE")["errors"][0]["field"] == "newValue"
    assert_problem(
        await propose(gov, alice, "transferFeeThreshold", "0.0000000001"), 422, ("INVALID_VALUE")
    )
    # Signed in, but with no ledger account yet.
    newcomer = await make_user(gov.db, gov.tenant, status=S.ACTIVE)
    headers = bearer(await signed_in(gov.client, newcomer.email))
    no_account = await gov.client.post(
        "/proposals", json={"parameterKey": "transferFeeBps", "newValue": "5"}, headers=headers
    )
    assert_problem(no_account, 409, "NO_LEDGER_ACCOUNT")
    async with gov.db.tenant(gov.tenant) as s:
        proposals = await s.scalar(
            select(func.count())
            .select_from(OutboxCommand)
            .where(OutboxCommand.command_type == CommandType.SUBMIT_PROPOSAL)
        )
    assert proposals == 0
    missing = await gov.client.post(
        "/proposals/nope/vote", json={"support": True}, headers=(alice["headers"])
    )
    assert_problem(missing, 404, "PROPOSAL_NOT_FOUND")


async def test_a_proposal_on_its_way_is_its_proposers_until_the_ledger_records_it(
    gov: ClockedLoop,
) -> None:
    alice, bob = await gov.member(genesis=False), await gov.member(genesis=False)
    sent = await propose(gov, alice, "multisigApprovalTtlHours", "48")
    pid = sent.json()["proposalId"]
    pending = await read(gov, alice, pid)
    assert pending["status"] == "PENDING" and pending["submission"]["status"] == "PENDING"
    other = await gov.client.get(f"/proposals/{pid}", headers=bob["headers"])
    assert_problem(other, 404, "PROPOSAL_NOT_FOUND")
    assert_problem(await vote(gov, bob, pid, True), 409, "PROPOSAL_PENDING")
    await gov.settle()
    assert (await read(gov, bob, pid))["status"] == "OPEN"


async def test_open_proposals_come_newest_first_in_keyset_pages(gov: ClockedLoop) -> None:
    alice = await gov.member(genesis=False)
    ids = []
    for value in ("11", "12", "13"):
        ids.append(await open_proposal(gov, alice, "transferFeeBps", value))
        gov.clock.advance(seconds=1)
    first = await gov.client.get("/proposals?limit=2", headers=alice["headers"])
    body = first.json()
    assert [p["proposalId"] for p in body["items"]] == ids[::-1][:2]
    assert body["items"][0]["votingOpen"] is True
    rest = await gov.client.get(
        f"/proposals?limit=2&cursor={body['nextCursor']}", headers=alice["headers"]
    )
    assert [p["proposalId"] for p in rest.json()["items"]] == ids[:1]
    assert rest.json()["nextCursor"] is None
    assert (await gov.client.get("/proposals?status=EXECUTED", headers=alice["headers"])).json()[
        "items"
    ] == []


async def test_parallel_votes_of_one_member_count_once(gov: ClockedLoop) -> None:
    alice, bob = await gov.member(genesis=False), await gov.member(genesis=False)
    pid = await open_proposal(gov, alice, "transferFeeBps", "15")
    answers = await asyncio.gather(*(vote(gov, bob, pid, i % 2 == 0) for i in range(6)))
    accepted = {a.json()["commandId"] for a in answers if a.status_code == 202}
    refused = {a.json()["code"] for a in answers if a.status_code != 202}
    assert len(accepted) == 1 and refused <= {"ALREADY_VOTED"}, answers
    await gov.settle()
    seen = await read(gov, alice, pid)
    assert seen["votesFor"] + seen["votesAgainst"] == 1 and len(seen["voters"]) == 1
