"""System administration over HTTP (/api/v1/admin): roles, pause and resume, parameters,
countries, appointments and the review queues, through the whole loop (app, relay, embedded
ledger, projector) on a private database.
"""

from __future__ import annotations

import os
import re
import subprocess
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select

from gxcore.admin.models import SystemState
from gxcore.cqrs.models import OutboxCommand
from gxcore.enums import AuditEventType, CommandType, OutboxStatus, UserProfileStatus
from gxcore.http import ALLOWED_WHILE_PAUSED
from gxcore.identity.access import UserRole, holds
from gxcore.identity.models import UserProfile
from tests import test_money_api
from tests.factories import register_tenant
from tests.openapi_document import served_document
from tests.test_auth import bearer, events, make_user, signed_in
from tests.test_cli import GX, gx
from tests.test_money_api import Loop
from tests.test_registration import assert_problem, new_email
from tests.test_sweep import _snapshot

S = UserProfileStatus
loop = test_money_api.loop
SPEC = served_document()
PREFIX = "/api/v1"
#: The writes served while the system is paused: signing in and out, and the administration
#: the ledger takes while paused. A new one is a decision: list it here and in docs/http-api.md.
ALLOWED = {
    ("POST", "/auth/login"),
    ("POST", "/auth/refresh"),
    ("POST", "/auth/logout"),
    ("POST", "/auth/revoke-all"),
    ("POST", "/admin/bootstrap"),
    ("POST", "/admin/system/pause"),
    ("POST", "/admin/system/resume"),
    ("POST", "/admin/countries/initialize"),
    ("POST", "/admin/parameters"),
    ("POST", "/admin/admins"),
    ("POST", "/admin/treasury/activate"),
    ("POST", "/treasury"),
    # Partners still read while paused, so they still get tokens; cutting a partner off is
    # what an incident may need.
    ("POST", "/oauth/token"),
    ("POST", "/admin/partners/{partner_id}/licenses/{license_id}/revoke"),
    ("POST", "/admin/partners/{partner_id}/credentials/{credential_id}/revoke"),
    ("DELETE", "/admin/partners/{partner_id}/applications/{app_id}/grants/{operation}"),
}


def _writes() -> list[tuple[str, str, bool]]:
    """Every non-GET operation of the API: (method, path, allowed while paused)."""
    return [
        (method.upper(), path.removeprefix(PREFIX), bool(op.get(ALLOWED_WHILE_PAUSED)))
        for path, ops in SPEC["paths"].items()
        for method, op in ops.items()
        if method.upper() not in ("GET", "HEAD", "OPTIONS")
    ]


async def _state(loop: Loop) -> SystemState | None:
    async with loop.db.tenant(loop.tenant) as s:
        return await s.get(SystemState, loop.tenant)


async def _command(loop: Loop, command_id: str) -> OutboxCommand:
    async with loop.db.tenant(loop.tenant) as s:
        found = await s.get(OutboxCommand, command_id)
    assert found is not None
    return found


async def _as(loop: Loop, role: str) -> dict[str, str]:
    profile = await make_user(loop.db, loop.tenant, role=role, status=S.ACTIVE)
    return bearer(await signed_in(loop.client, profile.email))


# --------------------------------------------------------------------------------------------
# Roles
# --------------------------------------------------------------------------------------------


def test_each_role_holds_the_rights_below_it_and_an_unknown_role_holds_none() -> None:
    assert holds("SUPER_ADMIN", UserRole.ADMIN) and holds("SUPER_ADMIN", UserRole.SUPER_ADMIN)
    assert holds("ADMIN", UserRole.ADMIN) and not holds("ADMIN", UserRole.SUPER_ADMIN)
    assert not holds("USER", UserRole.ADMIN)
    assert not holds("superadmin", UserRole.ADMIN) and not holds("", UserRole.ADMIN)


