"""Administrators over HTTP: the review queue, approve and reject, account actions, `gx admin`."""

from __future__ import annotations

import asyncio
import base64
import uuid
from datetime import date
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, update

from gxcore.audit.models import AuditLog
from gxcore.cqrs.models import OutboxCommand
from gxcore.cqrs.projector import Projector
from gxcore.cqrs.rebuild import rebuild
from gxcore.cqrs.relay import Relay, RelayConfig
from gxcore.db import pages
from gxcore.db.tenancy import Database
from gxcore.enums import AuditEventType, CommandType, OutboxStatus, UserProfileStatus
from gxcore.identity import review
from gxcore.identity.models import UserProfile
from gxcore.identity.principal import Principal
from gxcore.identity.registration import age_on
from gxcore.identity.review import Review
from gxcore.ledger import EmbeddedLedger
from gxcore.ledger.commands import CreateUser
from tests import test_auth, test_projector
from tests.factories import register_tenant
from tests.ledger_contract import ManualClock, Script
from tests.test_auth import bearer, events, load, login, make_user, signed_in
from tests.test_projector import nigeria, profile, registered
from tests.test_registration import PASSWORD, Clock, _client, assert_problem, gx, new_email

S = UserProfileStatus
Event = AuditEventType
# The same app, clock and clients as test_auth.
app, client, clock, countries, settings = (
    test_auth.app,
    test_auth.client,
    test_auth.clock,
    test_auth.countries,
    test_auth.settings,
)
# The embedded ledger on a private database, as test_projector's end-to-end tests use it.
stack = test_projector.stack


@pytest.fixture
async def boss(client: httpx.AsyncClient, db: Database, tenant: str) -> dict[str, Any]:
    """An administrator of the test's tenant, signed in: {"profile": ..., "headers": ...}."""
    profile = await make_user(db, tenant, role="ADMIN", status=S.ACTIVE)
    return {"profile": profile, "headers": bearer(await signed_in(client, profile.email))}


async def commands(db: Database, tenant: str) -> list[OutboxCommand]:
    async with db.tenant(tenant) as session:
        return list((await session.scalars(select(OutboxCommand))).all())


# --------------------------------------------------------------------------------------------
# The review queue
# --------------------------------------------------------------------------------------------


async def test_the_list_filters_by_status_in_keyset_pages(
    client: httpx.AsyncClient, db: Database, tenant: str, boss: dict[str, Any]
) -> None:
    waiting = [await make_user(db, tenant) for _ in range(5)]
    # Created in one transaction: equal createdAt, so the profile id must break the tie.
    async with db.tenant(tenant) as session:
        same_moment = [UserProfile(first_name="B", last_name="C", email=new_email(),
                                   biometric_hash=uuid.uuid4().hex, password_hash="x")
                       for _ in range(3)]  # fmt: skip
        session.add_all(same_moment)
    waiting += same_moment
    denied = await make_user(db, tenant, status=S.DENIED)
    seen: list[str] = []
    cursor = None
    for expected in (3, 3, 2):
        params: dict[str, Any] = {"status": "REGISTERED", "limit": 3}
        if cursor:
            params["cursor"] = cursor
        response = await client.get("/admin/users", params=params, headers=boss["headers"])
        assert response.status_code == 200, response.text
        page = response.json()
        assert len(page["items"]) == expected
        seen += [u["profileId"] for u in page["items"]]
        cursor = page["nextCursor"]
    assert cursor is None
    assert sorted(seen) == sorted(p.profile_id for p in waiting) and len(set(seen)) == len(seen)
    async with db.tenant(tenant) as session:
        order = (
            await session.scalars(
                select(UserProfile.profile_id)
                .where(UserProfile.status == S.REGISTERED)
                .order_by(UserProfile.created_at, UserProfile.profile_id)
            )
        ).all()
    assert seen == list(order)  # oldest first, ties by id: no row skipped or repeated

    both = await client.get(
        "/admin/users", params={"status": ["REGISTERED", "DENIED"]}, headers=boss["headers"]
    )
    ids = {u["profileId"] for u in both.json()["items"]}
    assert ids == set(seen) | {denied.profile_id}
    everyone = await client.get("/admin/users", headers=boss["headers"])
    assert boss["profile"].profile_id in {u["profileId"] for u in everyone.json()["items"]}
    single = await client.get(f"/admin/users/{denied.profile_id}", headers=boss["headers"])
    assert single.json()["status"] == "DENIED"

    for params, field in [
        ({"limit": 0}, "limit"),
        ({"limit": pages.MAX_LIMIT + 1}, "limit"),
        ({"status": "SLEEPING"}, "status"),
    ]:
        response = await client.get("/admin/users", params=params, headers=boss["headers"])
        problem = assert_problem(response, 422, "VALIDATION_FAILED")
        assert any(field in e["field"].split(".") for e in problem["errors"]), problem
    response = await client.get(
        "/admin/users", params={"cursor": "not-a-cursor"}, headers=boss["headers"]
    )
    assert assert_problem(response, 400, "INVALID_CURSOR")["errors"][0]["field"] == "cursor"


