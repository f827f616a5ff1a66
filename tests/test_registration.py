"""Progressive registration over HTTP, end to end: the real app, a real PostgreSQL, no mocks.

Codes are read from the development mailbox the app writes, never assumed. Time comes from a
mutable clock injected into the app, so expiry and cooldowns are tested without sleeping.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from gxcore.admin import service as admin
from gxcore.admin.models import SystemParameter
from gxcore.app import create_app
from gxcore.audit.models import AuditLog
from gxcore.config import Settings
from gxcore.db.engine import PoolConfig
from gxcore.db.tenancy import Database
from gxcore.enums import AuditEventType, RegistrationStep, UserProfileStatus
from gxcore.errors import ConfigurationError, OtpInvalid, ValidationFailed
from gxcore.identity import otp, registration
from gxcore.identity.api import Ctx
from gxcore.identity.models import PendingRegistration, UserProfile
from gxcore.identity.registration import PASSWORD_HASHER, age_on, check_password
from gxcore.identity.schemas import OtpVerify
from gxcore.notifications.models import MessageOutbox
from gxcore.notifications.senders import default_senders, read_mailbox
from gxcore.notifications.worker import MessageWorker, Stats
from tests.apps import per_test
from tests.conftest import ROLE_KEY
from tests.factories import register_tenant

OTP_SECRET = "test-only-otp-secret-0123456789abcdef"
NAME = {"firstName": "Ada", "lastName": "Lovelace", "countryCode": "GB"}
DOB = {"dateOfBirth": "1990-12-10", "gender": "FEMALE"}
PASSWORD = "Correct-horse-battery-9"
PHONE = "07911 123456"  # national format, read in the registration's country (GB)
PHONE_E164 = "+447911123456"
STATUS_KEYS = {
    "registrationId",
    "currentStep",
    "expiresAt",
    "emailVerified",
    "phoneVerified",
    "profileId",
}


class Clock:
    """The app's notion of now; tests move it forward instead of sleeping."""

    def __init__(self, now: datetime | None = None) -> None:
        now = now or datetime.now(UTC)
        self.now = now.replace(microsecond=now.microsecond // 1000 * 1000)  # as timestamptz(3)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture(scope="module", autouse=True)
async def countries(engine: AsyncEngine) -> None:
    """The shared countries, written as `gx db seed` writes them: by the database owner."""
    async with AsyncSession(engine) as session, session.begin():
        await admin.seed_countries(session)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path, otp_secret=OTP_SECRET, environment="test")


def _client(app: Any, tenant: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://gx.test/api/v1",
        headers={"X-Tenant-Id": tenant},
    )


def client_at(app: Any, tenant: str, address: str) -> httpx.AsyncClient:
    """A client calling from `address` (what the app sees as the client's IP)."""
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, client=(address, 40000)),
        base_url="http://gx.test/api/v1",
        headers={"X-Tenant-Id": tenant},
    )


@pytest.fixture
async def client(
    db: Database, settings: Settings, clock: Clock, tenant: str
) -> AsyncIterator[httpx.AsyncClient]:
    async with _client(per_test(database=db, settings=settings, clock=clock), tenant) as c:
        yield c


def new_email() -> str:
    return f"user-{uuid.uuid4().hex[:10]}@example.com"


class Mailbox:
    """The development mailbox of one test's tenant.

    Requests only queue their messages; reading the mailbox first runs the message worker over
    the tenant's queue until nothing is due, as `gx api` runs it in the background.
    """

    def __init__(self, db: Database, settings: Settings, clock: Clock, tenant: str) -> None:
        self.db, self.settings, self.clock, self.tenant = db, settings, clock, tenant

    async def deliver(self) -> Stats:
        senders = default_senders(self.settings)
        worker = MessageWorker(self.db, senders, tenant_id=self.tenant, clock=self.clock)
        return await worker.drain()

    async def to(self, address: str) -> list[dict[str, Any]]:
        await self.deliver()
        return read_mailbox(self.settings.mailbox_file, to=address)

    async def last_code(self, address: str) -> str:
        codes = [m for m in await self.to(address) if re.search(r"\b\d{6}\b", m["text"])]
        assert codes, f"no code was sent to {address}"
        match = re.search(r"\b(\d{6})\b", codes[-1]["text"])
        assert match
        return match.group(1)


@pytest.fixture
def mail(db: Database, settings: Settings, clock: Clock, tenant: str) -> Mailbox:
    return Mailbox(db, settings, clock, tenant)


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 10**6:06d}"


def assert_problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status and body["code"] == code, body
    assert {"type", "title", "detail"} <= body.keys()
    return body


async def post(client: httpx.AsyncClient, path: str, **body: Any) -> httpx.Response:
    return await client.post(f"/registration/{path}", json=body)


# Each step's call, with the data the happy path uses.
async def advance(
    client: httpx.AsyncClient, mail: Mailbox, rid: str, email: str, step: str
) -> httpx.Response:
    if step == "email/verify":
        return await post(client, step, registrationId=rid, otp=await mail.last_code(email))
    if step == "name-country":
        return await post(client, step, registrationId=rid, **NAME)
    if step == "dob-gender":
        return await post(client, step, registrationId=rid, **DOB)
    if step == "password":
        return await post(
            client, step, registrationId=rid, password=PASSWORD, confirmPassword=PASSWORD
        )
    if step == "phone":
        return await post(client, step, registrationId=rid, phoneNum=PHONE)
    assert step == "phone/verify"
    return await post(client, step, registrationId=rid, otp=await mail.last_code(PHONE_E164))


