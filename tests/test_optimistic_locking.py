"""Optimistic locking: a `version` on OutboxCommand, UserProfile, Wallet, BusinessAccount and
SignatoryRule, checked and bumped by every ORM update and bumped by every set-based writer; a
stale write is CONCURRENT_MODIFICATION; HTTP answers the version as the ETag and honours If-Match.
"""

# ruff: noqa: F811  (fixtures imported below)

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from gxcore.business.models import BusinessAccount, SignatoryRule
from gxcore.cqrs.models import OutboxCommand
from gxcore.cqrs.relay import Relay
from gxcore.db.tenancy import Database
from gxcore.enums import CommandType, OutboxStatus, UserProfileStatus
from gxcore.errors import ConcurrentModification
from gxcore.http import error_response
from gxcore.identity.models import UserProfile
from gxcore.wallet.models import Wallet
from tests import test_auth
from tests.factories import register_tenant
from tests.test_auth import bearer, make_user, signed_in
from tests.test_business_accounts import Biz, biz  # noqa: F401  (the fixture)
from tests.test_money_api import FAST, Loop, loop  # noqa: F401  (the fixture)
from tests.test_registration import _client, assert_problem

app, client, clock, countries, settings = (
    test_auth.app,
    test_auth.client,
    test_auth.clock,
    test_auth.countries,
    test_auth.settings,
)


async def _profile(db: Database, tenant: str, profile_id: str) -> UserProfile:
    async with db.tenant(tenant) as session:
        found = await session.get(UserProfile, profile_id)
        assert found is not None
        return found


# --------------------------------------------------------------------------------------------
# The unit of work
# --------------------------------------------------------------------------------------------


async def test_of_two_sessions_updating_one_row_the_later_gets_concurrent_modification(
    db: Database, tenant: str
) -> None:
    pid = (await make_user(db, tenant)).profile_id
    with pytest.raises(ConcurrentModification) as caught:
        async with db.tenant(tenant) as loser:
            stale = await loser.get(UserProfile, pid)
            assert stale is not None and stale.version == 1
            async with db.tenant(tenant) as winner:
                fresh = await winner.get(UserProfile, pid)
                assert fresh is not None
                fresh.first_name = "Winner"
            stale.first_name = "Loser"
    assert caught.value.code == "CONCURRENT_MODIFICATION"
    assert caught.value.details["currentVersion"] == 2
    assert caught.value.details["resource"] == "UserProfile"
    assert caught.value.details["resourceId"] == pid
    after = await _profile(db, tenant, pid)
    assert (after.first_name, after.version) == ("Winner", 2)


async def test_of_sessions_racing_on_one_command_exactly_one_commits(
    db: Database, tenant: str
) -> None:
    async with db.tenant(tenant) as session:
        command = OutboxCommand(
            service="test",
            command_type=CommandType.TRANSFER_TOKENS,
            request_id=f"race:{uuid.uuid4().hex}",
            payload={},
        )
        session.add(command)
    racers = 5
    all_read = asyncio.Barrier(racers)

    async def race(n: int) -> str:
        try:
            async with db.tenant(tenant) as session:
                row = await session.get(OutboxCommand, command.id)
                assert row is not None
                await all_read.wait()  # every racer holds version 1 before anyone writes
                row.error = f"racer {n}"
        except ConcurrentModification as e:
            assert e.details["currentVersion"] == 2
            return "lost"
        return f"racer {n}"

    outcomes = await asyncio.gather(*(race(n) for n in range(racers)))
    winners = [o for o in outcomes if o != "lost"]
    assert len(winners) == 1, outcomes
    async with db.tenant(tenant) as session:
        row = await session.get(OutboxCommand, command.id)
        assert row is not None and (row.error, row.version) == (winners[0], 2)


async def test_a_stale_delete_is_refused_too(db: Database, tenant: str) -> None:
    pid = (await make_user(db, tenant)).profile_id
    with pytest.raises(ConcurrentModification):
        async with db.tenant(tenant) as loser:
            stale = await loser.get(UserProfile, pid)
            async with db.tenant(tenant) as winner:
                fresh = await winner.get(UserProfile, pid)
                assert fresh is not None
                fresh.job_title = "engineer"
            await loser.delete(stale)
    assert (await _profile(db, tenant, pid)).job_title == "engineer"


def test_concurrent_modification_is_a_409_problem_with_the_current_version() -> None:
    response = error_response(
        ConcurrentModification("changed", resource="Wallet", resourceId="w1", currentVersion=7)
    )
    assert response.status_code == 409
    assert b'"code":"CONCURRENT_MODIFICATION"' in response.body
    assert b'"currentVersion":7' in response.body


# --------------------------------------------------------------------------------------------
# Set-based writers bump the version too
# --------------------------------------------------------------------------------------------