# --------------------------------------------------------------------------------------------
# Approve and reject
# --------------------------------------------------------------------------------------------


async def test_approve_writes_the_status_and_one_create_user_command(
    client: httpx.AsyncClient, db: Database, tenant: str, boss: dict[str, Any], clock: Clock
) -> None:
    user = await make_user(db, tenant)
    path = f"/admin/users/{user.profile_id}/approve"
    response = await client.post(path, headers=boss["headers"])
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "APPROVED_PENDING_ONCHAIN"
    saved = await load(db, tenant, UserProfile, user.profile_id)
    assert saved.status is S.APPROVED_PENDING_ONCHAIN
    assert saved.reviewed_by == boss["profile"].profile_id and saved.reviewed_at is not None

    [command] = await commands(db, tenant)
    assert (command.command_type, command.status, command.service) == (
        CommandType.CREATE_USER,
        OutboxStatus.PENDING,
        "svc-identity",
    )
    assert command.request_id == f"create-user:{user.profile_id}"
    payload = CreateUser.model_validate(command.payload)  # the ledger's own schema accepts it
    assert (payload.user_id, payload.profile_id, payload.nationality) == (
        user.profile_id,
        user.profile_id,
        "GB",
    )
    assert payload.biometric_hash == user.biometric_hash
    assert payload.age == age_on(user.date_of_birth, clock.now.date())

    again = await client.post(path, headers=boss["headers"])
    assert again.status_code == 200 and again.json()["status"] == "APPROVED_PENDING_ONCHAIN"
    assert len(await commands(db, tenant)) == 1
    [change] = [
        e
        for e in await events(db, tenant, Event.PROFILE_UPDATED)
        if e.resource_id == user.profile_id
    ]
    assert change.actor_profile_id == boss["profile"].profile_id
    assert change.new_value["status"] == "APPROVED_PENDING_ONCHAIN"


async def failed(db: Database, command_id: str, code: str = "NOT_BOOTSTRAPPED") -> None:
    """What the relay records for a command the ledger rejected."""
    async with db.system(reason="test: the ledger rejected it") as session:
        await session.execute(
            update(OutboxCommand)
            .where(OutboxCommand.id == command_id)
            .values(status=OutboxStatus.FAILED, error_code=code, fabric_tx_id="tx", commit_block=1)
        )


async def test_a_user_whose_create_user_failed_is_approved_again_with_a_new_command(
    client: httpx.AsyncClient, db: Database, tenant: str, boss: dict[str, Any]
) -> None:
    user = await make_user(db, tenant)
    path = f"/admin/users/{user.profile_id}/approve"
    assert (await client.post(path, headers=boss["headers"])).status_code == 200
    [first] = await commands(db, tenant)
    await failed(db, first.id)

    second_admin = await make_user(db, tenant, role="ADMIN", status=S.ACTIVE)
    headers = bearer(await signed_in(client, second_admin.email))
    response = await client.post(path, headers=headers)
    assert response.status_code == 200 and response.json()["status"] == "APPROVED_PENDING_ONCHAIN"
    by_id = {c.id: c for c in await commands(db, tenant)}
    [retry] = [c for c in by_id.values() if c.id != first.id]
    assert retry.request_id == f"create-user:{user.profile_id}:{first.id}"
    assert (retry.status, retry.payload) == (OutboxStatus.PENDING, first.payload)
    assert by_id[first.id].status is OutboxStatus.FAILED  # the ledger's answer, kept
    assert (await load(db, tenant, UserProfile, user.profile_id)).reviewed_by == (
        second_admin.profile_id
    )
    # While the new command is on its way, approving again writes nothing.
    assert (await client.post(path, headers=headers)).status_code == 200
    assert len(await commands(db, tenant)) == 2