PATH = ["email/verify", "name-country", "dob-gender", "password", "phone", "phone/verify"]


async def register(
    client: httpx.AsyncClient, mail: Mailbox, *, until: str | None = None
) -> tuple[str, str]:
    """Start a registration and take the steps up to and including `until`; (id, email)."""
    email = new_email()
    response = await post(client, "email", email=email)
    assert response.status_code == 201, response.text
    rid = response.json()["registrationId"]
    for step in PATH[: PATH.index(until) + 1] if until else []:
        response = await advance(client, mail, rid, email, step)
        assert response.status_code == 200, (step, response.text)
    return rid, email


async def row(db: Database, tenant: str, rid: str) -> PendingRegistration | None:
    async with db.tenant(tenant) as session:
        return await session.get(PendingRegistration, rid)


# --------------------------------------------------------------------------------------------
# The happy path
# --------------------------------------------------------------------------------------------


async def test_happy_path_completes_with_a_registered_profile_and_an_audit_entry(
    client: httpx.AsyncClient, mail: Mailbox, db: Database, tenant: str
) -> None:
    email = new_email()
    started = await post(client, "email", email=email.upper())
    assert started.status_code == 201
    assert started.json()["currentStep"] == "EMAIL_SENT"
    assert started.json().keys() == STATUS_KEYS
    rid = started.json()["registrationId"]
    expected = ["EMAIL_VERIFIED", "NAME_COUNTRY_SET", "DOB_GENDER_SET", "PASSWORD_SET"]
    expected += ["PHONE_SENT", "COMPLETED"]
    for step, current in zip(PATH, expected, strict=True):
        response = await advance(client, mail, rid, email, step)
        assert response.status_code == 200, (step, response.text)
        assert response.json()["currentStep"] == current

    done = (await client.get(f"/registration/{rid}")).json()
    assert done["currentStep"] == "COMPLETED" and done["phoneVerified"] and done["emailVerified"]
    assert done.keys() == STATUS_KEYS  # progress only: no hashes, no personal data
    async with db.tenant(tenant) as session:
        profile = await session.get(UserProfile, done["profileId"])
        assert profile is not None
        assert (profile.status, profile.email, profile.phone_num) == (
            UserProfileStatus.REGISTERED,
            email,
            PHONE_E164,
        )
        assert (profile.first_name, profile.nationality_country_code) == ("Ada", "GB")
        assert profile.date_of_birth == date(1990, 12, 10) and profile.gender == "FEMALE"
        assert profile.password_hash.startswith("$argon2id$")
        assert PASSWORD_HASHER.verify(profile.password_hash, PASSWORD)
        pending = await session.get(PendingRegistration, rid)
        assert pending is not None and pending.migrated_to_profile_id == profile.profile_id
        assert pending.migrated_at is not None
        events = (
            await session.scalars(
                select(AuditLog).where(AuditLog.event_type == AuditEventType.USER_REGISTERED)
            )
        ).all()
        # Exactly one: the profile's insert, written by the session's audit hook.
        assert [(e.target_profile_id, e.resource_id) for e in events] == [
            (profile.profile_id, profile.profile_id)
        ]


async def test_repeating_a_step_with_the_same_data_answers_as_before(
    client: httpx.AsyncClient, mail: Mailbox
) -> None:
    rid, email = await register(client, mail, until="email/verify")
    again = await advance(client, mail, rid, email, "email/verify")
    assert again.status_code == 200 and again.json()["currentStep"] == "EMAIL_VERIFIED"
    for step, current in [("name-country", "NAME_COUNTRY_SET"), ("dob-gender", "DOB_GENDER_SET")]:
        for _ in range(2):
            response = await advance(client, mail, rid, email, step)
            assert response.status_code == 200 and response.json()["currentStep"] == current
    for step in ("password", "password", "phone", "phone", "phone/verify", "phone/verify"):
        response = await advance(client, mail, rid, email, step)
        assert response.status_code == 200, (step, response.text)
    assert response.json()["currentStep"] == "COMPLETED"
    assert len([m for m in await mail.to(PHONE_E164)]) == 1  # a repeat sends nothing


# --------------------------------------------------------------------------------------------
# Order of steps, expiry, tenants
# --------------------------------------------------------------------------------------------

# Endpoints each step accepts; every other one must answer 409 with the current step.
ACCEPTS = {
    "EMAIL_SENT": {"email/verify", "email/resend"},
    "EMAIL_VERIFIED": {"name-country"},
    "NAME_COUNTRY_SET": {"dob-gender"},
    "DOB_GENDER_SET": {"password"},
    "PASSWORD_SET": {"phone"},
    "PHONE_SENT": {"phone/verify", "phone/resend"},
    "COMPLETED": set(),
}
ENDPOINTS = ["email/verify", "email/resend", *PATH[1:-1], "phone/verify", "phone/resend"]


