"""Sign-in, sessions, devices and profiles over HTTP: the real app on a real PostgreSQL.

Profiles are inserted directly (registration has its own tests) with a cheap argon2 hash of the
test password: verification takes its cost from the hash, so logins stay fast. Time comes from
a mutable clock injected into the app, so expiry and lockouts are tested without sleeping.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from argon2 import PasswordHasher
from sqlalchemy import func, select

from gxcore.admin.models import SystemParameter
from gxcore.app import create_app
from gxcore.audit.models import AuditLog
from gxcore.config import Settings
from gxcore.db.tenancy import Database
from gxcore.enums import AuditEventType, SessionStatus, UserProfileStatus
from gxcore.errors import (
    AccountInactive,
    AccountLocked,
    ConfigurationError,
    GxError,
    InvalidCredentials,
    OtpInvalid,
    RefreshTokenReused,
    TokenExpired,
    TokenInvalid,
)
from gxcore.http import Session, status_for
from gxcore.identity import tokens
from gxcore.identity.models import TrustedDevice, UserProfile, UserSession
from tests import test_registration
from tests.apps import per_test
from tests.conftest import ROLE_KEY
from tests.factories import register_tenant
from tests.test_registration import (
    OTP_SECRET,
    PASSWORD,
    Clock,
    Mailbox,
    _client,
    assert_problem,
    client_at,
    new_email,
    register,
)

JWT_SECRET = "test-only-jwt-secret-0123456789abcdefghij"
# Cheap parameters: the hash carries them, so checking the test password costs next to nothing.
FAST_HASH = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash(PASSWORD)
Event = AuditEventType


# The same reference data, clock and mailbox as test_registration.
countries, clock, mail = (
    test_registration.countries,
    test_registration.clock,
    test_registration.mail,
)


class WallClock(Clock):
    """The wall clock, moved forward on demand. Login lockouts are measured on the audit log's
    timestamps (the wall clock's), so tests of their expiry need an app clock that keeps pace."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, **delta: float) -> None:
        self.offset += timedelta(**delta)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path, otp_secret=OTP_SECRET, jwt_secret=JWT_SECRET, environment="test"
    )


@pytest.fixture
def app(db: Database, settings: Settings, clock: Clock) -> Any:
    return per_test(database=db, settings=settings, clock=clock)


@pytest.fixture
async def client(app: Any, tenant: str) -> AsyncIterator[httpx.AsyncClient]:
    async with _client(app, tenant) as c:
        yield c


async def make_user(
    db: Database,
    tenant: str,
    *,
    email: str | None = None,
    status: UserProfileStatus = UserProfileStatus.REGISTERED,
    role: str = "USER",
    **fields: Any,
) -> UserProfile:
    values: dict[str, Any] = {
        "first_name": "Ada",
        "last_name": "Lovelace",
        "email": email or new_email(),
        "biometric_hash": f"test:{uuid.uuid4().hex}",
        "password_hash": FAST_HASH,
        "date_of_birth": date(1990, 12, 10),
        "gender": "FEMALE",
        "nationality_country_code": "GB",
        "status": status,
        "role": role,
        **fields,
    }
    async with db.tenant(tenant) as session:
        profile = UserProfile(**values)
        session.add(profile)
    return profile


async def login(
    client: httpx.AsyncClient, email: str, password: str = PASSWORD, **device: str
) -> httpx.Response:
    return await client.post("/auth/login", json={"email": email, "password": password, **device})


async def signed_in(client: httpx.AsyncClient, email: str, **device: str) -> dict[str, Any]:
    response = await login(client, email, **device)
    assert response.status_code == 200, response.text
    return response.json()


def bearer(tokens_: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens_['accessToken']}"}