async def test_concurrent_approvals_write_one_command(
    client: httpx.AsyncClient, db: Database, tenant: str, boss: dict[str, Any]
) -> None:
    user = await make_user(db, tenant)
    path = f"/admin/users/{user.profile_id}/approve"
    responses = await asyncio.gather(
        *(client.post(path, headers=boss["headers"]) for _ in range(4))
    )
    assert [r.status_code for r in responses] == [200] * 4
    assert len(await commands(db, tenant)) == 1


async def test_reject_denies_with_the_reason_the_user_reads(
    client: httpx.AsyncClient, db: Database, tenant: str, boss: dict[str, Any]
) -> None:
    user = await make_user(db, tenant)
    user_headers = bearer(await signed_in(client, user.email))
    path = f"/admin/users/{user.profile_id}/reject"
    response = await client.post(path, json={}, headers=boss["headers"])
    assert assert_problem(response, 422, "VALIDATION_FAILED")["errors"][0]["field"] == "reason"
    assert (await load(db, tenant, UserProfile, user.profile_id)).status is S.REGISTERED

    response = await client.post(
        path, json={"reason": "document mismatch"}, headers=boss["headers"]
    )
    assert response.status_code == 200 and response.json()["status"] == "DENIED"
    # The user's live session is refused from now on, and a new login too.
    assert_problem(
        await client.get(f"/users/{user.profile_id}", headers=user_headers), 403, "ACCOUNT_INACTIVE"
    )
    response = await client.post("/auth/login", json={"email": user.email, "password": PASSWORD})
    assert_problem(response, 403, "ACCOUNT_INACTIVE")
    seen = await client.get(f"/admin/users/{user.profile_id}", headers=boss["headers"])
    assert seen.json()["denialReason"] == "document mismatch"

    # Denied is final for review: neither approve nor reject again.
    before = await load(db, tenant, UserProfile, user.profile_id)
    for action in ("approve", "reject"):
        response = await client.post(
            f"/admin/users/{user.profile_id}/{action}",
            json={"reason": "x"},
            headers=boss["headers"],
        )
        body = assert_problem(response, 409, "INVALID_TRANSITION")
        assert body["current"] == "DENIED"
    after = await load(db, tenant, UserProfile, user.profile_id)
    assert after.updated_at == before.updated_at and after.denial_reason == "document mismatch"
    assert await commands(db, tenant) == []


async def test_a_profile_without_birth_date_cannot_be_approved(
    client: httpx.AsyncClient, db: Database, tenant: str, boss: dict[str, Any]
) -> None:
    user = await make_user(db, tenant, date_of_birth=None)
    response = await client.post(f"/admin/users/{user.profile_id}/approve", headers=boss["headers"])
    assert_problem(response, 409, "PROFILE_INCOMPLETE")
    assert (await load(db, tenant, UserProfile, user.profile_id)).status is S.REGISTERED
    assert await commands(db, tenant) == []


# --------------------------------------------------------------------------------------------
# Freeze, unfreeze, suspend, close: the same lifecycle table
# --------------------------------------------------------------------------------------------


