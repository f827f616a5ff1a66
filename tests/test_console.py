"""The operations console over HTTP (httpx against the app, real PostgreSQL): sign-in, roles,
CSRF, tenant isolation, and each action through its use case. The browser drives the same
pages in tests/test_console_browser.py."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from gxcore.audit.models import AuditLog
from gxcore.config import Settings
from gxcore.console.pages import router as console
from gxcore.cqrs.models import EventDLQ, OutboxCommand
from gxcore.db.tenancy import Database
from gxcore.enums import (
    AuditEventType,
    CommandType,
    KycStatus,
    OutboxStatus,
    SessionStatus,
    UserProfileStatus,
)
from gxcore.identity.models import UserProfile, UserSession
from gxcore.kyc.models import KYCVerification
from tests import test_auth
from tests.apps import per_test
from tests.factories import make, register_tenant
from tests.test_auth import make_user
from tests.test_projector import Feed, project, registered, user

S = UserProfileStatus
# The reference data, clock and settings of the sign-in tests.
countries, clock, settings = test_auth.countries, test_auth.clock, test_auth.settings
BASE = "http://gx.test"
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@pytest.fixture
def feed(tenant: str) -> Feed:
    return Feed(tenant)


@pytest.fixture
def app(db: Database, settings: Settings, clock: Any, feed: Feed) -> Any:
    return per_test(database=db, settings=settings, clock=clock, ledger=feed)


@pytest.fixture
async def browser(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    """A client at the app's root that keeps cookies, as a browser does."""
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as c:
        yield c


def csrf_of(page: httpx.Response) -> str:
    found = _CSRF.search(page.text)
    assert found, page.text[:2000]
    return found.group(1)


async def sign_in(client: httpx.AsyncClient, tenant: str, email: str) -> httpx.Response:
    from tests.test_registration import PASSWORD

    form = await client.get("/console/sign-in")
    assert form.status_code == 200
    return await client.post(
        "/console/sign-in",
        data={"csrf": csrf_of(form), "tenant": tenant, "email": email, "password": PASSWORD},
    )


async def admin_of(db: Database, tenant: str) -> UserProfile:
    return await make_user(db, tenant, status=S.ACTIVE, role="ADMIN")


async def signed_in_admin(client: httpx.AsyncClient, db: Database, tenant: str) -> str:
    """Signs an administrator of `tenant` in; answers the CSRF token of its pages."""
    admin = await admin_of(db, tenant)
    answer = await sign_in(client, tenant, admin.email or "")
    assert answer.status_code == 303 and answer.headers["location"] == "/console", answer.text
    return csrf_of(await client.get("/console"))


async def failed_command(db: Database, tenant: str, **values: Any) -> OutboxCommand:
    """A command that ran out of attempts before the ledger answered: the operator's to retry."""
    values = {
        "status": OutboxStatus.FAILED,
        "attempts": 5,
        "error_code": "LEDGER_UNAVAILABLE",
        "error": "the ledger did not answer",
        "command_type": CommandType.CREATE_USER,
        "service": "svc-identity",
        **values,
    }
    async with db.system(reason="test: a failed command") as session:
        return await make(session, OutboxCommand, tenant, **values)


async def one(db: Database, tenant: str, model: Any, *where: Any) -> Any:
    async with db.tenant(tenant) as session:
        return await session.scalar(select(model).where(*where))


# --------------------------------------------------------------------------------------------
# Sign-in, roles, CSRF
# --------------------------------------------------------------------------------------------


async def test_without_signing_in_every_page_and_action_redirects_to_the_sign_in_form(
    browser: httpx.AsyncClient,
) -> None:
    for path in ("/console", "/console/users", "/console/outbox", "/console/dlq", "/console/audit"):
        answer = await browser.get(path)
        assert answer.status_code == 303 and answer.headers["location"] == "/console/sign-in"
    posted = await browser.post("/console/users/x/approve", data={"csrf": "x"})
    assert posted.status_code == 303 and posted.headers["location"] == "/console/sign-in"
    form = await browser.get("/console/sign-in")
    assert form.status_code == 200 and 'id="sign-in"' in form.text