async def refresh(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await client.post("/auth/refresh", json={"refreshToken": token})


async def events(db: Database, tenant: str, *types: AuditEventType) -> list[AuditLog]:
    async with db.tenant(tenant) as session:
        stmt = select(AuditLog).order_by(AuditLog.append_seq)
        if types:
            stmt = stmt.where(AuditLog.event_type.in_(types))
        return list((await session.scalars(stmt)).all())


async def load(db: Database, tenant: str, model: Any, key: str) -> Any:
    async with db.tenant(tenant) as session:
        return await session.get(model, key)


async def set_parameter(db: Database, tenant: str, key: str, value: str) -> None:
    async with db.tenant(tenant) as session:
        session.add(SystemParameter(param_key=key, param_value=value))


# --------------------------------------------------------------------------------------------
# Login
# --------------------------------------------------------------------------------------------


async def test_login_answers_tokens_and_records_the_session_the_device_and_the_audit(
    client: httpx.AsyncClient, db: Database, tenant: str, clock: Clock
) -> None:
    user = await make_user(db, tenant)
    body = await signed_in(client, user.email, deviceFingerprint="phone-1234", deviceName="Pixel")
    assert body["tokenType"] == "Bearer" and body["expiresIn"] == 15 * 60
    assert (body["profileId"], body["status"], body["role"]) == (
        user.profile_id,
        "REGISTERED",
        "USER",
    )
    assert body["device"]["isNew"] is True and body["device"]["deviceName"] == "Pixel"
    claims = jwt.decode(body["accessToken"], JWT_SECRET, algorithms=["HS256"])
    assert claims["sub"] == user.profile_id and claims["tenant"] == tenant
    assert claims["sid"] == body["sessionId"] and claims["role"] == "USER"
    assert claims["exp"] - claims["iat"] == 15 * 60 and claims["jti"]

    row = await load(db, tenant, UserSession, body["sessionId"])
    refresh_token = body["refreshToken"]
    assert row.status is SessionStatus.ACTIVE and row.device_id == body["device"]["deviceId"]
    assert row.refresh_token_hash == hashlib.sha256(refresh_token.encode()).hexdigest()
    assert row.refresh_token == f"{row.session_id}.0"  # the public handle, not the token
    secret = refresh_token.rsplit(".", 1)[1]
    assert all(secret not in str(v) for v in vars(row).values())
    assert abs(row.expires_at - (clock.now + timedelta(days=7))) < timedelta(milliseconds=1)
    device = await load(db, tenant, TrustedDevice, body["device"]["deviceId"])
    assert (device.device_fingerprint, device.is_trusted) == ("phone-1234", False)

    logged = await events(db, tenant, Event.USER_LOGIN, Event.SESSION_CREATED)
    assert [(e.event_type, e.actor_profile_id, e.target_profile_id) for e in logged] == [
        (Event.SESSION_CREATED, user.profile_id, user.profile_id),
        (Event.USER_LOGIN, user.profile_id, user.profile_id),
    ]
    assert logged[1].meta["outcome"] == "SUCCESS" and logged[1].session_id == row.session_id
    # The token's secret appears nowhere in the audit log either.
    assert all(secret not in str(vars(e)) for e in await events(db, tenant))


async def test_wrong_password_and_unknown_email_get_the_same_answer(
    client: httpx.AsyncClient, db: Database, tenant: str
) -> None:
    user = await make_user(db, tenant)
    wrong = assert_problem(
        await login(client, user.email, "Wrong-password-1"), 401, "INVALID_CREDENTIALS"
    )
    unknown = assert_problem(await login(client, new_email()), 401, "INVALID_CREDENTIALS")
    assert wrong["detail"] == unknown["detail"]
    response = await login(client, user.email, "Wrong-password-1")
    assert response.headers["www-authenticate"] == "Bearer"
    failures = await events(db, tenant, Event.USER_LOGIN)
    assert [e.meta["outcome"] for e in failures] == ["FAILURE"] * 3
    assert [e.target_profile_id for e in failures] == [user.profile_id, None, user.profile_id]
    async with db.tenant(tenant) as session:
        assert await session.scalar(select(func.count()).select_from(UserSession)) == 0
    response = await client.post("/auth/login", json={"email": "not-an-email", "password": "x"})
    assert assert_problem(response, 422, "VALIDATION_FAILED")["errors"][0]["field"] == "email"


async def test_a_registered_user_logs_in_with_the_password_chosen_at_registration(
    client: httpx.AsyncClient, mail: Mailbox
) -> None:
    _, email = await register(client, mail, until="phone/verify")
    body = await signed_in(client, email)
    assert body["status"] == "REGISTERED"
    me = await client.get(f"/users/{body['profileId']}", headers=bearer(body))
    assert me.status_code == 200 and me.json()["email"] == email


async def test_the_access_token_expires_after_15_minutes(
    client: httpx.AsyncClient, db: Database, tenant: str, clock: Clock
) -> None:
    user = await make_user(db, tenant)
    body = await signed_in(client, user.email)
    path = f"/users/{user.profile_id}"
    clock.advance(minutes=14, seconds=59)
    assert (await client.get(path, headers=bearer(body))).status_code == 200
    clock.advance(seconds=1)
    assert_problem(await client.get(path, headers=bearer(body)), 401, "TOKEN_EXPIRED")
    fresh = (await refresh(client, body["refreshToken"])).json()
    assert (await client.get(path, headers=bearer(fresh))).status_code == 200


# --------------------------------------------------------------------------------------------
# Refresh tokens
# --------------------------------------------------------------------------------------------


async def test_refresh_rotates_and_a_reused_token_revokes_the_whole_session(
    client: httpx.AsyncClient, db: Database, tenant: str
) -> None:
    user = await make_user(db, tenant)
    first = await signed_in(client, user.email)
    other = await signed_in(client, user.email)  # another session of the same user
    second = await refresh(client, first["refreshToken"])
    assert second.status_code == 200, second.text
    second_body = second.json()
    assert second_body["sessionId"] == first["sessionId"]
    assert second_body["refreshToken"] != first["refreshToken"]
    third = (await refresh(client, second_body["refreshToken"])).json()
    row = await load(db, tenant, UserSession, first["sessionId"])
    assert row.refresh_token == f"{row.session_id}.2"

    # The first token comes back (stolen, or replayed): the session dies, for everyone.
    reused = await refresh(client, first["refreshToken"])
    assert_problem(reused, 401, "REFRESH_TOKEN_REUSED")
    assert_problem(await refresh(client, third["refreshToken"]), 401, "SESSION_REVOKED")
    path = f"/users/{user.profile_id}"
    assert_problem(await client.get(path, headers=bearer(third)), 401, "SESSION_REVOKED")
    row = await load(db, tenant, UserSession, first["sessionId"])
    assert row.status is SessionStatus.REVOKED and row.revoked_reason == "refresh token reused"
    revoked = await events(db, tenant, Event.SESSION_REVOKED)
    assert [e.resource_id for e in revoked] == [first["sessionId"]]
    # The user's other session is untouched.
    assert (await client.get(path, headers=bearer(other))).status_code == 200
    assert (await refresh(client, other["refreshToken"])).status_code == 200


async def test_a_forged_refresh_token_is_refused_without_ending_the_session(
    client: httpx.AsyncClient, db: Database, tenant: str
) -> None:
    user = await make_user(db, tenant)
    body = await signed_in(client, user.email)
    handle, _ = body["refreshToken"].rsplit(".", 1)
    for forged in (f"{handle}.guessed-secret", f"{body['sessionId']}.7.x", "garbage", "a.b.c"):
        assert_problem(await refresh(client, forged), 401, "TOKEN_INVALID")
    assert_problem(await refresh(client, f"{uuid.uuid4()}.0.x"), 401, "TOKEN_INVALID")
    assert (await refresh(client, body["refreshToken"])).status_code == 200


async def test_a_forged_token_of_an_old_generation_neither_works_nor_ends_the_session(
    client: httpx.AsyncClient, db: Database, tenant: str
) -> None:
    user = await make_user(db, tenant)
    first = await signed_in(client, user.email)
    second = (await refresh(client, first["refreshToken"])).json()  # the session is at .1
    sid = first["sessionId"]  # public: every access token carries it
    for forged in (f"{sid}.0.anything", f"{sid}.0.{'A' * 43}", f"{sid}.1.anything"):
        assert_problem(await refresh(client, forged), 401, "TOKEN_INVALID")
    row = await load(db, tenant, UserSession, sid)
    assert row.status is SessionStatus.ACTIVE and row.refresh_token == f"{sid}.1"
    assert await events(db, tenant, Event.SESSION_REVOKED) == []
    path = f"/users/{user.profile_id}"
    assert (await client.get(path, headers=bearer(second))).status_code == 200
    # The real token of generation 0, replayed: that one was issued, so the session ends.
    assert_problem(await refresh(client, first["refreshToken"]), 401, "REFRESH_TOKEN_REUSED")
    assert (await load(db, tenant, UserSession, sid)).status is SessionStatus.REVOKED
    assert_problem(await refresh(client, second["refreshToken"]), 401, "SESSION_REVOKED")


async def test_a_refresh_token_lives_7_days_from_its_last_use(
    client: httpx.AsyncClient, db: Database, tenant: str, clock: Clock
) -> None:
    user = await make_user(db, tenant)
    body = await signed_in(client, user.email)
    clock.advance(days=6)
    body = (await refresh(client, body["refreshToken"])).json()
    clock.advance(days=6)
    body = (await refresh(client, body["refreshToken"])).json()
    clock.advance(days=7)
    assert_problem(await refresh(client, body["refreshToken"]), 401, "TOKEN_EXPIRED")


# --------------------------------------------------------------------------------------------
# Logout and revoke-all
# --------------------------------------------------------------------------------------------


async def test_logout_ends_this_session_only(
    client: httpx.AsyncClient, db: Database, tenant: str
) -> None:
    user = await make_user(db, tenant)
    mine, other = await signed_in(client, user.email), await signed_in(client, user.email)
    response = await client.post("/auth/logout", headers=bearer(mine))
    assert response.status_code == 204
    path = f"/users/{user.profile_id}"
    assert_problem(await client.get(path, headers=bearer(mine)), 401, "SESSION_REVOKED")
    assert_problem(await refresh(client, mine["refreshToken"]), 401, "SESSION_REVOKED")
    assert (await client.get(path, headers=bearer(other))).status_code == 200
    row = await load(db, tenant, UserSession, mine["sessionId"])
    assert row.status is SessionStatus.LOGGED_OUT and row.revoked_at is not None
    [logout] = await events(db, tenant, Event.USER_LOGOUT)
    assert (logout.resource_id, logout.actor_profile_id) == (mine["sessionId"], user.profile_id)
    assert_problem(await client.post("/auth/logout"), 401, "UNAUTHORIZED")


async def test_revoke_all_ends_every_session_of_the_caller(
    client: httpx.AsyncClient, db: Database, tenant: str
) -> None:
    user, bystander = await make_user(db, tenant), await make_user(db, tenant)
    sessions = [await signed_in(client, user.email) for _ in range(3)]
    theirs = await signed_in(client, bystander.email)
    response = await client.post("/auth/revoke-all", headers=bearer(sessions[0]))
    assert response.status_code == 200 and response.json() == {"revoked": 3}
    for s in sessions:
        response = await client.get(f"/users/{user.profile_id}", headers=bearer(s))
        assert_problem(response, 401, "SESSION_REVOKED")
        assert_problem(await refresh(client, s["refreshToken"]), 401, "SESSION_REVOKED")
    assert (await client.get(f"/users/{bystander.profile_id}", headers=bearer(theirs))).is_success
    revoked = await events(db, tenant, Event.SESSION_REVOKED)
    assert sorted(e.resource_id for e in revoked) == sorted(s["sessionId"] for s in sessions)


# --------------------------------------------------------------------------------------------
# Failed logins: per account, per address; locked and barred profiles
# --------------------------------------------------------------------------------------------


async def test_five_failed_logins_lock_the_account_for_15_minutes(
    db: Database, settings: Settings, tenant: str
) -> None:
    clock = WallClock()
    app = create_app(database=db, settings=settings, clock=clock)
    async with _client(app, tenant) as client:
        await _lockout(client, db, tenant, clock)


async def _lockout(client: httpx.AsyncClient, db: Database, tenant: str, clock: WallClock) -> None:
    user = await make_user(db, tenant)
    for _ in range(5):
        assert_problem(await login(client, user.email, "Wrong-pass-1"), 401, "INVALID_CREDENTIALS")
    response = await login(client, user.email)  # even the right password
    body = assert_problem(response, 429, "LOGIN_THROTTLED")
    assert 890 <= int(response.headers["retry-after"]) <= 900 and body["retryAfter"] > 0
    clock.advance(minutes=15, seconds=1)
    assert (await login(client, user.email)).status_code == 200
    # An address nobody has is locked out exactly the same way: the lockout reveals nothing.
    stranger = new_email()
    for _ in range(5):
        assert_problem(await login(client, stranger), 401, "INVALID_CREDENTIALS")
    assert_problem(await login(client, stranger), 429, "LOGIN_THROTTLED")
    attempts = await events(db, tenant, Event.USER_LOGIN)
    assert len(attempts) == 11  # throttled attempts are answered without a write


async def test_a_success_resets_the_account_count(
    client: httpx.AsyncClient, db: Database, tenant: str
) -> None:
    user = await make_user(db, tenant)
    for _ in range(4):
        await login(client, user.email, "Wrong-pass-1")
    assert (await login(client, user.email)).status_code == 200
    for _ in range(4):
        await login(client, user.email, "Wrong-pass-1")
    assert (await login(client, user.email)).status_code == 200


async def test_concurrent_wrong_passwords_are_counted_one_after_another(
    client: httpx.AsyncClient, db: Database, tenant: str
) -> None:
    user = await make_user(db, tenant)
    responses = await asyncio.gather(*(login(client, user.email, "Wrong-pass-1") for _ in range(8)))
    codes = sorted(r.json()["code"] for r in responses)
    assert codes == ["INVALID_CREDENTIALS"] * 5 + ["LOGIN_THROTTLED"] * 3


async def test_failed_logins_from_one_address_block_that_address(
    app: Any, db: Database, tenant: str
) -> None:
    await set_parameter(db, tenant, "loginMaxFailures", "2")  # 8 per address (4x)
    users = [await make_user(db, tenant) for _ in range(5)]
    async with (
        client_at(app, tenant, "203.0.113.7") as attacker,
        client_at(app, tenant, "198.51.100.20") as elsewhere,
    ):
        for user in users[:4]:  # two guesses per account: no account reaches its limit
            for _ in range(2):
                response = await login(attacker, user.email, "Wrong-pass-1")
                assert_problem(response, 401, "INVALID_CREDENTIALS")
        response = await login(attacker, users[4].email)
        assert_problem(response, 429, "LOGIN_THROTTLED")
        assert (await login(elsewhere, users[4].email)).status_code == 200
        assert_problem(await login(elsewhere, users[0].email), 429, "LOGIN_THROTTLED")


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"is_locked": True, "lock_reason": "fraud review"}, "ACCOUNT_LOCKED"),
        ({"status": UserProfileStatus.DENIED}, "ACCOUNT_INACTIVE"),
        ({"status": UserProfileStatus.SUSPENDED}, "ACCOUNT_INACTIVE"),
        ({"status": UserProfileStatus.CLOSED}, "ACCOUNT_INACTIVE"),
    ],
)
async def test_a_locked_or_barred_profile_cannot_log_in(
    client: httpx.AsyncClient, db: Database, tenant: str, fields: dict[str, Any], code: str
) -> None:
    user = await make_user(db, tenant, **fields)
    # A wrong password says nothing about the account's state.
    assert_problem(await login(client, user.email, "Wrong-pass-1"), 401, "INVALID_CREDENTIALS")
    body = assert_problem(await login(client, user.email), 403, code)
    assert body.get("profileStatus") == (None if "is_locked" in fields else fields["status"])
    attempts = await events(db, tenant, Event.USER_LOGIN)
    assert [e.meta["outcome"] for e in attempts] == ["FAILURE", "REFUSED"]
    async with db.tenant(tenant) as session:
        assert await session.scalar(select(func.count()).select_from(UserSession)) == 0