async def _command_versions(loop: Loop) -> dict[str, int]:
    async with loop.db.tenant(loop.tenant) as session:
        rows = await session.execute(select(OutboxCommand.id, OutboxCommand.version))
        return {cid: version for cid, version in rows.all()}


async def _wallet_version(loop: Loop, profile_id: str) -> int:
    async with loop.db.tenant(loop.tenant) as session:
        version = await session.scalar(
            select(Wallet.version).where(Wallet.profile_id == profile_id)
        )
        assert version is not None
        return version


async def test_the_relay_claim_and_record_and_the_projector_bump_versions(loop: Loop) -> None:
    alice, bob = await loop.user(), await loop.user()
    before = {u["id"]: await _wallet_version(loop, u["id"]) for u in (alice, bob)}
    known = await _command_versions(loop)
    sent = await loop.send(alice, bob, "12.5")
    assert sent.status_code == 202, sent.text
    (new,) = set(await _command_versions(loop)) - set(known)
    assert (await _command_versions(loop))[new] == 1

    # One relay batch: the set-based claim (LOCKED) and the set-based record of the outcome.
    stats = await Relay(loop.db, loop.ledger, FAST).run_batch()
    assert stats.claimed == 1
    assert (await _command_versions(loop))[new] == 3
    await loop.settle()  # the projector applies the transfer's events
    async with loop.db.tenant(loop.tenant) as session:
        command = await session.get(OutboxCommand, new)
        assert command is not None and command.status is OutboxStatus.COMMITTED
        assert command.version >= 3
    # Both balances moved in one projector batch: each wallet's version moved once.
    for user in (alice, bob):
        assert await _wallet_version(loop, user["id"]) == before[user["id"]] + 1
    # Earlier commands, already delivered, were not touched again.
    assert {c: v for c, v in (await _command_versions(loop)).items() if c in known} == known


async def test_the_projector_activation_bumps_the_profile_version(loop: Loop) -> None:
    profile = await make_user(loop.db, loop.tenant, status=UserProfileStatus.PENDING_ADMIN_APPROVAL)
    approved = await loop.client.post(
        f"/admin/users/{profile.profile_id}/approve", headers=loop.admin
    )
    assert approved.status_code == 200, approved.text
    reviewed = (await _profile(loop.db, loop.tenant, profile.profile_id)).version
    assert reviewed == 2  # the review is an ORM update
    await loop.settle()  # UserCreated: the set-based activation
    after = await _profile(loop.db, loop.tenant, profile.profile_id)
    assert after.status is UserProfileStatus.ACTIVE and after.version == reviewed + 1


# --------------------------------------------------------------------------------------------
# HTTP: ETag and If-Match
# --------------------------------------------------------------------------------------------


async def test_a_profile_update_honours_if_match_and_answers_the_new_etag(
    client: httpx.AsyncClient, db: Database, tenant: str
) -> None:
    me = await make_user(db, tenant, status=UserProfileStatus.ACTIVE)
    auth = bearer(await signed_in(client, me.email or ""))
    path = f"/users/{me.profile_id}"

    got = await client.get(path, headers=auth)
    assert got.status_code == 200 and got.headers["ETag"] == '"1"' and got.json()["version"] == 1

    first = await client.patch(path, json={"jobTitle": "A"}, headers={**auth, "If-Match": '"1"'})
    assert first.status_code == 200, first.text
    assert first.headers["ETag"] == '"2"' and first.json()["version"] == 2

    stale = await client.patch(path, json={"jobTitle": "B"}, headers={**auth, "If-Match": '"1"'})
    body = assert_problem(stale, 412, "PRECONDITION_FAILED")
    assert body["currentVersion"] == 2
    assert (await _profile(db, tenant, me.profile_id)).job_title == "A"

    weak = await client.patch(path, json={"jobTitle": "B"}, headers={**auth, "If-Match": 'W/"2"'})
    assert_problem(weak, 412, "PRECONDITION_FAILED")  # If-Match compares strongly
    bad = await client.patch(path, json={"jobTitle": "B"}, headers={**auth, "If-Match": "2"})
    assert_problem(bad, 422, "VALIDATION_FAILED")
    assert (await _profile(db, tenant, me.profile_id)).job_title == "A"

    listed = await client.patch(
        path, json={"jobTitle": "C"}, headers={**auth, "If-Match": '"9", "2"'}
    )
    assert listed.status_code == 200 and listed.headers["ETag"] == '"3"', listed.text
    anyone = await client.patch(path, json={"jobTitle": "D"}, headers={**auth, "If-Match": "*"})
    assert anyone.status_code == 200 and anyone.headers["ETag"] == '"4"', anyone.text
    # Without If-Match the update is made, and the version still moves on.
    blind = await client.patch(path, json={"jobTitle": "E"}, headers=auth)
    assert blind.status_code == 200 and blind.headers["ETag"] == '"5"', blind.text
    after = await _profile(db, tenant, me.profile_id)
    assert (after.job_title, after.version) == ("E", 5)