async def test_an_admin_who_is_not_super_admin_gets_403_on_the_super_admin_operations(
    loop: Loop,
) -> None:
    alice = await loop.user()
    admin = await _as(loop, "ADMIN")
    user = alice["headers"]
    before = await _snapshot(loop.db, loop.tenant)
    super_only: list[tuple[str, dict[str, Any] | None]] = [
        ("/genesis", {"userId": alice["id"]}),
        ("/admin/bootstrap", None),
        ("/admin/system/pause", {"reason": "drill"}),
        ("/admin/system/resume", None),
        ("/admin/parameters", {"paramKey": "transferFeeBps", "paramValue": "20"}),
        ("/admin/admins", {"userId": alice["id"]}),
    ]
    for path, body in super_only:
        for headers in (admin, user):
            answer = await loop.client.post(path, json=body, headers=headers)
            assert_problem(answer, 403, "FORBIDDEN")
    # The day-to-day administration stays an ADMIN's; a user gets none of it.
    assert (await loop.client.get("/admin/system/status", headers=admin)).status_code == 200
    assert (await loop.client.get("/admin/counters", headers=admin)).status_code == 200
    assert_problem(await loop.client.get("/admin/counters", headers=user), 403, "FORBIDDEN")
    assert await _snapshot(loop.db, loop.tenant) == before