async def test_locking_a_profile_cuts_off_its_live_tokens(
    client: httpx.AsyncClient, db: Database, tenant: str
) -> None:
    user = await make_user(db, tenant)
    body = await signed_in(client, user.email)
    async with db.tenant(tenant) as session:
        profile = await session.get(UserProfile, user.profile_id)
        assert profile is not None
        profile.is_locked = True
    path = f"/users/{user.profile_id}"
    assert_problem(await client.get(path, headers=bearer(body)), 403, "ACCOUNT_LOCKED")
    assert_problem(await refresh(client, body["refreshToken"]), 403, "ACCOUNT_LOCKED")


@pytest.mark.parametrize(
    "refusal", [OtpInvalid, InvalidCredentials, RefreshTokenReused, AccountLocked, AccountInactive]
)
async def test_a_refused_call_rolls_back_every_write_it_made(
    db: Database, settings: Settings, clock: Clock, tenant: str, refusal: type[GxError]
) -> None:
    user = await make_user(db, tenant)
    app = create_app(database=db, settings=settings, clock=clock)  # its own: it adds a route

    @app.post("/api/v1/test/write-then-refuse")
    async def write_then_refuse(session: Session) -> None:
        profile = await session.get(UserProfile, user.profile_id)
        assert profile is not None
        profile.first_name = "Changed"
        await session.flush()
        raise refusal("refused after a write")

    async with _client(app, tenant) as c:
        response = await c.post("/test/write-then-refuse")
    assert_problem(response, status_for(refusal("")), refusal.code)
    assert (await load(db, tenant, UserProfile, user.profile_id)).first_name == "Ada"