async def test_every_step_out_of_order_is_409_with_the_current_step(
    client: httpx.AsyncClient, mail: Mailbox, db: Database, tenant: str
) -> None:
    rid, email = await register(client, mail)
    # Valid data that differs from what was given, so no call is a repeat of the step taken.
    other = {
        "email/verify": {"otp": "000000"},
        "email/resend": {},
        "name-country": {**NAME, "firstName": "Grace"},
        "dob-gender": {**DOB, "gender": "MALE"},
        "password": {"password": "Another-pass-77", "confirmPassword": "Another-pass-77"},
        "phone": {"phoneNum": "+14155552671"},
        "phone/verify": {"otp": "000000"},
        "phone/resend": {},
    }
    for step in [None, *PATH]:
        if step is not None:
            assert (await advance(client, mail, rid, email, step)).status_code == 200
        current = (await client.get(f"/registration/{rid}")).json()["currentStep"]
        before = await row(db, tenant, rid)
        for endpoint in ENDPOINTS:
            if endpoint in ACCEPTS[current]:
                continue
            response = await post(client, endpoint, registrationId=rid, **other[endpoint])
            body = assert_problem(response, 409, "STEP_OUT_OF_ORDER")
            assert body["currentStep"] == current, (endpoint, body)
        after = await row(db, tenant, rid)
        assert before is not None and after is not None
        assert after.updated_at == before.updated_at  # refused calls wrote nothing


async def test_an_expired_registration_is_gone(
    client: httpx.AsyncClient, mail: Mailbox, clock: Clock
) -> None:
    rid, email = await register(client, mail, until="email/verify")
    clock.advance(hours=24, seconds=1)
    assert_problem(await client.get(f"/registration/{rid}"), 410, "REGISTRATION_EXPIRED")
    response = await advance(client, mail, rid, email, "name-country")
    assert_problem(response, 410, "REGISTRATION_EXPIRED")
    # The address is free again: starting over is a new registration.
    restarted = await post(client, "email", email=email)
    assert restarted.status_code == 201 and restarted.json()["registrationId"] != rid


async def test_a_tenant_never_created_is_a_404_and_writes_nothing(
    db: Database, settings: Settings, clock: Clock
) -> None:
    unknown = f"never-{uuid.uuid4().hex[:8]}"
    app = create_app(database=db, settings=settings, clock=clock)
    email = new_email()
    async with _client(app, unknown) as c:
        body = assert_problem(await post(c, "email", email=email), 404, "TENANT_NOT_FOUND")
        assert body["tenant"] == unknown and "gx tenant create" in body["detail"]
        assert_problem(await c.get(f"/registration/{uuid.uuid4()}"), 404, "TENANT_NOT_FOUND")
    async with db.system(reason="test check") as session:
        for model in (PendingRegistration, AuditLog, SystemParameter, MessageOutbox):
            rows = await session.scalars(select(model).where(model.tenant_id == unknown))
            assert rows.all() == [], model  # nor a message queued to go out


async def test_another_tenant_cannot_read_or_continue_a_registration(
    db: Database, settings: Settings, clock: Clock, client: httpx.AsyncClient, mail: Mailbox
) -> None:
    rid, email = await register(client, mail)
    app = create_app(database=db, settings=settings, clock=clock)
    other_tenant = await register_tenant(db, f"other-{uuid.uuid4().hex[:8]}")
    async with _client(app, other_tenant) as other:
        assert_problem(await other.get(f"/registration/{rid}"), 404, "REGISTRATION_NOT_FOUND")
        code = await mail.last_code(email)
        response = await post(other, "email/verify", registrationId=rid, otp=code)
        assert_problem(response, 404, "REGISTRATION_NOT_FOUND")
        response = await post(other, "email/resend", registrationId=rid)
        assert_problem(response, 404, "REGISTRATION_NOT_FOUND")
    assert (await client.get(f"/registration/{rid}")).json()["currentStep"] == "EMAIL_SENT"
    async with _client(app, "not a tenant!") as bad:
        body = assert_problem(await bad.get(f"/registration/{rid}"), 422, "INVALID_TENANT")
        assert "tenant" in body["detail"]


# --------------------------------------------------------------------------------------------
# OTP guessing and resending
# --------------------------------------------------------------------------------------------


async def test_wrong_code_after_five_attempts_is_refused(
    client: httpx.AsyncClient, mail: Mailbox, db: Database, tenant: str
) -> None:
    rid, email = await register(client, mail)
    code = await mail.last_code(email)
    for remaining in (4, 3, 2, 1, 0):
        response = await post(client, "email/verify", registrationId=rid, otp=wrong(code))
        assert assert_problem(response, 400, "OTP_INVALID")["attemptsRemaining"] == remaining
    response = await post(client, "email/verify", registrationId=rid, otp=code)
    assert_problem(response, 429, "OTP_LOCKED")
    saved = await row(db, tenant, rid)
    assert saved is not None and saved.email_otp_attempts == 5 and not saved.email_verified
    assert saved.email_otp_hash != code and code not in str(saved.email_otp_hash)


async def test_a_counted_guess_sticks_though_the_call_rolls_back_what_else_it_wrote(
    db: Database, settings: Settings, clock: Clock, tenant: str, mail: Mailbox
) -> None:
    app = create_app(database=db, settings=settings, clock=clock)

    @app.post("/api/v1/test/guess-then-write")
    async def guess_then_write(body: OtpVerify, ctx: Ctx) -> None:
        try:
            await registration.verify_email(body, ctx=ctx)
        except OtpInvalid:
            found = await ctx.session.get(PendingRegistration, body.registrationId)
            assert found is not None
            found.first_name = "Mallory"  # written by the same call, after the refused guess
            await ctx.session.flush()
            raise

    async with _client(app, tenant) as client:
        rid, email = await register(client, mail)
        code = await mail.last_code(email)
        for remaining in (4, 3):
            response = await client.post(
                "/test/guess-then-write", json={"registrationId": rid, "otp": wrong(code)}
            )
            assert assert_problem(response, 400, "OTP_INVALID")["attemptsRemaining"] == remaining
    saved = await row(db, tenant, rid)
    assert saved is not None and saved.email_otp_attempts == 2  # both guesses counted
    assert saved.first_name is None  # the rest of each call rolled back


