"""Referrals over HTTP: invitations, the cap under concurrency, registration, reward, tenancy."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from sqlalchemy import func, select

from gxcore.audit.models import AuditLog
from gxcore.db.tenancy import Database
from gxcore.enums import AuditEventType, UserProfileStatus
from gxcore.notifications.models import MessageOutbox
from gxcore.referrals.models import Referral, ReferralPoints
from tests import test_auth
from tests.factories import register_tenant
from tests.test_auth import bearer, make_user, set_parameter, signed_in
from tests.test_registration import (
    Mailbox,
    _client,
    advance,
    assert_problem,
    new_email,
    register,
)

app, client, clock, countries, mail, settings = (
    test_auth.app,
    test_auth.client,
    test_auth.clock,
    test_auth.countries,
    test_auth.mail,
    test_auth.settings,
)
INVITED = "You are invited to GX"
REWARDED = "You earned GX referral points"


async def person(
    db: Database, tenant: str, client: httpx.AsyncClient, role: str = "USER"
) -> dict[str, Any]:
    profile = await make_user(db, tenant, status=UserProfileStatus.ACTIVE, role=role)
    tokens = await signed_in(client, profile.email)
    return {"id": profile.profile_id, "email": profile.email, "headers": bearer(tokens)}


async def refer(client: httpx.AsyncClient, who: dict[str, Any], email: Any) -> httpx.Response:
    return await client.post("/referrals", json={"email": email}, headers=who["headers"])


async def rows(db: Database, tenant: str) -> list[Referral]:
    async with db.tenant(tenant) as s:
        return list((await s.scalars(select(Referral).order_by(Referral.created_at))).all())


async def counts(db: Database, tenant: str) -> tuple[int, ...]:
    """Referrals, queued messages and audit entries of the tenant."""
    async with db.system(reason="test: what the tenant holds") as s:
        return tuple(
            [
                await s.scalar(select(func.count()).where(model.tenant_id == tenant)) or 0
                for model in (Referral, MessageOutbox, AuditLog)
            ]
        )


async def invitations(mail: Mailbox, address: str) -> list[dict[str, Any]]:
    return [m for m in await mail.to(address) if m["subject"] == INVITED]


# --------------------------------------------------------------------------------------------
# Inviting
# --------------------------------------------------------------------------------------------


async def test_an_invitation_is_pending_audited_and_mailed_after_commit(
    client: httpx.AsyncClient, db: Database, tenant: str, mail: Mailbox
) -> None:
    ada = await person(db, tenant, client)
    email = new_email()
    response = await refer(client, ada, email.upper())
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["inviteeEmail"], body["status"], body["pointsAwarded"]) == (email, "PENDING", 0)
    assert body["referrerProfileId"] == ada["id"] and body["registeredAt"] is None
    assert "inviteeProfileId" not in body  # the administrators' view only
    [sent] = await invitations(mail, email)
    assert "Ada Lovelace invited you to GX" in sent["text"]
    async with db.tenant(tenant) as s:
        entry = await s.scalar(
            select(AuditLog).where(
                AuditLog.resource_type == "Referral", AuditLog.resource_id == body["referralId"]
            )
        )
    assert entry is not None and entry.event_type is AuditEventType.RECORD_CREATED
    assert entry.actor_profile_id == ada["id"]
    got = await client.get(f"/referrals/{body['referralId']}", headers=ada["headers"])
    assert got.status_code == 200 and got.json() == body


async def test_twenty_parallel_invitations_leave_exactly_ten(
    client: httpx.AsyncClient, db: Database, tenant: str, mail: Mailbox
) -> None:
    ada = await person(db, tenant, client)
    emails = [new_email() for _ in range(20)]
    answers = await asyncio.gather(*(refer(client, ada, e) for e in emails))
    codes = sorted(a.status_code for a in answers)
    assert codes == [201] * 10 + [409] * 10, [a.text for a in answers]
    for refused in (a for a in answers if a.status_code == 409):
        assert_problem(refused, 409, "REFERRAL_LIMIT_REACHED")
    saved = await rows(db, tenant)
    assert len(saved) == 10
    accepted = {a.json()["inviteeEmail"] for a in answers if a.status_code == 201}
    assert {r.invitee_email for r in saved} == accepted
    # Only the accepted invitations were mailed: the refused calls rolled their messages back.
    mailed = [e for e in emails if await invitations(mail, e)]
    assert set(mailed) == accepted
    summary = (await client.get("/referrals/summary", headers=ada["headers"])).json()
    assert summary == {"points": 0, "referrals": 10, "maxReferrals": 10}
    assert_problem(await refer(client, ada, new_email()), 409, "REFERRAL_LIMIT_REACHED")


async def test_the_cap_is_a_system_parameter_and_counts_per_referrer(
    client: httpx.AsyncClient, db: Database, tenant: str
) -> None:
    await set_parameter(db, tenant, "referralMaxPerReferrer", "2")
    ada, bob = await person(db, tenant, client), await person(db, tenant, client)
    for _ in range(2):
        assert (await refer(client, ada, new_email())).status_code == 201
    assert_problem(await refer(client, ada, new_email()), 409, "REFERRAL_LIMIT_REACHED")
    assert (await refer(client, bob, new_email())).status_code == 201


async def test_the_same_address_twice_is_a_duplicate_even_in_parallel(
    client: httpx.AsyncClient, db: Database, tenant: str, mail: Mailbox
) -> None:
    ada, bob = await person(db, tenant, client), await person(db, tenant, client)
    email = new_email()
    first = await refer(client, ada, email)
    again = await refer(client, ada, email.upper())
    problem = assert_problem(again, 409, "REFERRAL_DUPLICATE")
    assert problem["referralId"] == first.json()["referralId"]
    other = new_email()
    racing = await asyncio.gather(*(refer(client, ada, other) for _ in range(5)))
    assert sorted(r.status_code for r in racing) == [201] + [409] * 4
    assert len(await rows(db, tenant)) == 2
    assert len(await invitations(mail, email)) == 1
    # Another user may invite the same address: their own referral.
    assert (await refer(client, bob, email)).status_code == 201


async def test_referring_oneself_is_refused(
    client: httpx.AsyncClient, db: Database, tenant: str
) -> None:
    ada = await person(db, tenant, client)
    before = await counts(db, tenant)
    problem = assert_problem(await refer(client, ada, ada["email"].upper()), 422, "SELF_REFERRAL")
    assert [e["field"] for e in problem["errors"]] == ["email"]
    assert await counts(db, tenant) == before


async def test_a_bad_email_is_a_422_naming_the_field_and_writes_nothing(
    client: httpx.AsyncClient, db: Database, tenant: str
) -> None:
    ada = await person(db, tenant, client)
    before = await counts(db, tenant)
    for bad in ("not-an-email", "", "a@", "@example.com", "x" * 400 + "@example.com", 7, None):
        problem = assert_problem(await refer(client, ada, bad), 422, "VALIDATION_FAILED")
        assert any("email" in e["field"].split(".") for e in problem["errors"]), problem
    extra = await client.post(
        "/referrals", json={"email": new_email(), "points": 100}, headers=ada["headers"]
    )
    assert_problem(extra, 422, "VALIDATION_FAILED")
    assert_problem(
        await client.post("/referrals", json={}, headers=ada["headers"]), 422, "VALIDATION_FAILED"
    )
    assert await counts(db, tenant) == before
    unsigned = await client.post("/referrals", json={"email": new_email()})
    assert unsigned.status_code == 401
    assert await counts(db, tenant) == before


async def test_an_address_with_an_account_answers_like_a_new_one_and_gets_no_mail(
    client: httpx.AsyncClient, db: Database, tenant: str, mail: Mailbox
) -> None:
    ada = await person(db, tenant, client)
    member = await make_user(db, tenant, status=UserProfileStatus.ACTIVE)
    fresh, taken = await refer(client, ada, new_email()), await refer(client, ada, member.email)
    assert (fresh.status_code, taken.status_code) == (201, 201)
    assert taken.json().keys() == fresh.json().keys()
    assert taken.json()["status"] == fresh.json()["status"] == "PENDING"
    assert await invitations(mail, member.email) == []


# --------------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------------


async def test_the_list_pages_newest_first_and_refuses_a_forged_cursor(
    client: httpx.AsyncClient, db: Database, tenant: str, clock: Any
) -> None:
    ada, bob = await person(db, tenant, client), await person(db, tenant, client)
    made = []
    for _ in range(5):
        made.append((await refer(client, ada, new_email())).json()["referralId"])
        clock.advance(seconds=1)
    await refer(client, bob, new_email())
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = (await client.get("/referrals", params=params, headers=ada["headers"])).json()
        seen += [r["referralId"] for r in page["items"]]
        if (cursor := page["nextCursor"]) is None:
            break
    assert seen == made[::-1]
    forged = await client.get("/referrals", params={"cursor": "forged"}, headers=ada["headers"])
    assert_problem(forged, 400, "INVALID_CURSOR")
    for params in ({"limit": 0}, {"limit": 201}, {"status": "LOST"}):
        response = await client.get("/referrals", params=params, headers=ada["headers"])
        assert_problem(response, 422, "VALIDATION_FAILED")
    pending = await client.get("/referrals", params={"status": "REWARDED"}, headers=ada["headers"])
    assert pending.json() == {"items": [], "nextCursor": None, "nextPage": None}


async def test_another_user_of_the_tenant_cannot_read_a_referral(
    client: httpx.AsyncClient, db: Database, tenant: str
) -> None:
    ada, bob = await person(db, tenant, client), await person(db, tenant, client)
    rid = (await refer(client, ada, new_email())).json()["referralId"]
    assert_problem(
        await client.get(f"/referrals/{rid}", headers=bob["headers"]), 404, "REFERRAL_NOT_FOUND"
    )
    assert (await client.get("/referrals", headers=bob["headers"])).json()["items"] == []
    forbidden = await client.get("/admin/referrals", headers=bob["headers"])
    assert forbidden.status_code == 403


async def test_another_tenant_cannot_see_or_touch_a_referral(
    app: Any, client: httpx.AsyncClient, db: Database, tenant: str, mail: Mailbox
) -> None:
    ada = await person(db, tenant, client)
    email = new_email()
    rid = (await refer(client, ada, email)).json()["referralId"]
    before = await rows(db, tenant)
    other = await register_tenant(db, f"{tenant}-b")
    async with _client(app, other) as theirs:
        eve = await person(db, other, theirs)
        boss = await person(db, other, theirs, role="ADMIN")
        for who, path in ((eve, f"/referrals/{rid}"), (boss, f"/admin/referrals/{rid}")):
            assert_problem(
                await theirs.get(path, headers=who["headers"]), 404, "REFERRAL_NOT_FOUND"
            )
        for who, path in ((eve, "/referrals"), (boss, "/admin/referrals")):
            assert (await theirs.get(path, headers=who["headers"])).json()["items"] == []
        # Uniqueness is per tenant: the same address is free to invite there, and ada's
        # own address is no self-referral of eve's.
        assert (await refer(theirs, eve, email)).status_code == 201
        assert (await refer(theirs, eve, ada["email"])).status_code == 201
        # ada's token is no key to the other tenant.
        assert (await theirs.get("/referrals", headers=ada["headers"])).status_code == 401
    assert [(r.referral_id, r.status) for r in await rows(db, tenant)] == [
        (r.referral_id, r.status) for r in before
    ]
    assert len(await rows(db, other)) == 2


# --------------------------------------------------------------------------------------------
# Registration and reward
# --------------------------------------------------------------------------------------------


async def _register_invited(
    client: httpx.AsyncClient, mail: Mailbox, referrers: list[dict[str, Any]], clock: Any = None
) -> tuple[str, list[str]]:
    """A registration through the real OTP flow, invited by each of `referrers` before it
    completes; (the new profile's id, the referral ids in the order given)."""
    rid, email = await register(client, mail, until="phone")
    referral_ids = []
    for who in referrers:
        response = await refer(client, who, email)
        assert response.status_code == 201, response.text
        referral_ids.append(response.json()["referralId"])
        if clock is not None:
            clock.advance(seconds=1)  # one invitation plainly earlier than the next
    done = await advance(client, mail, rid, email, "phone/verify")
    assert done.status_code == 200 and done.json()["currentStep"] == "COMPLETED", done.text
    return done.json()["profileId"], referral_ids


async def test_the_invitee_registering_through_the_otp_flow_marks_it_registered(
    client: httpx.AsyncClient, db: Database, tenant: str, mail: Mailbox
) -> None:
    ada = await person(db, tenant, client)
    boss = await person(db, tenant, client, role="ADMIN")
    newcomer, [rid] = await _register_invited(client, mail, [ada])
    got = (await client.get(f"/referrals/{rid}", headers=ada["headers"])).json()
    assert got["status"] == "REGISTERED" and got["registeredAt"] is not None
    assert got["pointsAwarded"] == 0 and got["rewardedAt"] is None
    seen = (await client.get(f"/admin/referrals/{rid}", headers=boss["headers"])).json()
    assert seen["inviteeProfileId"] == newcomer
    listed = await client.get(
        "/admin/referrals", params={"status": "REGISTERED"}, headers=boss["headers"]
    )
    assert [r["referralId"] for r in listed.json()["items"]] == [rid]


async def test_the_earliest_invitation_of_an_address_wins_its_registration(
    client: httpx.AsyncClient, db: Database, tenant: str, mail: Mailbox, clock: Any
) -> None:
    ada, bob = await person(db, tenant, client), await person(db, tenant, client)
    _, [first, second] = await _register_invited(client, mail, [ada, bob], clock)
    assert (await client.get(f"/referrals/{first}", headers=ada["headers"])).json()[
        "status"
    ] == "REGISTERED"
    assert (await client.get(f"/referrals/{second}", headers=bob["headers"])).json()[
        "status"
    ] == "PENDING"


async def test_approving_the_invitee_rewards_the_referrer_with_the_parameter_amount(
    client: httpx.AsyncClient, db: Database, tenant: str, mail: Mailbox
) -> None:
    await set_parameter(db, tenant, "referralRewardPoints", "25")
    ada = await person(db, tenant, client)
    boss = await person(db, tenant, client, role="ADMIN")
    newcomer, [rid] = await _register_invited(client, mail, [ada])
    approve = f"/admin/users/{newcomer}/approve"
    for _ in range(2):  # approving again answers as before and rewards nothing more
        response = await client.post(approve, headers=boss["headers"])
        assert response.status_code == 200, response.text
    got = (await client.get(f"/referrals/{rid}", headers=ada["headers"])).json()
    assert (got["status"], got["pointsAwarded"]) == ("REWARDED", 25)
    assert got["rewardedAt"] is not None
    summary = (await client.get("/referrals/summary", headers=ada["headers"])).json()
    assert summary["points"] == 25
    [notice] = [m for m in await mail.to(ada["email"]) if m["subject"] == REWARDED]
    assert "25 referral points" in notice["text"]
    async with db.tenant(tenant) as s:
        balance = await s.get(ReferralPoints, (tenant, ada["id"]))
        assert balance is not None and balance.points == 25
        changes = (
            await s.scalars(
                select(AuditLog)
                .where(
                    AuditLog.resource_type == "Referral",
                    AuditLog.resource_id == rid,
                    AuditLog.event_type == AuditEventType.RECORD_UPDATED,
                )
                .order_by(AuditLog.append_seq)
            )
        ).all()
    assert [c.new_value["status"] for c in changes] == ["REGISTERED", "REWARDED"]
    assert changes[-1].actor_profile_id == boss["id"]


async def test_an_approval_without_a_referral_rewards_nobody(
    client: httpx.AsyncClient, db: Database, tenant: str
) -> None:
    ada = await person(db, tenant, client)
    boss = await person(db, tenant, client, role="ADMIN")
    await refer(client, ada, new_email())
    stranger = await make_user(db, tenant)
    response = await client.post(
        f"/admin/users/{stranger.profile_id}/approve", headers=boss["headers"]
    )
    assert response.status_code == 200, response.text
    [row] = await rows(db, tenant)
    assert row.status == "PENDING" and row.points_awarded == 0
    async with db.tenant(tenant) as s:
        assert await s.scalar(select(func.count()).select_from(ReferralPoints)) == 0