async def test_an_admin_signs_in_with_a_strict_http_only_cookie_and_sees_the_overview(
    browser: httpx.AsyncClient, db: Database, tenant: str
) -> None:
    admin = await admin_of(db, tenant)
    answer = await sign_in(browser, tenant, admin.email or "")
    assert answer.status_code == 303, answer.text
    cookie = next(v for k, v in answer.headers.multi_items() if v.startswith("gx_console="))
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/console" in cookie
    assert "Secure" not in cookie  # plain http here; https sets it
    page = await browser.get("/console")
    assert page.status_code == 200
    assert f"tenant {tenant} · ADMIN" in page.text
    assert page.text.count('<svg class="chart"') == 2
    # The sign-in is the API's: a session and its audit entry.
    sessions = await one(db, tenant, func.count(UserSession.session_id))
    assert sessions == 1
    created = await one(
        db,
        tenant,
        func.count(AuditLog.audit_id),
        AuditLog.event_type == AuditEventType.SESSION_CREATED,
    )
    assert created == 1


async def test_a_wrong_password_is_refused_on_the_form_and_opens_no_session(
    browser: httpx.AsyncClient, db: Database, tenant: str
) -> None:
    admin = await admin_of(db, tenant)
    form = await browser.get("/console/sign-in")
    answer = await browser.post(
        "/console/sign-in",
        data={"csrf": csrf_of(form), "tenant": tenant, "email": admin.email, "password": "nope"},
    )
    assert answer.status_code == 401 and "wrong email or password" in answer.text
    assert "gx_console=" not in answer.headers.get("set-cookie", "")
    assert await one(db, tenant, func.count(UserSession.session_id)) == 0


async def test_a_users_sign_in_is_refused_with_403_and_leaves_no_session(
    browser: httpx.AsyncClient, db: Database, tenant: str
) -> None:
    member = await make_user(db, tenant, status=S.ACTIVE)
    answer = await sign_in(browser, tenant, member.email or "")
    assert answer.status_code == 403 and "administrators" in answer.text
    assert await one(db, tenant, func.count(UserSession.session_id)) == 0
    assert (await browser.get("/console")).status_code == 303


async def test_a_users_session_cookie_gets_403_on_every_page(
    app: Any, browser: httpx.AsyncClient, db: Database, tenant: str
) -> None:
    from tests.test_auth import signed_in
    from tests.test_registration import _client

    member = await make_user(db, tenant, status=S.ACTIVE)
    async with _client(app, tenant) as api:
        tokens = await signed_in(api, member.email or "")
    browser.cookies.set("gx_console", tokens["accessToken"], domain="gx.test", path="/console")
    for path in ("/console", "/console/users", "/console/outbox"):
        answer = await browser.get(path)
        assert answer.status_code == 403 and "FORBIDDEN" in answer.text.upper()


async def test_the_sign_in_form_needs_its_csrf_token(
    browser: httpx.AsyncClient, db: Database, tenant: str
) -> None:
    admin = await admin_of(db, tenant)
    await browser.get("/console/sign-in")
    from tests.test_registration import PASSWORD

    for forged in ("forged", "é"):
        answer = await browser.post(
            "/console/sign-in",
            data={"csrf": forged, "tenant": tenant, "email": admin.email, "password": PASSWORD},
        )
        assert answer.status_code == 403 and "CSRF" in answer.text
    assert await one(db, tenant, func.count(UserSession.session_id)) == 0


async def test_an_action_without_the_csrf_token_is_403_and_changes_nothing(
    browser: httpx.AsyncClient, db: Database, tenant: str
) -> None:
    await signed_in_admin(browser, db, tenant)
    waiting = await make_user(db, tenant, status=S.PENDING_ADMIN_APPROVAL)
    for data in ({}, {"csrf": "not-the-token"}):
        answer = await browser.post(f"/console/users/{waiting.profile_id}/approve", data=data)
        assert answer.status_code == 403 and "CSRF_TOKEN_INVALID" in answer.text
    found = await one(db, tenant, UserProfile, UserProfile.profile_id == waiting.profile_id)
    assert found.status is S.PENDING_ADMIN_APPROVAL