async def test_otp_locked_says_when_a_new_code_may_be_asked_for(
    client: httpx.AsyncClient, mail: Mailbox, clock: Clock
) -> None:
    rid, email = await register(client, mail)
    code = await mail.last_code(email)
    for _ in range(5):
        await post(client, "email/verify", registrationId=rid, otp=wrong(code))
    clock.advance(seconds=20)
    response = await post(client, "email/verify", registrationId=rid, otp=code)
    body = assert_problem(response, 429, "OTP_LOCKED")
    # The lock ends with a new code, which the resend cooldown (60 s) allows in 40 s.
    assert response.headers["Retry-After"] == str(body["retryAfter"]) == "40"
    clock.advance(seconds=40)
    response = await post(client, "email/verify", registrationId=rid, otp=code)
    assert_problem(response, 429, "OTP_LOCKED")
    assert response.headers["Retry-After"] == "0"
    assert (await post(client, "email/resend", registrationId=rid)).status_code == 200
    fresh = await mail.last_code(email)
    response = await post(client, "email/verify", registrationId=rid, otp=fresh)
    assert response.status_code == 200, response.text


def test_a_locked_code_at_the_daily_cap_waits_for_the_send_window() -> None:
    now = datetime(2030, 1, 1, 12, tzinfo=UTC)
    policy = otp.OtpPolicy(ttl=timedelta(minutes=10), max_attempts=5,
                           cooldown=timedelta(seconds=60), daily_cap=5)  # fmt: skip
    locked = PendingRegistration(
        email_otp_attempts=5, email_otp_sent_at=now - timedelta(minutes=10),
        email_otp_sends_since=now - timedelta(hours=1), email_otp_sends=5,
    )  # fmt: skip
    assert otp.resend_wait(locked, otp.Channel.EMAIL, policy=policy, now=now) == 23 * 3600
    locked.email_otp_sends = 4
    assert otp.resend_wait(locked, otp.Channel.EMAIL, policy=policy, now=now) == 0


async def test_an_expired_code_is_refused_and_a_resent_one_works(
    client: httpx.AsyncClient, mail: Mailbox, clock: Clock
) -> None:
    rid, email = await register(client, mail)
    code = await mail.last_code(email)
    clock.advance(minutes=10)
    response = await post(client, "email/verify", registrationId=rid, otp=code)
    assert_problem(response, 400, "OTP_EXPIRED")
    assert (await post(client, "email/resend", registrationId=rid)).status_code == 200
    fresh = await mail.last_code(email)
    response = await post(client, "email/verify", registrationId=rid, otp=fresh)
    assert response.status_code == 200 and response.json()["currentStep"] == "EMAIL_VERIFIED"


async def test_resends_wait_for_the_cooldown_and_stop_at_the_daily_cap(
    client: httpx.AsyncClient, mail: Mailbox, clock: Clock, db: Database, tenant: str
) -> None:
    async with db.tenant(tenant) as session:  # long enough to see the 24 h window roll
        session.add(SystemParameter(param_key="registrationTtlHours", param_value="48"))
    rid, email = await register(client, mail)  # send 1 of 5
    response = await post(client, "email/resend", registrationId=rid)
    body = assert_problem(response, 429, "RESEND_TOO_SOON")
    assert response.headers["Retry-After"] == str(body["retryAfter"]) == "60"
    for _ in range(4):  # sends 2..5
        clock.advance(seconds=60)
        assert (await post(client, "email/resend", registrationId=rid)).status_code == 200
    clock.advance(seconds=60)
    response = await post(client, "email/resend", registrationId=rid)
    assert_problem(response, 429, "RESEND_CAP_REACHED")
    assert len(await mail.to(email)) == 5
    # The window rolls 24 h after its first send.
    clock.advance(hours=23, minutes=55)
    assert (await post(client, "email/resend", registrationId=rid)).status_code == 200


async def test_resends_do_not_give_unlimited_guesses(
    client: httpx.AsyncClient, mail: Mailbox, clock: Clock, db: Database, tenant: str
) -> None:
    rid, email = await register(client, mail)
    guesses = 0
    while True:
        code = await mail.last_code(email)
        for _ in range(5):
            response = await post(client, "email/verify", registrationId=rid, otp=wrong(code))
            assert_problem(response, 400, "OTP_INVALID")
            guesses += 1
        response = await post(client, "email/verify", registrationId=rid, otp=code)
        assert_problem(response, 429, "OTP_LOCKED")
        clock.advance(seconds=61)
        response = await post(client, "email/resend", registrationId=rid)
        if response.status_code != 200:
            assert_problem(response, 429, "RESEND_CAP_REACHED")
            break
    assert guesses == 25  # otpDailySendCap x otpMaxAttempts per 24 h, then nothing
    response = await post(client, "email/verify", registrationId=rid, otp=code)
    assert_problem(response, 429, "OTP_LOCKED")
    # Starting over with the same address keeps the counters: no fresh budget that way either.
    restarted = await post(client, "email", email=email)
    assert restarted.status_code == 201 and await row(db, tenant, rid) is None  # a new id
    new_rid = restarted.json()["registrationId"]
    response = await post(client, "email/verify", registrationId=new_rid, otp=code)
    assert_problem(response, 429, "OTP_LOCKED")
    assert len(await mail.to(email)) == 5