async def test_account_actions_follow_the_lifecycle_table(
    client: httpx.AsyncClient, db: Database, tenant: str, boss: dict[str, Any]
) -> None:
    user = await make_user(db, tenant, status=S.ACTIVE)
    user_headers = bearer(await signed_in(client, user.email))
    path = f"/users/{user.profile_id}"

    async def act(action: str, **body: Any) -> httpx.Response:
        return await client.post(
            f"/admin/users/{user.profile_id}/{action}", json=body or None, headers=boss["headers"]
        )

    assert (await act("freeze", reason="chargeback")).json()["status"] == "FROZEN"
    assert_problem(await act("freeze"), 409, "INVALID_TRANSITION")
    # Frozen: signed out, and no new sign-in until unfrozen.
    assert_problem(await client.get(path, headers=user_headers), 401, "SESSION_REVOKED")
    body = assert_problem(await login(client, user.email), 403, "ACCOUNT_FROZEN")
    assert body["profileStatus"] == "FROZEN"
    assert (await act("unfreeze")).json()["status"] == "ACTIVE"
    user_headers = bearer(await signed_in(client, user.email))
    assert (await client.get(path, headers=user_headers)).is_success
    assert (await act("suspend")).json()["status"] == "SUSPENDED"
    assert_problem(await client.get(path, headers=user_headers), 401, "SESSION_REVOKED")
    assert_problem(await act("freeze"), 409, "INVALID_TRANSITION")  # SUSPENDED -> FROZEN: no
    # Unfreeze lifts a freeze, never a suspension.
    body = assert_problem(await act("unfreeze"), 409, "INVALID_TRANSITION")
    assert (body["current"], body["target"]) == ("SUSPENDED", "ACTIVE")
    assert (await load(db, tenant, UserProfile, user.profile_id)).status is S.SUSPENDED
    assert (await act("close")).json()["status"] == "CLOSED"
    for action in ("close", "unfreeze", "approve"):
        assert_problem(await act(action), 409, "INVALID_TRANSITION")
    assert_problem(await act("explode"), 422, "VALIDATION_FAILED")

    types = [
        e.event_type
        for e in await events(
            db,
            tenant,
            Event.ADMIN_ACCOUNT_FROZEN,
            Event.ADMIN_ACCOUNT_UNFROZEN,
            Event.ADMIN_ACCOUNT_CLOSED,
            Event.SESSION_REVOKED,
        )
    ]
    assert types == [
        Event.ADMIN_ACCOUNT_FROZEN,
        Event.SESSION_REVOKED,
        Event.ADMIN_ACCOUNT_UNFROZEN,
        Event.SESSION_REVOKED,
        Event.ADMIN_ACCOUNT_CLOSED,
    ]
    [frozen] = await events(db, tenant, Event.ADMIN_ACCOUNT_FROZEN)
    assert frozen.meta == {"reason": "chargeback"}
    assert frozen.actor_profile_id == boss["profile"].profile_id
    # One ledger command per freeze and unfreeze that happened, none for the refused ones.
    sent = sorted(await commands(db, tenant), key=lambda c: c.created_at)
    assert [(c.command_type, c.payload) for c in sent] == [
        (CommandType.FREEZE_WALLET, {"accountId": user.profile_id, "reason": "chargeback"}),
        (CommandType.UNFREEZE_WALLET, {"accountId": user.profile_id}),
    ]

    pending = await make_user(db, tenant)
    response = await client.post(
        f"/admin/users/{pending.profile_id}/freeze", headers=boss["headers"]
    )
    body = assert_problem(response, 409, "INVALID_TRANSITION")
    assert (body["current"], body["target"]) == ("REGISTERED", "FROZEN")
    assert len(await commands(db, tenant)) == 2


async def test_a_freeze_reaches_the_ledger_and_a_rebuild_sees_the_frozen_wallet(
    stack: tuple[Database, EmbeddedLedger, ManualClock], tenant: str, scratch_url: str
) -> None:
    db, ledger, clock = stack
    s = Script(ledger, tenant)
    await s.bootstrap()
    await s.user("payee")
    await nigeria(scratch_url)
    admin = await registered(db, tenant, status=S.ACTIVE)
    person = await registered(db, tenant, status=S.PENDING_ADMIN_APPROVAL,
                              date_of_birth=date(1990, 5, 1), nationality_country_code="NG")  # fmt: skip

    async def decide(call: Any, *args: Any) -> None:
        async with db.tenant(tenant, actor_profile_id=admin) as session:
            principal = Principal(admin, tenant, "session", "device", "ADMIN")
            await call(person, *args, review=Review(session, principal, clock.now))
        await Relay(db, ledger, RelayConfig(listen=False)).drain()
        await Projector(db, ledger).run(once=True)

    async def pay() -> Any:
        return await s.run("TRANSFER_TOKENS", senderId=person, receiverId="payee", amount="1")

    await decide(review.approve)
    await s.ok("DISTRIBUTE_GENESIS", userId=person)
    assert (await pay()).outcome.code is None

    await decide(review.apply, "freeze", "fraud check")
    assert (await pay()).outcome.code == "ACCOUNT_FROZEN"  # the ledger holds the money
    frozen = await profile(db, tenant, person)
    assert (frozen.status, frozen.onchain_status) == (S.FROZEN, "FROZEN")
    report = await rebuild(db, ledger)
    assert report.equal, report.differences
    # The rebuild derives the frozen wallet from the ledger's event, not from the live row.
    async with db.system(reason="test: damage the read model") as session:
        await session.execute(update(UserProfile).where(UserProfile.profile_id == person)
                              .values(onchain_status="ACTIVE"))  # fmt: skip
    damaged = await rebuild(db, ledger)
    assert [d.table for d in damaged.differences] == ["UserProfile"]
    await rebuild(db, ledger, apply=True)
    assert (await profile(db, tenant, person)).onchain_status == "FROZEN"

    await decide(review.apply, "unfreeze", None)
    assert (await pay()).outcome.code is None
    thawed = await profile(db, tenant, person)
    assert (thawed.status, thawed.onchain_status) == (S.ACTIVE, "ACTIVE")
    assert [c.status for c in await commands(db, tenant)] == [OutboxStatus.COMMITTED] * 3


