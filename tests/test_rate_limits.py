"""Rate limits kept in PostgreSQL (so they hold across API processes): transfers per account and
per client address, registration changes (OTP checks and resends) per client address. Each is a
429 problem+json with Retry-After, and the refused call writes nothing.
"""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import func, select, update

from gxcore.admin.models import SystemParameter
from gxcore.app import create_app
from gxcore.config import Settings
from gxcore.cqrs.models import OutboxCommand
from gxcore.db.tenancy import Database
from tests import test_registration
from tests.test_money_api import Loop, loop  # noqa: F401  (the fixture, for this module too)
from tests.test_registration import Clock, Mailbox, assert_problem, client_at, post, register, wrong

# The registration tests' fixtures: reference data, clock, mailbox, settings.
countries, clock, mail, settings = (
    test_registration.countries,
    test_registration.clock,
    test_registration.mail,
    test_registration.settings,
)


async def set_parameters(db: Database, tenant: str, **values: int) -> None:
    async with db.system(reason="test setup: limits") as session:
        for key, value in values.items():
            found = await session.execute(
                update(SystemParameter)
                .where(SystemParameter.tenant_id == tenant, SystemParameter.param_key == key)
                .values(param_value=str(value))
            )
            if not found.rowcount:  # type: ignore[attr-defined]
                session.add(SystemParameter(tenant_id=tenant, param_key=key, param_value=str(value)))  # fmt: skip


async def commands(db: Database, tenant: str) -> int:
    async with db.tenant(tenant) as session:
        return await session.scalar(select(func.count()).select_from(OutboxCommand)) or 0


def assert_throttled(response: httpx.Response, code: str, who: str, window: int) -> None:
    body = assert_problem(response, 429, code)
    assert who in body["detail"]
    retry_after = int(response.headers["Retry-After"])
    assert 1 <= retry_after <= window and body["retryAfter"] == retry_after


# --------------------------------------------------------------------------------------------
# Transfers
# --------------------------------------------------------------------------------------------


async def test_transfers_beyond_the_per_account_limit_are_refused_others_still_send(
    loop: Loop,  # noqa: F811
) -> None:
    alice, bob = await loop.user(), await loop.user()
    await set_parameters(loop.db, loop.tenant, transfersPerAccountMinute=2)
    for _ in range(2):
        sent = await loop.send(alice, bob, "1")
        assert sent.status_code == 202, sent.text
    before = await commands(loop.db, loop.tenant), await loop.balance(alice)

    refused = await loop.send(alice, bob, "1")
    assert_throttled(refused, "TRANSFERS_THROTTLED", "this account", 60)
    after = await commands(loop.db, loop.tenant), await loop.balance(alice)
    assert after == before  # nothing queued, nothing held

    other = await loop.send(bob, alice, "1")  # another account is not held back
    assert other.status_code == 202, other.text


async def test_transfers_beyond_the_per_address_limit_are_refused_whatever_the_account(
    loop: Loop,  # noqa: F811
) -> None:
    alice, bob = await loop.user(), await loop.user()
    await set_parameters(
        loop.db, loop.tenant, transfersPerAccountMinute=0, transfersPerAddressMinute=2
    )
    assert (await loop.send(alice, bob, "1")).status_code == 202
    assert (await loop.send(bob, alice, "1")).status_code == 202
    refused = await loop.send(alice, bob, "1")
    assert_throttled(refused, "TRANSFERS_THROTTLED", "this address", 60)


async def test_an_idempotent_replay_is_not_counted_as_a_new_transfer(
    loop: Loop,  # noqa: F811
) -> None:
    alice, bob = await loop.user(), await loop.user()
    await set_parameters(loop.db, loop.tenant, transfersPerAccountMinute=1)
    first = await loop.send(alice, bob, "1", **{"Idempotency-Key": "k-1"})
    again = await loop.send(alice, bob, "1", **{"Idempotency-Key": "k-1"})
    assert first.status_code == again.status_code == 202
    assert again.json() == first.json()
    assert_problem(await loop.send(alice, bob, "1"), 429, "TRANSFERS_THROTTLED")


# --------------------------------------------------------------------------------------------
# OTP checks and resends
# --------------------------------------------------------------------------------------------


async def test_otp_checks_beyond_the_per_address_limit_are_refused_other_addresses_go_on(
    db: Database, settings: Settings, clock: Clock, mail: Mailbox, tenant: str
) -> None:
    await set_parameters(db, tenant, registrationChangesPerAddressHourly=2)
    app = create_app(database=db, settings=settings, clock=clock)
    async with (
        client_at(app, tenant, "203.0.113.7") as here,
        client_at(app, tenant, "198.51.100.2") as there,
    ):
        rid, email = await register(here, mail)
        code = await mail.last_code(email)
        body: dict[str, Any] = {"registrationId": rid, "otp": wrong(code)}
        for _ in range(2):  # each wrong guess is counted, and is a change of the registration
            assert_problem(await post(here, "email/verify", **body), 400, "OTP_INVALID")

        refused = await post(here, "email/verify", **{**body, "otp": code})
        assert_throttled(refused, "REGISTRATION_CHANGES_THROTTLED", "this address", 3600)
        resend = await post(here, "email/resend", registrationId=rid)
        assert_problem(resend, 429, "REGISTRATION_CHANGES_THROTTLED")

        elsewhere = await post(there, "email/verify", **{**body, "otp": code})
        assert elsewhere.status_code == 200, elsewhere.text