def test_gx_admin_create_and_grant_take_a_role(scratch_url: str) -> None:
    assert gx("tenant", "create", "acme", database_url=scratch_url).returncode == 0
    environ = {k: v for k, v in os.environ.items() if k != "GX_DATABASE_URL"}
    made = subprocess.run(
        [*GX, "admin", "create", "--tenant", "acme", "--email", "boss@example.com",
         "--role", "SUPER_ADMIN", "--password-stdin"],
        input="Correct-horse-battery-9\n", capture_output=True, text=True, timeout=120,
        env={**environ, "DATABASE_URL": scratch_url}, check=False,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    assert "administrator boss@example.com created in tenant acme as SUPER_ADMIN" in made.stdout
    bad = gx("admin", "grant", "--tenant", "acme", "--email", "boss@example.com",
             "--role", "ROOT", database_url=scratch_url)  # fmt: skip
    assert bad.returncode != 0
    granted = gx("admin", "grant", "--tenant", "acme", "--email", "boss@example.com",
                 "--role", "ADMIN", database_url=scratch_url)  # fmt: skip
    assert granted.returncode == 0, granted.stderr
    assert "boss@example.com is now an administrator in tenant acme as ADMIN" in granted.stdout


# --------------------------------------------------------------------------------------------
# Pause and resume
# --------------------------------------------------------------------------------------------


def test_the_writes_served_while_paused_are_exactly_the_documented_ones() -> None:
    assert {(m, p) for m, p, allowed in _writes() if allowed} == ALLOWED


async def test_pause_refuses_every_user_write_serves_reads_and_resume_restores(
    loop: Loop,
) -> None:
    alice, bob = await loop.user(), await loop.user()
    paused = await loop.client.post(
        "/admin/system/pause", json={"reason": "incident 42"}, headers=loop.admin
    )
    assert paused.status_code == 202, paused.text
    # Until the ledger has paused and the projector has seen it, writes are still served.
    assert (await _state(loop)).paused is False  # type: ignore[union-attr]
    [entry] = [
        e
        for e in await events(loop.db, loop.tenant, AuditEventType.RECORD_CREATED)
        if e.resource_id == paused.json()["commandId"]
    ]
    assert entry.actor_profile_id is not None
    assert entry.new_value == {"commandType": "PAUSE_SYSTEM", "payload": {"reason": "incident 42"}}
    await loop.settle()
    assert (await _command(loop, paused.json()["commandId"])).status is OutboxStatus.COMMITTED
    status = (await loop.client.get("/admin/system/status", headers=loop.admin)).json()
    assert (status["paused"], status["pauseReason"], status["pending"]) == (
        True,
        "incident 42",
        [],
    )

    before = await _snapshot(loop.db, loop.tenant)
    refused = []
    for method, path, allowed in _writes():
        if allowed:
            continue
        url = re.sub(r"\{\w+\}", "x", path)
        for headers in (alice["headers"], loop.admin):
            answer = await loop.client.request(method, url, json={}, headers=headers)
            if answer.status_code != 503 or answer.json().get("code") != "SYSTEM_PAUSED":
                refused.append(f"{method} {url}: {answer.status_code} {answer.text[:120]}")
    assert refused == [], "\n".join(refused)
    assert_problem(await loop.send(alice, bob, "1"), 503, "SYSTEM_PAUSED")
    assert await _snapshot(loop.db, loop.tenant) == before
    # The pause is this tenant's: another tenant's writes are served.
    other = await register_tenant(loop.db, f"{loop.tenant}-b")
    started = await loop.client.post(
        "/registration/email", json={"email": new_email()}, headers={"X-Tenant-Id": other}
    )
    assert started.status_code == 201, started.text

    # Reads are served; so is signing in, and the administration that must work while paused.
    assert (await loop.balance(alice))["balance"] == "500.000000000"
    assert (await signed_in(loop.client, (await _email(loop, alice["id"]))))["accessToken"]
    assert_problem(
        await loop.client.post("/admin/system/pause", headers=loop.admin), 409, "ALREADY_PAUSED"
    )
    resumed = await loop.client.post("/admin/system/resume", headers=loop.admin)
    assert resumed.status_code == 202, resumed.text
    await loop.settle()
    assert (await _state(loop)).paused is False  # type: ignore[union-attr]
    sent = await loop.send(alice, bob, "10")
    assert sent.status_code == 202, sent.text
    await loop.settle()
    assert (await loop.balance(bob))["balance"] == "510.000000000"
    assert_problem(
        await loop.client.post("/admin/system/resume", headers=loop.admin), 409, "NOT_PAUSED"
    )


async def _email(loop: Loop, profile_id: str) -> str:
    async with loop.db.tenant(loop.tenant) as s:
        profile = await s.get(UserProfile, profile_id)
    assert profile is not None and profile.email is not None
    return profile.email


async def test_bootstrap_answers_the_tenants_queued_command_then_refuses_once_applied(
    loop: Loop,
) -> None:
    first = await loop.client.post("/admin/bootstrap", headers=loop.admin)
    again = await loop.client.post("/admin/bootstrap", headers=loop.admin)
    assert first.status_code == again.status_code == 202, first.text
    assert first.json()["commandId"] == again.json()["commandId"]
    async with loop.db.tenant(loop.tenant) as s:
        n = await s.scalar(
            select(func.count())
            .select_from(OutboxCommand)
            .where(OutboxCommand.command_type == CommandType.BOOTSTRAP_SYSTEM)
        )
    assert n == 1
    await loop.settle()
    status = (await loop.client.get("/admin/system/status", headers=loop.admin)).json()
    assert (status["bootstrapped"], status["paused"]) == (True, False)
    assert_problem(
        await loop.client.post("/admin/bootstrap", headers=loop.admin), 409, "ALREADY_BOOTSTRAPPED"
    )


# --------------------------------------------------------------------------------------------
# Parameters
# --------------------------------------------------------------------------------------------


async def test_a_parameter_update_reaches_system_parameter_and_the_ledger_applies_it(
    loop: Loop,
) -> None:
    alice, bob = await loop.user(), await loop.user()
    got = await loop.client.get("/admin/parameters/transferFeeBps", headers=loop.admin)
    assert (got.json()["paramValue"], got.json()["keptBy"]) == ("10", "ledger")
    sent = await loop.client.post(
        "/admin/parameters",
        json={"paramKey": "transferFeeBps", "paramValue": "100"},
        headers=loop.admin,
    )
    assert sent.status_code == 202, sent.text
    # Not yet: the read model changes when the projector applies the ledger's event.
    got = await loop.client.get("/admin/parameters/transferFeeBps", headers=loop.admin)
    assert got.json()["paramValue"] == "10"
    await loop.settle()
    got = await loop.client.get("/admin/parameters/transferFeeBps", headers=loop.admin)
    assert got.json()["paramValue"] == "100"

    # The ledger charges the new fee: 100 bps of 100 is 1.
    moved = await loop.send(alice, bob, "100")
    assert moved.status_code == 202, moved.text
    await loop.settle()
    assert (await _command(loop, moved.json()["commandId"])).status is OutboxStatus.COMMITTED
    assert (await loop.balance(alice))["balance"] == "399.000000000"
    assert (await loop.balance(bob))["balance"] == "600.000000000"


async def test_a_bad_parameter_is_a_422_naming_the_field_and_queues_nothing(loop: Loop) -> None:
    before = await _snapshot(loop.db, loop.tenant)
    for body, field in [
        ({"paramKey": "transferFeeBps", "paramValue": "abc"}, "paramValue"),
        ({"paramKey": "transferFeeBps", "paramValue": "10001"}, "paramValue"),
        ({"paramKey": "genesisMinAge", "paramValue": "90"}, "paramValue"),  # above max age 73
        ({"paramKey": "noSuchThing", "paramValue": "1"}, "paramKey"),
        ({"paramKey": "otpTtlMinutes", "paramValue": "5"}, "paramKey"),  # kept off the ledger
    ]:
        answer = await loop.client.post("/admin/parameters", json=body, headers=loop.admin)
        problem = assert_problem(answer, 422, "VALIDATION_FAILED")
        assert problem["errors"][0]["field"] == field, problem
    assert await _snapshot(loop.db, loop.tenant) == before
    assert_problem(
        await loop.client.get("/admin/parameters/noSuchThing", headers=loop.admin),
        404,
        "PARAMETER_NOT_FOUND",
    )
    off = await loop.client.get("/admin/parameters/otpTtlMinutes", headers=loop.admin)
    assert (off.json()["paramValue"], off.json()["keptBy"]) == ("10", "gxcore")


# --------------------------------------------------------------------------------------------
# Countries, treasuries, counters
# --------------------------------------------------------------------------------------------


async def test_countries_are_initialized_on_the_ledger_listed_and_counted(loop: Loop) -> None:
    alice = await loop.user()  # nationality GB, 500 of genesis
    body = {
        "countries": [
            {"countryCode": "GB", "populationShare": "0.01"},
            {"countryCode": "NG", "populationShare": "0.03", "countryName": "Naija"},
        ]
    }
    bad = {"countries": [{"countryCode": "ZZ", "populationShare": "0.1"}]}
    problem = assert_problem(
        await loop.client.post("/admin/countries/initialize", json=bad, headers=loop.admin),
        422,
        "VALIDATION_FAILED",
    )
    assert problem["errors"][0]["field"] == "countries.0.countryCode"
    sent = await loop.client.post("/admin/countries/initialize", json=body, headers=loop.admin)
    assert sent.status_code == 202, sent.text
    assert_problem(
        await loop.client.get("/admin/countries/GB/stats", headers=loop.admin),
        404,
        "COUNTRY_NOT_FOUND",
    )
    await loop.settle()
    listed = (await loop.client.get("/admin/countries", headers=loop.admin)).json()["items"]
    assert [(c["countryCode"], c["status"], c["treasuryActive"]) for c in listed] == [
        ("GB", "RECOGNIZED", False),
        ("NG", "RECOGNIZED", False),
    ]
    opened = await loop.client.post(
        "/admin/treasury/activate", json={"countryCode": "GB"}, headers=loop.admin
    )
    assert opened.status_code == 202, opened.text
    await loop.settle()
    stats = (await loop.client.get("/admin/countries/gb/stats", headers=loop.admin)).json()
    assert stats["country"]["treasuryActive"] is True
    assert stats["users"] == {"ACTIVE": 1 + await _active_gb_admins(loop)}
    assert (stats["wallets"], Decimal(stats["walletBalance"])) == (1, Decimal(500))
    assert Decimal(stats["treasuryBalance"]) == 0
    counters = (await loop.client.get("/admin/counters", headers=loop.admin)).json()
    assert (counters["wallets"], counters["treasuries"], counters["countries"]) == (1, 1, 2)
    assert counters["outbox"]["COMMITTED"] >= 4 and counters["deadLetters"] == 0
    assert alice["id"]


async def _active_gb_admins(loop: Loop) -> int:
    # The loop's administrator is a profile of nationality GB too (tests.test_auth.make_user).
    async with loop.db.tenant(loop.tenant) as s:
        return (
            await s.scalar(
                select(func.count())
                .select_from(UserProfile)
                .where(UserProfile.role != "USER", UserProfile.nationality_country_code == "GB")
            )
            or 0
        )


# --------------------------------------------------------------------------------------------
# Appointments and the review queues
# --------------------------------------------------------------------------------------------


async def test_appointing_an_admin_sets_the_role_and_flags_the_ledger_account(
    loop: Loop,
) -> None:
    alice = await loop.user(genesis=False)
    operator = await make_user(loop.db, loop.tenant, role="ADMIN", status=S.ACTIVE)
    assert_problem(
        await loop.client.post(
            "/admin/admins", json={"userId": operator.profile_id}, headers=loop.admin
        ),
        409,
        "PROFILE_INCOMPLETE",
    )
    made = await loop.client.post(
        "/admin/admins", json={"userId": alice["id"], "role": "ADMIN"}, headers=loop.admin
    )
    assert made.status_code == 200, made.text
    assert made.json()["role"] == "ADMIN"
    await loop.settle()
    async with loop.db.tenant(loop.tenant) as s:
        command = await s.scalar(
            select(OutboxCommand).where(OutboxCommand.command_type == CommandType.APPOINT_ADMIN)
        )
    assert command is not None and command.status is OutboxStatus.COMMITTED
    assert (await loop.client.get("/admin/counters", headers=alice["headers"])).status_code == 200
    # Raised to SUPER_ADMIN later: the ledger's flag is set already, no second command.
    again = await loop.client.post(
        "/admin/admins", json={"userId": alice["id"], "role": "SUPER_ADMIN"}, headers=loop.admin
    )
    assert again.json()["role"] == "SUPER_ADMIN"
    async with loop.db.tenant(loop.tenant) as s:
        n = await s.scalar(
            select(func.count())
            .select_from(OutboxCommand)
            .where(OutboxCommand.command_type == CommandType.APPOINT_ADMIN)
        )
    assert n == 1


async def test_the_review_queues_and_batches_approve_all_or_none(loop: Loop) -> None:
    waiting = [
        await make_user(loop.db, loop.tenant, status=S.PENDING_ADMIN_APPROVAL) for _ in range(3)
    ]
    ids = [p.profile_id for p in waiting]

    async def queue(name: str) -> list[str]:
        got = await loop.client.get(f"/admin/users/{name}", headers=loop.admin)
        assert got.status_code == 200, got.text
        return [u["profileId"] for u in got.json()["items"]]

    assert sorted(await queue("pending-blockchain")) == sorted(ids)
    before = await _snapshot(loop.db, loop.tenant)
    missing = await loop.client.post(
        "/admin/batch-approve-blockchain",
        json={"userIds": [ids[0], "no-such-user"]},
        headers=loop.admin,
    )
    assert_problem(missing, 404, "USER_NOT_FOUND")
    assert await _snapshot(loop.db, loop.tenant) == before

    approved = await loop.client.post(
        "/admin/batch-approve-blockchain", json={"userIds": ids[:2]}, headers=loop.admin
    )
    assert approved.status_code == 200, approved.text
    assert {u["status"] for u in approved.json()["items"]} == {"APPROVED_PENDING_ONCHAIN"}
    assert sorted(await queue("pending-onchain")) == sorted(ids[:2])
    # Registering again sends nothing while the commands are on their way.
    again = await loop.client.post(
        "/admin/users/batch-register-onchain", json={"userIds": ids[:2]}, headers=loop.admin
    )
    assert again.status_code == 200, again.text
    assert_problem(
        await loop.client.post(
            "/admin/users/batch-register-onchain", json={"userIds": ids[2:]}, headers=loop.admin
        ),
        409,
        "INVALID_TRANSITION",
    )
    async with loop.db.tenant(loop.tenant) as s:
        n = await s.scalar(
            select(func.count())
            .select_from(OutboxCommand)
            .where(OutboxCommand.command_type == CommandType.CREATE_USER)
        )
    assert n == 2

    denied = await loop.client.post(
        f"/admin/users/{ids[2]}/deny", json={"reason": "duplicate"}, headers=loop.admin
    )
    assert denied.json()["status"] == "DENIED"
    await loop.settle()
    assert await queue("pending-onchain") == []
    frozen = await loop.client.post(
        f"/admin/users/{ids[0]}/freeze", json={"reason": "fraud"}, headers=loop.admin
    )
    assert frozen.status_code == 200, frozen.text
    assert await queue("frozen") == [ids[0]]