async def test_concurrent_guesses_never_exceed_the_attempt_limit(
    client: httpx.AsyncClient, mail: Mailbox, db: Database, tenant: str
) -> None:
    rid, email = await register(client, mail)
    code = await mail.last_code(email)
    responses = await asyncio.gather(
        *(post(client, "email/verify", registrationId=rid, otp=wrong(code)) for _ in range(10))
    )
    codes = sorted(r.json()["code"] for r in responses)
    assert codes == ["OTP_INVALID"] * 5 + ["OTP_LOCKED"] * 5
    saved = await row(db, tenant, rid)
    assert saved is not None and saved.email_otp_attempts == 5
    response = await post(client, "email/verify", registrationId=rid, otp=code)
    assert_problem(response, 429, "OTP_LOCKED")


async def test_a_right_and_wrong_guesses_racing_the_last_attempt_pass_at_most_once(
    client: httpx.AsyncClient, mail: Mailbox, db: Database, tenant: str
) -> None:
    rid, email = await register(client, mail)
    code = await mail.last_code(email)
    for _ in range(4):
        await post(client, "email/verify", registrationId=rid, otp=wrong(code))
    calls = [post(client, "email/verify", registrationId=rid, otp=wrong(code)) for _ in range(3)]
    calls.insert(1, post(client, "email/verify", registrationId=rid, otp=code))
    responses = await asyncio.gather(*calls)
    saved = await row(db, tenant, rid)
    assert saved is not None and saved.email_otp_attempts <= 5
    passed = [r for r in responses if r.status_code == 200]
    invalid = [r for r in responses if r.status_code == 400]
    # One wrong guess at most takes the fifth attempt (the others find the code locked, or the
    # step moved on). The right code passes only if it was checked before that guess was
    # counted: checked after, it finds the code locked like the rest.
    assert len(passed) <= 1 and len(invalid) <= 1 and (passed or invalid)
    assert all(r.status_code in (200, 400, 409, 429) for r in responses)
    if not passed:
        assert all(r.json()["code"] == "OTP_LOCKED" for r in responses if r.status_code == 429)
    assert saved.email_otp_attempts == 4 + len(invalid)
    assert saved.email_verified == bool(passed)


# --------------------------------------------------------------------------------------------
# No account enumeration
# --------------------------------------------------------------------------------------------


def _shape(body: dict[str, Any]) -> dict[str, Any]:
    return {k: (type(v).__name__ if k == "registrationId" else v) for k, v in body.items()}


async def _profile(db: Database, tenant: str, *, email: str, phone: str | None = None) -> None:
    async with db.tenant(tenant) as session:
        session.add(
            UserProfile(
                first_name="Existing",
                last_name="User",
                email=email,
                phone_num=phone,
                biometric_hash=uuid.uuid4().hex,
                password_hash="x",
            )
        )


async def test_an_email_with_an_account_answers_like_a_new_one(
    client: httpx.AsyncClient, mail: Mailbox, db: Database, tenant: str
) -> None:
    taken = new_email()
    await _profile(db, tenant, email=taken)
    fresh = await post(client, "email", email=new_email())
    decoy = await post(client, "email", email=taken.upper())
    assert decoy.status_code == fresh.status_code == 201
    assert decoy.headers["content-type"] == fresh.headers["content-type"]
    assert _shape(decoy.json()) == _shape(fresh.json())
    # Later calls on the decoy answer like a registration waiting for a code.
    rid = decoy.json()["registrationId"]
    assert _shape((await client.get(f"/registration/{rid}")).json()) == _shape(fresh.json())
    response = await post(client, "email/verify", registrationId=rid, otp="123456")
    assert_problem(response, 400, "OTP_INVALID")
    assert_problem(await post(client, "email/resend", registrationId=rid), 429, "RESEND_TOO_SOON")
    # Only the owner learns of it, and gets no code.
    [notice] = await mail.to(taken)
    assert "already have an account" in notice["text"]
    assert not re.search(r"\b\d{6}\b", notice["text"])
    # A second try moments later sends no second notice (the codes' cooldown applies).
    assert (await post(client, "email", email=taken)).status_code == 201
    assert len(await mail.to(taken)) == 1


async def decoys(db: Database, tenant: str) -> list[PendingRegistration]:
    async with db.tenant(tenant) as session:
        stmt = select(PendingRegistration).where(PendingRegistration.email.like("%@decoy.invalid"))
        return list((await session.scalars(stmt)).all())