async def test_signing_out_ends_the_session_and_the_cookie_no_longer_works(
    browser: httpx.AsyncClient, db: Database, tenant: str
) -> None:
    csrf = await signed_in_admin(browser, db, tenant)
    token = browser.cookies.get("gx_console")
    answer = await browser.post("/console/sign-out", data={"csrf": csrf})
    assert answer.status_code == 303 and answer.headers["location"] == "/console/sign-in"
    row = await one(db, tenant, UserSession)
    assert row.status is SessionStatus.LOGGED_OUT
    assert token is not None
    browser.cookies.set("gx_console", token, domain="gx.test", path="/console")  # replayed
    assert (await browser.get("/console")).status_code == 303


async def test_an_expired_access_token_is_rotated_by_the_refresh_cookie_and_then_signs_out(
    browser: httpx.AsyncClient, db: Database, tenant: str, clock: Any
) -> None:
    await signed_in_admin(browser, db, tenant)
    first = browser.cookies.get("gx_console")
    clock.advance(minutes=16)  # past the access token's 15 minutes
    page = await browser.get("/console")
    assert page.status_code == 200, page.text
    assert browser.cookies.get("gx_console") != first  # a new pair, in the cookies
    refreshed = next(
        v for k, v in page.headers.multi_items() if v.startswith("gx_console_refresh=")
    )
    assert "HttpOnly" in refreshed and "SameSite=strict" in refreshed
    clock.advance(days=8)  # past the refresh token's 7 days: sign in again
    gone = await browser.get("/console")
    assert gone.status_code == 303 and gone.headers["location"] == "/console/sign-in"


# --------------------------------------------------------------------------------------------
# Actions: the API's use cases
# --------------------------------------------------------------------------------------------


async def test_approving_a_user_on_the_page_queues_its_ledger_command_and_is_audited(
    browser: httpx.AsyncClient, db: Database, tenant: str
) -> None:
    csrf = await signed_in_admin(browser, db, tenant)
    waiting = await make_user(db, tenant, status=S.PENDING_ADMIN_APPROVAL, first_name="Grace")
    page = await browser.get("/console/users")
    assert f'id="user-{waiting.profile_id}"' in page.text and "Grace" in page.text
    answer = await browser.post(f"/console/users/{waiting.profile_id}/approve", data={"csrf": csrf})
    assert (
        answer.status_code == 303 and answer.headers["location"] == "/console/users?done=approved"
    )
    found = await one(db, tenant, UserProfile, UserProfile.profile_id == waiting.profile_id)
    assert found.status is S.APPROVED_PENDING_ONCHAIN
    command = await one(
        db, tenant, OutboxCommand, OutboxCommand.command_type == CommandType.CREATE_USER
    )
    assert command is not None and command.payload["profileId"] == waiting.profile_id
    assert waiting.profile_id not in (await browser.get("/console/users")).text


async def test_denying_a_user_needs_a_reason_and_records_it(
    browser: httpx.AsyncClient, db: Database, tenant: str
) -> None:
    csrf = await signed_in_admin(browser, db, tenant)
    waiting = await make_user(db, tenant, status=S.PENDING_ADMIN_APPROVAL)
    url = f"/console/users/{waiting.profile_id}/deny"
    empty = await browser.post(url, data={"csrf": csrf, "reason": ""})
    assert empty.status_code == 422 and "reason" in empty.text
    unchanged = await one(db, tenant, UserProfile, UserProfile.profile_id == waiting.profile_id)
    assert unchanged.status is S.PENDING_ADMIN_APPROVAL
    denied = await browser.post(url, data={"csrf": csrf, "reason": "documents do not match"})
    assert denied.status_code == 303
    found = await one(db, tenant, UserProfile, UserProfile.profile_id == waiting.profile_id)
    assert found.status is S.DENIED and found.denial_reason == "documents do not match"