async def test_a_write_apart_is_refused_once_the_unit_of_work_wrote(
    db: Database, tenant: str
) -> None:
    user = await make_user(db, tenant)
    async with db.tenant(tenant) as session:
        async with db.beside(session) as apart:  # nothing written yet: allowed
            assert await apart.get(UserProfile, user.profile_id) is not None
        profile = await session.get(UserProfile, user.profile_id)
        assert profile is not None
        profile.first_name = "Changed"
        await session.flush()  # now this transaction holds the row and the audit chain
        with pytest.raises(RuntimeError, match="wrote or locked"):
            async with db.beside(session):
                pass


async def test_refused_calls_filling_the_pool_do_not_stall_each_other(
    migrated_url: str, settings: Settings, clock: Clock, tenant: str
) -> None:
    # Each refused login holds its unit of work's connection while it writes its entry apart.
    small = Database.connect(
        migrated_url, role_key=ROLE_KEY, pool_size=2, max_overflow=0, pool_timeout=5
    )
    try:
        users = [await make_user(small, tenant) for _ in range(6)]
        app = create_app(database=small, settings=settings, clock=clock)
        async with _client(app, tenant) as c:
            answers = await asyncio.gather(*(login(c, u.email, "wrong password!") for u in users))
        assert [r.json()["code"] for r in answers] == ["INVALID_CREDENTIALS"] * len(users)
    finally:
        await small.dispose()