# --------------------------------------------------------------------------------------------
# Who may call them
# --------------------------------------------------------------------------------------------

ADMIN_CALLS = [
    ("GET", "/admin/users", None),
    ("GET", "/admin/users/{id}", None),
    ("POST", "/admin/users/{id}/approve", None),
    ("POST", "/admin/users/{id}/reject", {"reason": "no"}),
    ("POST", "/admin/users/{id}/freeze", None),
]


async def test_a_forged_cursor_or_an_id_postgresql_cannot_hold_is_a_4xx_not_a_500(
    client: httpx.AsyncClient, db: Database, tenant: str, boss: dict[str, Any]
) -> None:
    # A cursor that is not signed never reaches the keyset query, whatever it holds.
    forged = base64.urlsafe_b64encode(b'["2026-01-01T00:00:00+00:00", "a\\u0000b"]').decode()
    response = await client.get("/admin/users", params={"cursor": forged}, headers=boss["headers"])
    assert assert_problem(response, 400, "INVALID_CURSOR")["errors"][0]["field"] == "cursor"
    target = await make_user(db, tenant)
    response = await client.post(
        f"/admin/users/{target.profile_id}%00/approve", headers=boss["headers"]
    )
    assert assert_problem(response, 422, "VALIDATION_FAILED")["errors"][0]["field"] == (
        "path.profile_id"
    )
    response = await client.post(
        f"/admin/users/{target.profile_id}/reject",
        json={"reason": "fraud\x00"},
        headers=boss["headers"],
    )
    assert assert_problem(response, 422, "VALIDATION_FAILED")["errors"][0]["field"] == "reason"
    assert (await load(db, tenant, UserProfile, target.profile_id)).status is S.REGISTERED
    assert await commands(db, tenant) == []


async def test_only_an_admin_may_call_the_admin_endpoints(
    client: httpx.AsyncClient, db: Database, tenant: str
) -> None:
    user = await make_user(db, tenant)
    user_headers = bearer(await signed_in(client, user.email))
    for method, path, body in ADMIN_CALLS:
        url = path.format(id=user.profile_id)
        response = await client.request(method, url, json=body, headers=user_headers)
        assert_problem(response, 403, "FORBIDDEN")
        assert_problem(await client.request(method, url, json=body), 401, "UNAUTHORIZED")
    assert (await load(db, tenant, UserProfile, user.profile_id)).status is S.REGISTERED
    assert await commands(db, tenant) == []