async def test_a_failed_command_is_retried_from_the_outbox_page_and_audited(
    browser: httpx.AsyncClient, db: Database, tenant: str
) -> None:
    csrf = await signed_in_admin(browser, db, tenant)
    command = await failed_command(db, tenant)
    page = await browser.get("/console/outbox?status=FAILED")
    assert f'id="command-{command.id}"' in page.text
    answer = await browser.post(f"/console/outbox/{command.id}/retry", data={"csrf": csrf})
    assert answer.status_code == 303, answer.text
    found = await one(db, tenant, OutboxCommand, OutboxCommand.id == command.id)
    assert (found.status, found.attempts, found.error_code) == (OutboxStatus.PENDING, 0, None)
    entry = await one(db, tenant, AuditLog, AuditLog.resource_id == command.id)
    assert entry.resource_type == "OutboxCommand"
    assert entry.meta["action"] == "retry" and entry.previous_value["status"] == "FAILED"
    again = await browser.post(f"/console/outbox/{command.id}/retry", data={"csrf": csrf})
    assert again.status_code == 409  # PENDING now: only FAILED commands are re-queued


async def test_a_dead_letter_is_replayed_from_the_page_once_its_cause_is_fixed(
    browser: httpx.AsyncClient, db: Database, tenant: str, feed: Feed
) -> None:
    csrf = await signed_in_admin(browser, db, tenant)
    feed.emit(user("carol", str(uuid.uuid4())))  # a profile this database does not know yet
    await project(db, feed)
    entry = await one(db, tenant, EventDLQ)
    assert entry.reason.startswith("UNKNOWN_PROFILE")
    assert f'id="entry-{entry.id}"' in (await browser.get("/console/dlq")).text

    still = await browser.post(f"/console/dlq/{entry.id}/replay", data={"csrf": csrf})
    assert still.headers["location"] == "/console/dlq?done=still-failing"
    assert await one(db, tenant, EventDLQ, EventDLQ.id == entry.id) is not None

    carol = await registered(db, tenant, fabric_user_id="carol")
    applied = await browser.post(f"/console/dlq/{entry.id}/replay", data={"csrf": csrf})
    assert applied.headers["location"] == "/console/dlq?done=replayed"
    assert await one(db, tenant, EventDLQ, EventDLQ.id == entry.id) is None
    assert (await one(db, tenant, UserProfile, UserProfile.profile_id == carol)).status is S.ACTIVE
    audited = await one(
        db,
        tenant,
        func.count(AuditLog.audit_id),
        AuditLog.resource_type == "EventDLQ",
        AuditLog.resource_id == entry.id,
    )
    assert audited == 2


async def test_the_audit_page_shows_the_tenants_chain_status(
    browser: httpx.AsyncClient, db: Database, tenant: str
) -> None:
    await signed_in_admin(browser, db, tenant)
    page = await browser.get("/console/audit")
    assert page.status_code == 200
    assert f"<td>{tenant}</td>" in page.text and "intact" in page.text


async def test_every_page_renders_for_an_admin(
    browser: httpx.AsyncClient, db: Database, tenant: str, clock: Any
) -> None:
    await signed_in_admin(browser, db, tenant)
    await failed_command(db, tenant)
    for path in (
        "/console",
        "/console/users",
        "/console/kyc",
        "/console/transfers",
        "/console/outbox",
        "/console/outbox?status=PENDING",
        "/console/dlq",
        "/console/audit",
    ):
        answer = await browser.get(path)
        assert answer.status_code == 200, (path, answer.text[:500])
    assert (await browser.get("/console/outbox?status=NOPE")).status_code == 422
    # A confirmation is one of the console's own texts, never the query's.
    # (Words no hex token on the page can spell: a number could appear in a CSRF token.)
    spoofed = await browser.get("/console/users?done=call+the+spoofer+now")
    assert "spoofer" not in spoofed.text and 'id="done"' not in spoofed.text
    # The failed command is in the outbox's depth now (the chart's last point).
    clock.now = datetime.now(UTC)  # the app's clock was set before the command was written
    assert "latest 1.0" in (await browser.get("/console")).text


async def test_the_console_is_left_out_of_the_openapi_document(app: Any) -> None:
    assert not [p for p in app.openapi()["paths"] if p.startswith("/console")]