async def test_another_tenants_or_users_profile_stays_404_with_if_match(
    app: Any, client: httpx.AsyncClient, db: Database, tenant: str
) -> None:
    me = await make_user(db, tenant, status=UserProfileStatus.ACTIVE)
    other_user = await make_user(db, tenant, status=UserProfileStatus.ACTIVE)
    auth = bearer(await signed_in(client, other_user.email or ""))
    path = f"/users/{me.profile_id}"
    for headers in (auth, {**auth, "If-Match": '"1"'}):
        assert_problem(await client.get(path, headers=headers), 404, "USER_NOT_FOUND")
        denied = await client.patch(path, json={"jobTitle": "X"}, headers=headers)
        assert_problem(denied, 404, "USER_NOT_FOUND")

    elsewhere = await register_tenant(db, f"t-{uuid.uuid4().hex[:12]}")
    stranger = await make_user(db, elsewhere, status=UserProfileStatus.ACTIVE)
    async with _client(app, elsewhere) as theirs:
        their_auth = bearer(await signed_in(theirs, stranger.email or ""))
        for headers in (their_auth, {**their_auth, "If-Match": '"1"'}):
            assert (await theirs.get(path, headers=headers)).status_code == 404
            denied = await theirs.patch(path, json={"jobTitle": "X"}, headers=headers)
            assert denied.status_code == 404, denied.text
    after = await _profile(db, tenant, me.profile_id)
    assert (after.job_title, after.version) == (None, 1)


async def test_business_account_and_rule_updates_honour_if_match(biz: Biz) -> None:
    loop, owner = biz.loop, biz.owner
    path = f"/business-accounts/{biz.account_id}"

    got = await loop.client.get(path, headers=owner["headers"])
    assert got.status_code == 200, got.text
    version = got.json()["version"]
    assert got.headers["ETag"] == f'"{version}"'

    changed = await loop.client.patch(
        path,
        json={"defaultRequiredApprovals": 3},
        headers={**owner["headers"], "If-Match": f'"{version}"'},
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["defaultRequiredApprovals"] == 3
    assert changed.headers["ETag"] == f'"{version + 1}"' == f'"{changed.json()["version"]}"'

    stale = await loop.client.patch(
        path,
        json={"defaultRequiredApprovals": 1},
        headers={**owner["headers"], "If-Match": f'"{version}"'},
    )
    assert assert_problem(stale, 412, "PRECONDITION_FAILED")["currentVersion"] == version + 1
    async with loop.db.tenant(loop.tenant) as session:
        account = await session.get(BusinessAccount, biz.account_id)
        assert account is not None
        assert (account.default_required_approvals, account.version) == (3, version + 1)

    added = await loop.client.post(
        f"{path}/rules", json={"requiredApprovals": 1}, headers=owner["headers"]
    )
    assert added.status_code == 201 and added.json()["version"] == 1, added.text
    rule = added.json()["ruleId"]
    retire = f"{path}/rules/{rule}/deactivate"
    refused = await loop.client.post(retire, headers={**owner["headers"], "If-Match": '"7"'})
    assert assert_problem(refused, 412, "PRECONDITION_FAILED")["currentVersion"] == 1
    async with loop.db.tenant(loop.tenant) as session:
        kept = await session.get(SignatoryRule, rule)
        assert kept is not None and kept.is_active and kept.version == 1
    retired = await loop.client.post(retire, headers={**owner["headers"], "If-Match": '"1"'})
    assert retired.status_code == 200 and retired.json()["isActive"] is False, retired.text
    assert retired.headers["ETag"] == '"2"'

    # Another tenant's caller, with or without If-Match, finds no such account.
    elsewhere = await register_tenant(loop.db, f"t-{uuid.uuid4().hex[:12]}")
    stranger = await make_user(loop.db, elsewhere, status=UserProfileStatus.ACTIVE)
    their = {"X-Tenant-Id": elsewhere}
    login = await loop.client.post(
        "/auth/login",
        json={"email": stranger.email, "password": test_auth.PASSWORD},
        headers=their,
    )
    assert login.status_code == 200, login.text
    their_auth = {**their, **bearer(login.json())}
    for headers in (their_auth, {**their_auth, "If-Match": f'"{version + 1}"'}):
        assert (await loop.client.get(path, headers=headers)).status_code == 404
        denied = await loop.client.patch(
            path, json={"defaultRequiredApprovals": 5}, headers=headers
        )
        assert denied.status_code == 404, denied.text
    async with loop.db.tenant(loop.tenant) as session:
        account = await session.get(BusinessAccount, biz.account_id)
        assert account is not None
        assert (account.default_required_approvals, account.version) == (3, version + 1)