async def test_repeated_starts_for_a_taken_address_reuse_one_row(
    client: httpx.AsyncClient, mail: Mailbox, db: Database, tenant: str, clock: Clock
) -> None:
    taken = new_email()
    await _profile(db, tenant, email=taken)
    in_progress_rid, in_progress = await register(client, mail, until="email/verify")
    answers = []
    for _ in range(8):
        for address in (taken, in_progress):
            response = await post(client, "email", email=address)
            assert response.status_code == 201, response.text
            answers.append(response.json()["registrationId"])
        clock.advance(minutes=5)  # past the cooldown: a notice may go out each time
    assert len(set(answers)) == len(answers)  # each answer looks like a new registration
    rows = await decoys(db, tenant)
    assert len(rows) == 2  # one per address, however often it is tried
    assert sorted(r.id for r in rows) == sorted(answers[-2:])  # the newest id is the live one
    assert_problem(await client.get(f"/registration/{answers[0]}"), 404, "REGISTRATION_NOT_FOUND")
    assert (await client.get(f"/registration/{answers[-2]}")).json()["currentStep"] == (
        "EMAIL_SENT"
    )
    # The owner's notices share the codes' daily cap.
    assert len(await mail.to(taken)) == 5
    assert (await client.get(f"/registration/{in_progress_rid}")).json()["emailVerified"]


async def test_registrations_started_from_one_address_are_limited_per_hour(
    db: Database, settings: Settings, clock: Clock, tenant: str
) -> None:
    async with db.tenant(tenant) as session:
        session.add(
            SystemParameter(param_key="registrationStartsPerAddressHourly", param_value="3")
        )
    app = create_app(database=db, settings=settings, clock=clock)
    async with (
        client_at(app, tenant, "203.0.113.9") as flood,
        client_at(app, tenant, "198.51.100.1") as elsewhere,
    ):
        started = [new_email() for _ in range(3)]
        for email in started:
            assert (await post(flood, "email", email=email)).status_code == 201
            clock.advance(minutes=10)
            if email == started[0]:  # starting it again reuses its row: it does not count
                assert (await post(flood, "email", email=email)).status_code == 201
        before = await _count(db, tenant)
        for email in (new_email(), started[0]):
            refused = await post(flood, "email", email=email)
            body = assert_problem(refused, 429, "REGISTRATION_THROTTLED")
            # The oldest of the three leaves the window 60 - 30 minutes from now.
            assert refused.headers["Retry-After"] == str(30 * 60) == str(body["retryAfter"])
        assert await _count(db, tenant) == before == 3
        assert (await post(elsewhere, "email", email=new_email())).status_code == 201
        clock.advance(minutes=30)
        assert (await post(flood, "email", email=new_email())).status_code == 201


async def _count(db: Database, tenant: str) -> int:
    async with db.tenant(tenant) as session:
        return len((await session.scalars(select(PendingRegistration.id))).all())


async def test_an_email_in_a_verified_registration_answers_like_a_new_one(
    client: httpx.AsyncClient, mail: Mailbox
) -> None:
    rid, email = await register(client, mail, until="email/verify")
    fresh = await post(client, "email", email=new_email())
    again = await post(client, "email", email=email)
    assert again.status_code == 201 and _shape(again.json()) == _shape(fresh.json())
    assert again.json()["registrationId"] != rid
    assert "already under way" in (await mail.to(email))[-1]["text"]
    assert (await client.get(f"/registration/{rid}")).json()["currentStep"] == "EMAIL_VERIFIED"


async def test_starting_again_before_verifying_moves_the_registration_to_a_new_id(
    client: httpx.AsyncClient, mail: Mailbox, clock: Clock
) -> None:
    rid, email = await register(client, mail)
    first_code = await mail.last_code(email)
    again = await post(client, "email", email=email)  # within the cooldown: no new code
    new_rid = again.json()["registrationId"]
    assert again.status_code == 201 and new_rid != rid
    assert_problem(await client.get(f"/registration/{rid}"), 404, "REGISTRATION_NOT_FOUND")
    response = await post(client, "email/verify", registrationId=new_rid, otp=first_code)
    assert response.status_code == 200 and response.json()["currentStep"] == "EMAIL_VERIFIED"


async def test_a_phone_with_an_account_answers_like_a_new_one(
    client: httpx.AsyncClient, mail: Mailbox, db: Database, tenant: str
) -> None:
    await _profile(db, tenant, email=new_email(), phone=PHONE_E164)
    rid, _ = await register(client, mail, until="password")
    response = await post(client, "phone", registrationId=rid, phoneNum=PHONE)
    assert response.status_code == 200 and response.json()["currentStep"] == "PHONE_SENT"
    [notice] = await mail.to(PHONE_E164)
    assert "already belongs to an account" in notice["text"]
    assert not re.search(r"\b\d{6}\b", notice["text"])
    response = await post(client, "phone/verify", registrationId=rid, otp="123456")
    assert_problem(response, 400, "OTP_INVALID")


async def test_a_phone_claimed_by_another_registration_answers_like_a_free_one(
    client: httpx.AsyncClient, mail: Mailbox, db: Database, tenant: str
) -> None:
    first, _ = await register(client, mail, until="phone")
    second, _ = await register(client, mail, until="password")
    response = await post(client, "phone", registrationId=second, phoneNum=PHONE)
    assert response.status_code == 200 and response.json()["currentStep"] == "PHONE_SENT"
    assert "already belongs to an account" in (await mail.to(PHONE_E164))[-1]["text"]
    saved = await row(db, tenant, second)
    assert saved is not None and saved.phone_num is None  # the first claim stands
    code = await mail.last_code(PHONE_E164)
    response = await post(client, "phone/verify", registrationId=first, otp=code)
    assert response.status_code == 200 and response.json()["currentStep"] == "COMPLETED"


# --------------------------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------------------------