# --------------------------------------------------------------------------------------------
# Tenants
# --------------------------------------------------------------------------------------------


async def _victim(db: Database, tenant: str) -> dict[str, str]:
    """One row of every kind a console action names, in `tenant`."""
    waiting = await make_user(db, tenant, status=S.PENDING_ADMIN_APPROVAL, first_name="Victim")
    failed = await failed_command(db, tenant, request_id=f"victim-{uuid.uuid4().hex}")
    async with db.system(reason="test: the victim's rows") as session:
        held = await make(
            session,
            OutboxCommand,
            tenant,
            status=OutboxStatus.HELD,
            command_type=CommandType.TRANSFER_TOKENS,
        )
        kyc = await make(
            session,
            KYCVerification,
            tenant,
            profile_id=waiting.profile_id,
            status=KycStatus.PENDING,
            evidence_hash="0" * 64,
        )
        entry = await make(
            session,
            EventDLQ,
            tenant,
            reason="UNKNOWN_EVENT: victim's",
            raw_payload={},
            block_number=1,
            event_index=0,
        )
    return {
        "profile": waiting.profile_id,
        "command": failed.id,
        "held": held.id,
        "kyc": kyc.kyc_id,
        "entry": entry.id,
    }


#: Every console action that names a row, with the victim's id it is given.
SWEEP = {
    "/console/users/{profile_id}/approve": "profile",
    "/console/users/{profile_id}/deny": "profile",
    "/console/kyc/{kyc_id}/approve": "kyc",
    "/console/kyc/{kyc_id}/reject": "kyc",
    "/console/transfers/{command_id}/release": "held",
    "/console/transfers/{command_id}/reject": "held",
    "/console/outbox/{command_id}/retry": "command",
    "/console/dlq/{entry_id}/replay": "entry",
}


async def _fingerprint(db: Database, tenant: str) -> list[Any]:
    async with db.tenant(tenant) as session:
        found = []
        for model, key in (
            (UserProfile, UserProfile.profile_id),
            (OutboxCommand, OutboxCommand.id),
            (KYCVerification, KYCVerification.kyc_id),
            (EventDLQ, EventDLQ.id),
        ):
            rows = (await session.scalars(select(model).order_by(key))).all()
            found.append(
                [sorted((k, str(v)) for k, v in vars(r).items() if k[0] != "_") for r in rows]
            )
        found.append(await session.scalar(select(func.count(AuditLog.audit_id))))
        return found


def test_the_sweep_covers_every_console_action_that_names_a_row() -> None:
    naming = {r.path for r in console.routes if "{" in getattr(r, "path", "")}
    assert naming == SWEEP.keys()


async def test_another_tenants_admin_sees_none_of_its_rows_and_its_ids_are_404(
    browser: httpx.AsyncClient, db: Database, tenant: str
) -> None:
    victim = await register_tenant(db, f"v-{uuid.uuid4().hex[:12]}")
    ids = await _victim(db, victim)
    before = await _fingerprint(db, victim)
    csrf = await signed_in_admin(browser, db, tenant)  # the attacker: admin of `tenant`

    for path in (
        "/console",
        "/console/users",
        "/console/kyc",
        "/console/transfers",
        "/console/outbox?status=FAILED",
        "/console/outbox?status=HELD",
        "/console/dlq",
        "/console/audit",
    ):
        page = await browser.get(path)
        assert page.status_code == 200
        assert victim not in page.text and "Victim" not in page.text
        assert not [i for i in ids.values() if i in page.text], path

    for path, kind in SWEEP.items():
        url = re.sub(r"\{\w+\}", ids[kind], path)
        answer = await browser.post(url, data={"csrf": csrf, "reason": "sweep"})
        assert answer.status_code == 404, (url, answer.status_code, answer.text[:300])
    assert await _fingerprint(db, victim) == before

    # A tenant name on the sign-in form is the tenant the account must belong to.
    admin = await admin_of(db, tenant)
    crossed = await sign_in(browser, victim, admin.email or "")
    assert crossed.status_code == 401