async def test_a_refused_login_keeps_its_entry_and_nothing_else(
    client: httpx.AsyncClient, db: Database, tenant: str
) -> None:
    user = await make_user(db, tenant, status=UserProfileStatus.SUSPENDED)
    before = await load(db, tenant, UserProfile, user.profile_id)
    assert_problem(await login(client, user.email), 403, "ACCOUNT_INACTIVE")
    assert_problem(await login(client, user.email, "wrong password!"), 401, "INVALID_CREDENTIALS")
    attempts = await events(db, tenant, Event.USER_LOGIN)
    assert [e.meta["outcome"] for e in attempts] == ["REFUSED", "FAILURE"]
    assert await events(db, tenant, Event.SESSION_CREATED) == []
    async with db.tenant(tenant) as session:
        assert await session.scalar(select(func.count()).select_from(TrustedDevice)) == 0
    assert (await load(db, tenant, UserProfile, user.profile_id)).updated_at == before.updated_at


# --------------------------------------------------------------------------------------------
# Devices
# --------------------------------------------------------------------------------------------


async def test_a_new_device_is_recorded_and_reported_once(
    client: httpx.AsyncClient, db: Database, tenant: str
) -> None:
    user = await make_user(db, tenant)
    seen = []
    for fingerprint in ("laptop-0001", "laptop-0001", "tablet-0002", None, None):
        device = {"deviceFingerprint": fingerprint} if fingerprint else {}
        body = await signed_in(client, user.email, **device)
        seen.append(body["device"]["isNew"])
    assert seen == [True, False, True, True, False]  # no fingerprint: the user agent stands in
    async with db.tenant(tenant) as session:
        rows = (await session.scalars(select(TrustedDevice))).all()
    assert len(rows) == 3 and not any(r.is_trusted for r in rows)
    listed = await client.get(f"/users/{user.profile_id}/devices", headers=bearer(body))
    assert {d["deviceId"] for d in listed.json()["items"]} == {r.device_id for r in rows}

    path = f"/users/{user.profile_id}/devices/{body['device']['deviceId']}/trust"
    trusted = await client.post(path, headers=bearer(body))
    assert trusted.status_code == 200 and trusted.json()["isTrusted"] is True
    untrusted = await client.delete(path, headers=bearer(body))
    assert untrusted.json()["isTrusted"] is False
    types = [
        e.event_type for e in await events(db, tenant, Event.DEVICE_TRUSTED, Event.DEVICE_UNTRUSTED)
    ]
    assert types == [Event.DEVICE_TRUSTED, Event.DEVICE_UNTRUSTED]
    missing = f"/users/{user.profile_id}/devices/{uuid.uuid4()}/trust"
    assert_problem(await client.post(missing, headers=bearer(body)), 404, "DEVICE_NOT_FOUND")