async def test_an_admin_of_another_tenant_sees_nothing_here(
    app: Any, client: httpx.AsyncClient, db: Database, tenant: str, boss: dict[str, Any]
) -> None:
    user = await make_user(db, tenant)
    other = await register_tenant(db, f"other-{uuid.uuid4().hex[:8]}")
    theirs = await make_user(db, other, role="ADMIN", status=S.ACTIVE)
    async with _client(app, other) as b:
        headers = bearer(await signed_in(b, theirs.email))
        listed = (await b.get("/admin/users", headers=headers)).json()["items"]
        assert [u["profileId"] for u in listed] == [theirs.profile_id]
        for method, path, body in ADMIN_CALLS[1:]:
            response = await b.request(
                method, path.format(id=user.profile_id), json=body, headers=headers
            )
            assert_problem(response, 404, "USER_NOT_FOUND")
        # Tenant A's admin token with tenant B's header.
        response = await b.get("/admin/users", headers=boss["headers"])
        assert_problem(response, 401, "TOKEN_TENANT_MISMATCH")
    assert (await load(db, tenant, UserProfile, user.profile_id)).status is S.REGISTERED


# --------------------------------------------------------------------------------------------
# gx admin
# --------------------------------------------------------------------------------------------


async def test_gx_admin_create_makes_an_admin_who_can_log_in(
    migrated_url: str, client: httpx.AsyncClient, db: Database, tenant: str
) -> None:
    email = new_email()

    def create(password: str, address: str = email) -> Any:
        return asyncio.to_thread(
            gx_stdin, password + "\n", "admin", "create", "--tenant", tenant, "--email", address,
            "--password-stdin", DATABASE_URL=migrated_url,
        )  # fmt: skip

    proc = await create(PASSWORD)
    assert proc.returncode == 0, proc.stderr
    assert f"administrator {email} created in tenant {tenant}" in proc.stdout
    body = await signed_in(client, email)
    assert (body["role"], body["status"]) == ("ADMIN", "ACTIVE")
    assert (await client.get("/admin/users", headers=bearer(body))).status_code == 200

    again = await create(PASSWORD)
    assert again.returncode == 1 and "already has a profile" in again.stderr
    weak = await create("short", new_email())
    assert weak.returncode == 1 and "at least 12 characters" in weak.stderr

    user = await make_user(db, tenant)
    proc = await asyncio.to_thread(
        gx, "admin", "grant", "--tenant", tenant, "--email", user.email, DATABASE_URL=migrated_url
    )
    assert proc.returncode == 0, proc.stderr
    assert (await load(db, tenant, UserProfile, user.profile_id)).role == "ADMIN"
    async with db.tenant(tenant) as session:
        admins = await session.scalar(
            select(func.count()).select_from(UserProfile).where(UserProfile.role == "ADMIN")
        )
        created = await session.scalar(
            select(func.count())
            .select_from(AuditLog)
            .where(AuditLog.event_type == Event.USER_REGISTERED)
        )
    assert admins == 2 and created == 2  # the admin's profile insert is audited like any other


async def test_gx_admin_approve_approves_and_approves_again_after_a_failure(
    migrated_url: str, db: Database, tenant: str
) -> None:
    admin = await make_user(db, tenant, role="ADMIN", status=S.ACTIVE)
    user = await make_user(db, tenant)

    def approve(by: str) -> Any:
        return asyncio.to_thread(
            gx, "admin", "approve", "--tenant", tenant, "--email", user.email, "--by", by,
            DATABASE_URL=migrated_url,
        )  # fmt: skip

    refused = await approve(user.email)
    assert refused.returncode == 1 and "is not an administrator" in refused.stderr
    assert await commands(db, tenant) == []
    proc = await approve(admin.email)
    assert proc.returncode == 0, proc.stderr
    assert "APPROVED_PENDING_ONCHAIN" in proc.stdout
    [first] = await commands(db, tenant)
    assert first.request_id == f"create-user:{user.profile_id}"
    await failed(db, first.id, "USER_EXISTS")
    assert (await approve(admin.email)).returncode == 0
    assert {c.request_id for c in await commands(db, tenant)} == {
        first.request_id,
        f"{first.request_id}:{first.id}",
    }
    changes = [e for e in await events(db, tenant, Event.PROFILE_UPDATED)
               if e.resource_id == user.profile_id]  # fmt: skip
    assert changes and {e.actor_profile_id for e in changes} == {admin.profile_id}  # --by


def gx_stdin(stdin: str, *args: str, **env: str) -> Any:
    import os
    import subprocess
    import sys

    environ = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "GX_DATABASE_URL")}
    environ.update(env)
    return subprocess.run(
        [sys.executable, "-m", "gxcore", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=environ,
        timeout=120,
        check=False,
    )