async def test_bad_input_names_the_field_and_leaves_the_row_unchanged(
    client: httpx.AsyncClient, mail: Mailbox, db: Database, tenant: str
) -> None:
    response = await post(client, "email", email="not-an-email")
    assert assert_problem(response, 422, "VALIDATION_FAILED")["errors"][0]["field"] == "email"
    rid, email = await register(client, mail, until="email/verify")
    cases: list[tuple[str, dict[str, Any], str]] = [
        ("name-country", {**NAME, "countryCode": "ZZ"}, "countryCode"),
        ("name-country", {**NAME, "countryCode": "GBR"}, "countryCode"),
        ("name-country", {"firstName": "Ada", "countryCode": "GB"}, "lastName"),
        ("name-country", {**NAME, "firstName": "  "}, "firstName"),
        ("name-country", {**NAME, "middle": "x"}, "middle"),
    ]
    for path, body, field in cases:
        before = await row(db, tenant, rid)
        response = await post(client, path, registrationId=rid, **body)
        problem = assert_problem(response, 422, "VALIDATION_FAILED")
        assert field in {e["field"] for e in problem["errors"]}, (body, problem)
        after = await row(db, tenant, rid)
        assert before is not None and after is not None
        assert (after.updated_at, after.current_step) == (before.updated_at, before.current_step)
    for step in ("name-country",):
        assert (await advance(client, mail, rid, email, step)).status_code == 200
    today = date.today()
    too_young = today.replace(year=today.year - 12).isoformat()
    cases = [
        ("dob-gender", {**DOB, "dateOfBirth": too_young}, "dateOfBirth"),
        ("dob-gender", {**DOB, "dateOfBirth": "1890-01-01"}, "dateOfBirth"),
        ("dob-gender", {**DOB, "dateOfBirth": "10/12/1990"}, "dateOfBirth"),
        ("dob-gender", {**DOB, "gender": "OTHER"}, "gender"),
    ]
    for path, body, field in cases:
        response = await post(client, path, registrationId=rid, **body)
        assert field in {
            e["field"] for e in assert_problem(response, 422, "VALIDATION_FAILED")["errors"]
        }
    assert (await advance(client, mail, rid, email, "dob-gender")).status_code == 200
    for password, confirm, field in [
        ("Short-1", "Short-1", "password"),
        ("alllowercaseletters", "alllowercaseletters", "password"),
        (PASSWORD, PASSWORD + "x", "confirmPassword"),
    ]:
        body = {"password": password, "confirmPassword": confirm}
        response = await post(client, "password", registrationId=rid, **body)
        assert assert_problem(response, 422, "VALIDATION_FAILED")["errors"][0]["field"] == field
    assert (await advance(client, mail, rid, email, "password")).status_code == 200
    for phone in ("12", "+1 555 0100", "not a number"):
        response = await post(client, "phone", registrationId=rid, phoneNum=phone)
        problem = assert_problem(response, 422, "VALIDATION_FAILED")
        assert problem["errors"][0]["field"] == "phoneNum"
    saved = await row(db, tenant, rid)
    assert saved is not None and saved.current_step is RegistrationStep.PASSWORD_SET
    assert saved.phone_num is None and saved.phone_otp_sends == 0


async def test_text_postgresql_cannot_hold_is_a_422_naming_the_field_not_a_500(
    client: httpx.AsyncClient, mail: Mailbox, db: Database, tenant: str
) -> None:
    # Found by the API fuzzing: a NUL in a registration id reached the query (asyncpg: invalid
    # byte sequence for encoding "UTF8") and answered 500.
    rid, _ = await register(client, mail, until="dob-gender")
    before = await row(db, tenant, rid)
    for path, body, field in [
        ("email/resend", {"registrationId": "abc\x00"}, "registrationId"),
        ("phone/resend", {"registrationId": f"{rid}\x00"}, "registrationId"),
        ("password", {"registrationId": rid, "password": "Ab-1\x00" * 4,
                      "confirmPassword": "Ab-1\x00" * 4}, "password"),
        ("password", {"registrationId": rid, "password": "Ab-1\ud800" * 4,
                      "confirmPassword": "Ab-1\ud800" * 4}, "password"),
        ("email", {"email": "a\x00@example.com"}, "email"),
    ]:  # fmt: skip
        # json.dumps escapes a lone surrogate (\\ud800) as JSON allows; httpx's json= cannot.
        response = await client.post(
            f"/registration/{path}",
            content=json.dumps(body),
            headers={"Content-Type": "application/json"},
        )
        problem = assert_problem(response, 422, "VALIDATION_FAILED")
        assert field in {e["field"] for e in problem["errors"]}, (body, problem)
    response = await client.get("/registration/abc%00def")
    assert assert_problem(response, 422, "VALIDATION_FAILED")["errors"][0]["field"] == (
        "path.registration_id"
    )
    # A body that is not UTF-8 is invalid input like malformed JSON, not a bare 400.
    response = await client.post(
        "/registration/email/resend",
        content=b'{"registrationId": "\xff"}',
        headers={"Content-Type": "application/json"},
    )
    assert assert_problem(response, 422, "VALIDATION_FAILED")["errors"][0]["field"] == "body"
    after = await row(db, tenant, rid)
    assert before is not None and after is not None
    assert (after.updated_at, after.current_step, after.password_hash) == (
        before.updated_at,
        before.current_step,
        before.password_hash,
    )