# --------------------------------------------------------------------------------------------
# /users/{id}
# --------------------------------------------------------------------------------------------


async def test_owner_and_admin_read_a_profile_another_user_cannot(
    client: httpx.AsyncClient, db: Database, tenant: str
) -> None:
    owner, other = await make_user(db, tenant), await make_user(db, tenant)
    boss = await make_user(db, tenant, role="ADMIN", status=UserProfileStatus.ACTIVE)
    path = f"/users/{owner.profile_id}"
    mine = await client.get(path, headers=bearer(await signed_in(client, owner.email)))
    assert mine.status_code == 200 and mine.json()["email"] == owner.email
    assert "passwordHash" not in mine.json() and "biometricHash" not in mine.json()
    theirs = await client.get(path, headers=bearer(await signed_in(client, other.email)))
    assert_problem(theirs, 404, "USER_NOT_FOUND")
    admin_token = bearer(await signed_in(client, boss.email))
    assert (await client.get(path, headers=admin_token)).json()["profileId"] == owner.profile_id
    response = await client.get(f"/users/{uuid.uuid4()}", headers=admin_token)
    assert_problem(response, 404, "USER_NOT_FOUND")
    assert_problem(await client.get(path), 401, "UNAUTHORIZED")
    garbage = {"Authorization": "Bearer not.a.token"}
    assert_problem(await client.get(path, headers=garbage), 401, "TOKEN_INVALID")
    forged = jwt.encode(
        {"sub": owner.profile_id, "tenant": "x", "sid": "x", "role": "ADMIN", "iat": 0,
         "exp": 2**40, "jti": "x"},
        "another-key-of-at-least-32-bytes-long!!",
        algorithm="HS256",
    )  # fmt: skip
    response = await client.get(path, headers={"Authorization": f"Bearer {forged}"})
    assert_problem(response, 401, "TOKEN_INVALID")