async def test_a_malformed_json_body_is_named_as_such_not_as_a_field(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post(
        "/registration/email",
        content=b'{"email": "a@example.com",',
        headers={"Content-Type": "application/json"},
    )
    problem = assert_problem(response, 422, "VALIDATION_FAILED")
    assert [e["field"] for e in problem["errors"]] == ["body"]  # not "26", the offset
    assert problem["errors"][0]["type"] == "json_invalid"
    assert problem["detail"].startswith("the body is not valid JSON")
    assert "at character 26" in problem["detail"]


def test_password_policy_and_age_rules() -> None:
    check_password("Abcdefgh-123", "Abcdefgh-123", min_length=12)
    check_password("abcdefgh-123", "abcdefgh-123", min_length=12)  # three classes suffice
    with pytest.raises(ValidationFailed):
        check_password("abcdefgh1234", "abcdefgh1234", min_length=12)
    assert age_on(date(2000, 2, 29), date(2013, 2, 28)) == 12
    assert age_on(date(2000, 2, 29), date(2013, 3, 1)) == 13


def test_otp_key_comes_from_the_setting_or_a_per_data_dir_file(tmp_path: Path) -> None:
    assert otp.otp_key(Settings(data_dir=tmp_path, otp_secret=OTP_SECRET)) == OTP_SECRET.encode()
    with pytest.raises(ConfigurationError):
        otp.otp_key(Settings(data_dir=tmp_path, otp_secret="short"))
    with pytest.raises(ConfigurationError):
        otp.otp_key(Settings(data_dir=tmp_path, environment="production"))
    dev = Settings(data_dir=tmp_path)
    key = otp.otp_key(dev)
    assert len(key) >= 32 and otp.otp_key(dev) == key
    assert (tmp_path / otp.DEV_SECRET_FILE).stat().st_mode & 0o777 == 0o600


async def test_openapi_lists_the_registration_endpoints(client: httpx.AsyncClient) -> None:
    spec = (await client.get("http://gx.test/openapi.json")).json()
    paths = {p.removeprefix("/api/v1/registration") for p in spec["paths"]}
    assert {f"/{p}" for p in ENDPOINTS} | {"/email", "/{registration_id}"} <= paths


# --------------------------------------------------------------------------------------------
# Commands
# --------------------------------------------------------------------------------------------

GX = [sys.executable, "-m", "gxcore"]


def gx(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "GX_DATABASE_URL")}
    environ.update(env)
    return subprocess.run(
        [*GX, *args], capture_output=True, text=True, env=environ, timeout=120, check=False
    )


async def test_gx_dev_mailbox_prints_a_sent_message(
    client: httpx.AsyncClient, mail: Mailbox, tmp_path: Path
) -> None:
    _, email = await register(client, mail)
    other = new_email()
    await post(client, "email", email=other)
    code = await mail.last_code(email)
    proc = gx("dev", "mailbox", "--to", email, "--data-dir", str(tmp_path), COLUMNS="200")
    assert proc.returncode == 0, proc.stderr
    assert email in proc.stdout and code in proc.stdout
    assert other not in proc.stdout


async def test_gx_jobs_cleanup_removes_only_expired_registrations(
    scratch_url: str, settings: Settings, pool: PoolConfig
) -> None:
    database = Database.connect(scratch_url, role_key=ROLE_KEY, pool=pool)
    try:
        past, now = Clock(datetime.now(UTC) - timedelta(days=2)), Clock()
        ids = {}
        for name, clock in (("old", past), ("current", now)):
            app = create_app(database=database, settings=settings, clock=clock)
            async with _client(app, await register_tenant(database, f"t-{name}")) as c:
                ids[name] = (await post(c, "email", email=new_email())).json()["registrationId"]
        proc = gx("jobs", "cleanup", DATABASE_URL=scratch_url)
        assert proc.returncode == 0, proc.stderr
        assert "deleted 1 expired registration" in proc.stdout
        async with database.system(reason="test check") as session:
            left = (await session.scalars(select(PendingRegistration.id))).all()
        assert left == [ids["current"]]
    finally:
        await database.dispose()


@pytest.mark.parametrize("workers", [1, 2])  # `--workers 2`: two uvicorn processes
def test_gx_api_serves_the_api_and_delivers_its_messages(
    migrated_url: str, tmp_path: Path, tenant: str, workers: int
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "GX_DATABASE_URL")}
    env.update(DATABASE_URL=migrated_url, GX_OTP_SECRET=OTP_SECRET)
    args = [*GX, "api", "--port", str(port), "--data-dir", str(tmp_path), "--workers", str(workers)]
    proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                assert httpx.get(f"{base}/openapi.json").status_code == 200
                break
            except httpx.TransportError:
                assert proc.poll() is None and time.monotonic() < deadline, proc.stdout
                time.sleep(0.2)
        email = new_email()
        started = httpx.post(
            f"{base}/api/v1/registration/email",
            json={"email": email},
            headers={"X-Tenant-Id": tenant},
        )
        assert started.status_code == 201, started.text
        # No other process runs: the worker in gx api's lifespan delivers the code.
        deadline = time.monotonic() + 60
        while not (sent := read_mailbox(tmp_path / "mailbox.jsonl", to=email)):
            assert proc.poll() is None and time.monotonic() < deadline, "no code was delivered"
            time.sleep(0.1)
        assert re.search(r"\b\d{6}\b", sent[0]["text"])
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0