async def test_the_owner_updates_named_fields_and_the_change_is_audited(
    client: httpx.AsyncClient, db: Database, tenant: str
) -> None:
    user = await make_user(db, tenant, middle_name="Augusta")
    token = bearer(await signed_in(client, user.email))
    changes = {
        "jobTitle": "Analyst",
        "employmentStatus": "SELF_EMPLOYED",
        "workPhoneNum": "+1 415 555 2671",
        "workEmail": "Ada@Example.com",
        "middleName": None,
    }
    response = await client.patch(f"/users/{user.profile_id}", json=changes, headers=token)
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["jobTitle"], body["workPhoneNum"], body["workEmail"]) == (
        "Analyst",
        "+14155552671",
        "ada@example.com",
    )
    assert body["middleName"] is None and body["firstName"] == "Ada"
    saved = await load(db, tenant, UserProfile, user.profile_id)
    assert (saved.job_title, saved.middle_name, saved.employment_status) == (
        "Analyst",
        None,
        "SELF_EMPLOYED",
    )
    [update] = await events(db, tenant, Event.PROFILE_UPDATED)
    assert update.actor_profile_id == user.profile_id
    assert update.previous_value == {"middleName": "Augusta", "jobTitle": None,
        "employmentStatus": None, "workEmail": None, "workPhoneNum": None}  # fmt: skip


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"firstName": "  "}, "firstName"),
        ({"firstName": None}, "firstName"),
        ({"lastName": "x" * 101}, "lastName"),
        ({"workEmail": "not-an-email"}, "workEmail"),
        ({"workPhoneNum": "12"}, "workPhoneNum"),
        ({"workPhoneNum": "07911 123456"}, "workPhoneNum"),  # national format: which country?
        ({"employmentStatus": "PIRATE"}, "employmentStatus"),
        ({"email": "new@example.com"}, "email"),
        ({"status": "ACTIVE"}, "status"),
        ({"role": "ADMIN"}, "role"),
    ],
)
async def test_an_invalid_update_names_the_field_and_changes_nothing(
    client: httpx.AsyncClient, db: Database, tenant: str, change: dict[str, Any], field: str
) -> None:
    user = await make_user(db, tenant)
    token = bearer(await signed_in(client, user.email))
    before = await load(db, tenant, UserProfile, user.profile_id)
    response = await client.patch(
        f"/users/{user.profile_id}", json={"jobTitle": "Analyst", **change}, headers=token
    )
    problem = assert_problem(response, 422, "VALIDATION_FAILED")
    assert [e["field"] for e in problem["errors"]] == [field]
    after = await load(db, tenant, UserProfile, user.profile_id)
    assert (after.updated_at, after.job_title, after.role) == (before.updated_at, None, "USER")


async def test_text_postgresql_cannot_hold_is_a_422_on_sign_in_and_profiles(
    client: httpx.AsyncClient, db: Database, tenant: str
) -> None:
    user = await make_user(db, tenant)
    token = bearer(await signed_in(client, user.email))
    # A lone surrogate is valid JSON (escaped) but not UTF-8: argon2 and asyncpg cannot take it.
    for path, body, field in [
        ("/auth/login", {"email": user.email, "password": "x\ud800"}, "password"),
        ("/auth/refresh", {"refreshToken": "abc\x00def"}, "refreshToken"),
    ]:
        response = await client.post(
            path, content=json.dumps(body), headers={"Content-Type": "application/json"}
        )
        problem = assert_problem(response, 422, "VALIDATION_FAILED")
        assert [e["field"] for e in problem["errors"]] == [field]
    response = await client.get(f"/users/{user.profile_id}%00/devices", headers=token)
    assert_problem(response, 422, "VALIDATION_FAILED")
    response = await client.patch(
        f"/users/{user.profile_id}", json={"workEmail": "a\x00@example.com"}, headers=token
    )
    assert_problem(response, 422, "VALIDATION_FAILED")
    assert (await load(db, tenant, UserProfile, user.profile_id)).work_email is None
    assert len(await events(db, tenant, Event.USER_LOGIN)) == 1  # the refused login is not one


async def test_another_user_cannot_update_a_profile(
    client: httpx.AsyncClient, db: Database, tenant: str
) -> None:
    owner, other = await make_user(db, tenant), await make_user(db, tenant)
    token = bearer(await signed_in(client, other.email))
    response = await client.patch(
        f"/users/{owner.profile_id}", json={"jobTitle": "x"}, headers=token
    )
    assert_problem(response, 404, "USER_NOT_FOUND")
    assert (await load(db, tenant, UserProfile, owner.profile_id)).job_title is None


# --------------------------------------------------------------------------------------------
# Tenants
# --------------------------------------------------------------------------------------------


async def test_a_token_is_refused_with_another_tenants_header(
    app: Any, client: httpx.AsyncClient, db: Database, tenant: str
) -> None:
    user = await make_user(db, tenant)
    body = await signed_in(client, user.email)
    other = await register_tenant(db, f"other-{uuid.uuid4().hex[:8]}")
    boss = await make_user(db, other, role="ADMIN", status=UserProfileStatus.ACTIVE)
    async with _client(app, other) as b:
        response = await b.get(f"/users/{user.profile_id}", headers=bearer(body))
        assert_problem(response, 401, "TOKEN_TENANT_MISMATCH")
        assert_problem(await refresh(b, body["refreshToken"]), 401, "TOKEN_INVALID")
        assert_problem(await login(b, user.email), 401, "INVALID_CREDENTIALS")
        # Even tenant B's administrator does not see tenant A's user.
        admin_token = bearer(await signed_in(b, boss.email))
        response = await b.get(f"/users/{user.profile_id}", headers=admin_token)
        assert_problem(response, 404, "USER_NOT_FOUND")
        response = await client.get(f"/users/{user.profile_id}", headers=admin_token)
        assert_problem(response, 401, "TOKEN_TENANT_MISMATCH")
    assert (await refresh(client, body["refreshToken"])).status_code == 200


# --------------------------------------------------------------------------------------------
# Tokens and keys
# --------------------------------------------------------------------------------------------


def test_access_tokens_are_checked_for_key_algorithm_and_expiry(clock: Clock) -> None:
    key = JWT_SECRET.encode()
    token, expires = tokens.issue_access(
        key, profile_id="p", tenant_id="t", session_id="s", role="USER", now=clock.now,
        ttl=timedelta(minutes=15),
    )  # fmt: skip
    assert tokens.read_access(key, token, now=clock.now).sub == "p"
    with pytest.raises(TokenInvalid):
        tokens.read_access(b"another-key-of-at-least-32-bytes!!", token, now=clock.now)
    unsigned = jwt.encode(jwt.decode(token, key, algorithms=["HS256"]), None, algorithm="none")
    with pytest.raises(TokenInvalid):
        tokens.read_access(key, unsigned, now=clock.now)
    with pytest.raises(TokenExpired):
        tokens.read_access(key, token, now=expires)


def test_the_signing_key_comes_from_the_setting_or_a_per_data_dir_file(tmp_path: Path) -> None:
    assert tokens.jwt_key(Settings(data_dir=tmp_path, jwt_secret=JWT_SECRET)) == JWT_SECRET.encode()
    with pytest.raises(ConfigurationError, match="GX_JWT_SECRET"):
        tokens.jwt_key(Settings(data_dir=tmp_path, jwt_secret="short"))
    with pytest.raises(ConfigurationError, match="GX_JWT_SECRET"):
        tokens.jwt_key(Settings(data_dir=tmp_path, environment="production"))
    dev = Settings(data_dir=tmp_path)
    key = tokens.jwt_key(dev)
    assert len(key) >= 32 and tokens.jwt_key(dev) == key
    assert (tmp_path / tokens.DEV_SECRET_FILE).stat().st_mode & 0o777 == 0o600


async def test_openapi_documents_the_endpoints_and_bearer_auth(client: httpx.AsyncClient) -> None:
    spec = (await client.get("http://gx.test/openapi.json")).json()
    paths = set(spec["paths"])
    assert {"/api/v1/auth/login", "/api/v1/auth/refresh", "/api/v1/auth/logout",
            "/api/v1/auth/revoke-all", "/api/v1/users/{profile_id}",
            "/api/v1/admin/users", "/api/v1/admin/users/{profile_id}/approve",
            "/api/v1/admin/users/{profile_id}/reject"} <= paths  # fmt: skip
    assert spec["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    assert "security" in spec["paths"]["/api/v1/users/{profile_id}"]["get"]
    assert "security" not in spec["paths"]["/api/v1/auth/login"]["post"]
