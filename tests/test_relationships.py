"""Relationships over HTTP: invitations, answers, markings, and the trust score they write.

Scores are checked with their arithmetic (defaults: FATHER 30, MOTHER 30, SPOUSE 25, CHILD 10,
SIBLING 15; family cap 80, so the full potential P is 110; friends 1 each, capped at 10).
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from sqlalchemy import select

from gxcore.db.tenancy import Database
from gxcore.enums import AuditEventType, NotificationType, UserProfileStatus
from gxcore.notifications.models import Notification
from gxcore.trust import scores
from gxcore.trust.models import FamilyRelationship, TrustScore
from tests import test_auth
from tests.factories import register_tenant
from tests.test_auth import bearer, events, load, make_user, set_parameter, signed_in
from tests.test_registration import Clock, Mailbox, _client, advance, assert_problem, register

app, client, clock, countries, mail, settings = (
    test_auth.app,
    test_auth.client,
    test_auth.clock,
    test_auth.countries,
    test_auth.mail,
    test_auth.settings,
)
Event = AuditEventType
DOCUMENT = {"documentHash": "ab" * 32, "documentUrl": "https://docs.example.com/certificate.pdf"}


async def person(
    db: Database, tenant: str, client: httpx.AsyncClient, gender: str = "FEMALE"
) -> dict[str, Any]:
    profile = await make_user(db, tenant, status=UserProfileStatus.ACTIVE, gender=gender)
    tokens = await signed_in(client, profile.email)
    return {"id": profile.profile_id, "email": profile.email, "headers": bearer(tokens)}


async def invite(
    client: httpx.AsyncClient, who: dict[str, Any], whom: dict[str, Any], kind: str
) -> httpx.Response:
    return await client.post(
        "/relationships",
        json={"relationType": kind, "relatedProfileId": whom["id"]},
        headers=who["headers"],
    )


async def answer(
    client: httpx.AsyncClient, who: dict[str, Any], relationship_id: str, verb: str = "confirm"
) -> httpx.Response:
    return await client.post(f"/relationships/{relationship_id}/{verb}", headers=who["headers"])


async def related(
    client: httpx.AsyncClient, who: dict[str, Any], whom: dict[str, Any], kind: str
) -> str:
    """`whom` is `who`'s `kind`, confirmed; returns the relationship's id."""
    invited = await invite(client, who, whom, kind)
    assert invited.status_code == 201, invited.text
    rid: str = invited.json()["relationshipId"]
    confirmed = await answer(client, whom, rid)
    assert confirmed.status_code == 200, confirmed.text
    return rid


async def mark_type(client: httpx.AsyncClient, who: dict[str, Any], *kinds: str) -> None:
    for kind in kinds:
        marked = await client.post(
            "/relationships/markings",
            json={"relationType": kind, "status": "NOT_APPLICABLE"},
            headers=who["headers"],
        )
        assert marked.status_code == 201, marked.text


async def trust(client: httpx.AsyncClient, who: dict[str, Any]) -> dict[str, Any]:
    got = await client.get("/relationships/trust-score", headers=who["headers"])
    assert got.status_code == 200, got.text
    body: dict[str, Any] = got.json()
    return body


async def consistent(db: Database, tenant: str) -> None:
    """Every stored score equals the rule applied to the relationships (`gx trust rebuild
    --check` finds nothing)."""
    async with db.tenant(tenant) as session:
        assert await scores.rebuild(session, now=Clock().now, write=False) == []


# --------------------------------------------------------------------------------------------


async def test_the_invited_side_confirms_and_both_sides_see_one_relationship_and_are_scored(
    db: Database, tenant: str, client: httpx.AsyncClient
) -> None:
    child, father = await person(db, tenant, client), await person(db, tenant, client, "MALE")
    invited = await invite(client, child, father, "FATHER")
    assert invited.status_code == 201, invited.text
    rid = invited.json()["relationshipId"]
    assert invited.json()["direction"] == "SENT" and invited.json()["status"] == "PENDING"

    seen = await client.get(f"/relationships/{rid}", headers=father["headers"])
    assert seen.json()["relationType"] == "CHILD" and seen.json()["direction"] == "RECEIVED"
    assert seen.json()["otherProfileId"] == child["id"]
    assert_problem(await answer(client, child, rid), 403, "NOT_INVITED_SIDE")

    confirmed = await answer(client, father, rid)
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["status"] == "CONFIRMED" and confirmed.json()["relationType"] == "CHILD"
    again = await answer(client, father, rid)  # a retry is answered as it is
    assert again.json()["confirmedAt"] == confirmed.json()["confirmedAt"]

    # The child: a father, 30 of P = 110, unscaled. The father: a child, 10.
    mine, his = await trust(client, child), await trust(client, father)
    assert (mine["familyScore"], mine["totalScore"], mine["calculationVersion"]) == (30, 30, "2.0")
    assert (his["familyScore"], his["totalScore"]) == (10, 10)
    assert (mine["familyWeight"], mine["businessWeight"], mine["friendsWeight"]) == (
        "0.80",
        "0.10",
        "0.10",
    )
    listed = await client.get("/relationships", headers=father["headers"])
    assert [r["relationshipId"] for r in listed.json()["items"]] == [rid]

    kinds = [e.event_type for e in await events(db, tenant, Event.RELATIONSHIP_INVITED,
                                                 Event.RELATIONSHIP_CONFIRMED)]  # fmt: skip
    assert kinds == [Event.RELATIONSHIP_INVITED, Event.RELATIONSHIP_CONFIRMED]
    async with db.tenant(tenant) as s:
        told = (await s.execute(select(Notification.recipient_id, Notification.type))).all()
    assert set(told) == {
        (father["id"], NotificationType.RELATIONSHIP_INVITATION),
        (child["id"], NotificationType.RELATIONSHIP_CONFIRMED),
    }
    await consistent(db, tenant)


async def test_rules_on_pairs_slots_and_who_may_act(
    db: Database, tenant: str, client: httpx.AsyncClient
) -> None:
    ada, bob = await person(db, tenant, client), await person(db, tenant, client, "MALE")
    cid, mallory = await person(db, tenant, client, "MALE"), await person(db, tenant, client)
    assert_problem(await invite(client, ada, ada, "FRIEND"), 422, "SELF_RELATIONSHIP")
    assert_problem(
        await invite(client, ada, {"id": "no-such-user"}, "FRIEND"), 404, "USER_NOT_FOUND"
    )

    friends = await invite(client, ada, bob, "FRIEND")
    assert friends.status_code == 201
    # The same pair and type, from either side, is one relationship.
    assert_problem(await invite(client, ada, bob, "FRIEND"), 409, "RELATIONSHIP_EXISTS")
    assert_problem(await invite(client, bob, ada, "FRIEND"), 409, "RELATIONSHIP_EXISTS")
    await related(client, ada, bob, "FATHER")
    # Bob is Ada's father: Bob saying Ada is his child is the same relationship.
    assert_problem(await invite(client, bob, ada, "CHILD"), 409, "RELATIONSHIP_EXISTS")
    # A second father for Ada: the invitation may wait, the confirmation is refused.
    second = await invite(client, ada, cid, "FATHER")
    assert second.status_code == 201
    refused = await answer(client, cid, second.json()["relationshipId"])
    assert_problem(refused, 409, "RELATION_SLOT_TAKEN")
    # Nor may Dan become her father from his side (Ada is his child, and he is male).
    dan = await person(db, tenant, client, "MALE")
    third = await invite(client, dan, ada, "CHILD")
    assert_problem(await answer(client, ada, third.json()["relationshipId"]), 409,
                   "RELATION_SLOT_TAKEN")  # fmt: skip

    # Someone else's relationship does not exist for Mallory.
    rid = friends.json()["relationshipId"]
    for verb in ("confirm", "reject"):
        assert_problem(await answer(client, mallory, rid, verb), 404, "RELATIONSHIP_NOT_FOUND")
    got = await client.get(f"/relationships/{rid}", headers=mallory["headers"])
    assert_problem(got, 404, "RELATIONSHIP_NOT_FOUND")
    gone = await client.delete(f"/relationships/{rid}", headers=mallory["headers"])
    assert_problem(gone, 404, "RELATIONSHIP_NOT_FOUND")

    # Invited by the address of an existing user: theirs at once, not said to the inviter.
    by_mail = await client.post(
        "/relationships",
        json={"relationType": "SIBLING", "relatedEmail": mallory["email"]},
        headers=ada["headers"],
    )
    assert by_mail.status_code == 201 and by_mail.json()["otherProfileId"] is None
    row = await load(db, tenant, FamilyRelationship, by_mail.json()["relationshipId"])
    assert row.related_profile_id == mallory["id"]
    assert (await answer(client, mallory, row.relationship_id)).status_code == 200
    await consistent(db, tenant)


async def test_a_rejected_inviter_may_invite_again_only_after_the_cooldown(
    db: Database, tenant: str, client: httpx.AsyncClient, clock: Clock
) -> None:
    await set_parameter(db, tenant, "relationshipReinviteCooldownDays", "2")
    ada, bob = await person(db, tenant, client), await person(db, tenant, client)
    first = await invite(client, ada, bob, "SIBLING")
    rejected = await answer(client, bob, first.json()["relationshipId"], "reject")
    assert rejected.status_code == 200 and rejected.json()["status"] == "REJECTED"
    assert_problem(await answer(client, bob, first.json()["relationshipId"]), 409,
                   "INVALID_TRANSITION")  # fmt: skip

    # Nor as another type: the pair is on hold. The other side may still invite.
    for kind in ("SIBLING", "FRIEND"):
        refused = assert_problem(await invite(client, ada, bob, kind), 429, "REINVITE_TOO_SOON")
        assert 0 < refused["retryAfter"] <= 2 * 86400
    assert (await invite(client, bob, ada, "FRIEND")).status_code == 201

    clock.advance(days=2, seconds=1)
    ada["headers"] = bearer(await signed_in(client, ada["email"]))  # the old token expired
    again = await invite(client, ada, bob, "SIBLING")
    assert again.status_code == 201, again.text
    async with db.tenant(tenant) as s:  # the rejected row gave its place to the new one
        statuses = (await s.scalars(select(FamilyRelationship.status))).all()
    assert sorted(statuses) == ["PENDING", "PENDING"]
    kinds = [e.event_type for e in await events(db, tenant, Event.RELATIONSHIP_REJECTED)]
    assert kinds == [Event.RELATIONSHIP_REJECTED]


async def test_an_email_invitation_attaches_itself_when_the_address_registers(
    db: Database, tenant: str, client: httpx.AsyncClient, mail: Mailbox
) -> None:
    ada = await person(db, tenant, client)
    rid, email = await register(client, mail, until="phone")
    invited = await client.post(
        "/relationships",
        json={"relationType": "SPOUSE", "relatedEmail": email.upper()},
        headers=ada["headers"],
    )
    assert invited.status_code == 201, invited.text
    assert invited.json()["relatedEmail"] == email and invited.json()["otherProfileId"] is None
    assert "invited you to GX as their spouse" in (await mail.to(email))[-1]["text"]

    done = await advance(client, mail, rid, email, "phone/verify")
    assert done.status_code == 200, done.text
    newcomer = done.json()["profileId"]
    row = await load(db, tenant, FamilyRelationship, invited.json()["relationshipId"])
    assert row.related_profile_id == newcomer and row.status == "PENDING"
    async with db.tenant(tenant) as s:
        told = (await s.scalars(select(Notification.type).where(
            Notification.recipient_id == newcomer))).all()  # fmt: skip
        scored = await s.get(TrustScore, newcomer)
    assert told == [NotificationType.RELATIONSHIP_INVITATION] and scored is not None

    bride = {"id": newcomer, "headers": bearer(await signed_in(client, email))}
    confirmed = await answer(client, bride, invited.json()["relationshipId"])
    assert confirmed.status_code == 200, confirmed.text
    assert (await trust(client, ada))["familyScore"] == 25
    assert (await trust(client, bride))["familyScore"] == 25
    await consistent(db, tenant)


async def test_every_slot_applicable_and_confirmed_is_capped_at_80(
    db: Database, tenant: str, client: httpx.AsyncClient
) -> None:
    # 30 + 30 + 25 + 10 + 15 = 110, capped at 80.
    full = await person(db, tenant, client, "MALE")
    for kind, gender in (("FATHER", "MALE"), ("MOTHER", "FEMALE"), ("SPOUSE", "FEMALE"),
                         ("CHILD", "MALE"), ("SIBLING", "FEMALE")):  # fmt: skip
        await related(client, full, await person(db, tenant, client, gender), kind)
    assert (await trust(client, full))["familyScore"] == 80
    await consistent(db, tenant)


async def test_only_parents_applicable_each_parent_is_worth_40(
    db: Database, tenant: str, client: httpx.AsyncClient
) -> None:
    # P = 30 + 30 = 60 < 80: each parent is worth 30 * 80 / 60 = 40.
    only = await person(db, tenant, client)
    await mark_type(client, only, "SPOUSE", "CHILD", "SIBLING")
    await related(client, only, await person(db, tenant, client, "MALE"), "FATHER")
    assert (await trust(client, only))["familyScore"] == 40
    await related(client, only, await person(db, tenant, client), "MOTHER")
    assert (await trust(client, only))["totalScore"] == 80
    await consistent(db, tenant)


async def test_an_orphan_with_one_sibling_and_nothing_else_applicable_reaches_80(
    db: Database, tenant: str, client: httpx.AsyncClient
) -> None:
    # Father, mother, spouse, child not applicable: P = 15, and 15 * 80 / 15 = 80.
    orphan = await person(db, tenant, client)
    await mark_type(client, orphan, "FATHER", "MOTHER", "SPOUSE", "CHILD")
    await related(client, orphan, await person(db, tenant, client), "SIBLING")
    assert (await trust(client, orphan))["familyScore"] == 80
    await consistent(db, tenant)


async def test_friends_beyond_10_count_10(
    db: Database, tenant: str, client: httpx.AsyncClient
) -> None:
    # Eleven confirmed friends, 1 point each: 11, capped at 10.
    social = await person(db, tenant, client)
    for _ in range(11):
        await related(client, social, await person(db, tenant, client), "FRIEND")
    got = await trust(client, social)
    assert (got["friendsScore"], got["totalScore"]) == (10, 10)
    await consistent(db, tenant)


async def test_a_deceased_father_and_a_divorce_drop_their_slots_with_a_document(
    db: Database, tenant: str, client: httpx.AsyncClient
) -> None:
    ada, dad = await person(db, tenant, client), await person(db, tenant, client, "MALE")
    ex, mum = await person(db, tenant, client, "MALE"), await person(db, tenant, client)
    dad_rid = await related(client, ada, dad, "FATHER")
    ex_rid = await related(client, ada, ex, "SPOUSE")
    await related(client, ada, mum, "MOTHER")
    assert (await trust(client, ada))["familyScore"] == 80  # 30 + 25 + 30 = 85, capped

    # A spouse is divorced with a document only; a father cannot be divorced.
    bare = await client.post(f"/relationships/{ex_rid}/mark", json={"status": "DIVORCED"},
                             headers=ada["headers"])  # fmt: skip
    assert_problem(bare, 422, "VALIDATION_FAILED")
    wrong = await client.post(f"/relationships/{dad_rid}/mark",
                              json={"status": "DIVORCED", **DOCUMENT}, headers=ada["headers"])  # fmt: skip
    assert_problem(wrong, 422, "VALIDATION_FAILED")
    divorced = await client.post(f"/relationships/{ex_rid}/mark",
                                 json={"status": "DIVORCED", **DOCUMENT}, headers=ex["headers"])  # fmt: skip
    assert divorced.status_code == 200, divorced.text
    assert divorced.json()["statusDocumentHash"] == DOCUMENT["documentHash"]
    # Spouse slot gone: P = 30 + 30 + 10 + 15 = 85 >= 80, C = 60.
    assert (await trust(client, ada))["familyScore"] == 60
    assert (await trust(client, ex))["familyScore"] == 0

    deceased = await client.post(f"/relationships/{dad_rid}/mark",
                                 json={"status": "DECEASED", **DOCUMENT}, headers=ada["headers"])  # fmt: skip
    assert deceased.status_code == 200, deceased.text
    # Father gone too: P = 30 + 10 + 15 = 55 < 80; C = 30 (mother): 30 * 80 / 55 = 43.6 -> 44.
    assert (await trust(client, ada))["familyScore"] == 44

    # Either side removes; the other side is told, the scores follow.
    removed = await client.delete(f"/relationships/{ex_rid}", headers=ex["headers"])
    assert removed.status_code == 204, removed.text
    assert_problem(await client.get(f"/relationships/{ex_rid}", headers=ada["headers"]), 404,
                   "RELATIONSHIP_NOT_FOUND")  # fmt: skip
    async with db.tenant(tenant) as s:
        told = (await s.scalars(select(Notification.type).where(
            Notification.recipient_id == ada["id"]))).all()  # fmt: skip
    assert told.count(NotificationType.RELATIONSHIP_UPDATED) == 2  # the divorce, the removal
    deleted = await events(db, tenant, Event.RECORD_DELETED)
    assert [(e.resource_type, e.resource_id) for e in deleted] == [("FamilyRelationship", ex_rid)]
    await consistent(db, tenant)


async def test_concurrent_confirmations_leave_one_consistent_score(
    db: Database, tenant: str, client: httpx.AsyncClient
) -> None:
    ada = await person(db, tenant, client)
    fathers = [await person(db, tenant, client, "MALE") for _ in range(3)]
    friends = [await person(db, tenant, client) for _ in range(6)]
    pending = []
    for who, kind in [(f, "FATHER") for f in fathers] + [(f, "FRIEND") for f in friends]:
        invited = await invite(client, ada, who, kind)
        assert invited.status_code == 201, invited.text
        pending.append((who, invited.json()["relationshipId"]))

    answers = await asyncio.gather(*(answer(client, who, rid) for who, rid in pending))
    codes = sorted(a.status_code for a in answers)
    assert codes == [200] * 7 + [409] * 2, [a.text for a in answers]  # one father only
    got = await trust(client, ada)
    # One father (30, unscaled) and six friends (6).
    assert (got["familyScore"], got["friendsScore"], got["totalScore"]) == (30, 6, 36)
    await consistent(db, tenant)


async def test_a_user_of_another_tenant_cannot_see_or_answer_an_invitation(
    app: Any, db: Database, tenant: str, client: httpx.AsyncClient
) -> None:
    ada, bob = await person(db, tenant, client), await person(db, tenant, client)
    rid = (await invite(client, ada, bob, "FRIEND")).json()["relationshipId"]
    other = await register_tenant(db, f"{tenant}-b")
    async with _client(app, other) as theirs:
        eve = await person(db, other, theirs)
        for verb in ("confirm", "reject"):
            assert_problem(await answer(theirs, eve, rid, verb), 404, "RELATIONSHIP_NOT_FOUND")
        got = await theirs.get(f"/relationships/{rid}", headers=eve["headers"])
        assert_problem(got, 404, "RELATIONSHIP_NOT_FOUND")
        assert (await theirs.get("/relationships", headers=eve["headers"])).json()["items"] == []
        assert_problem(await invite(theirs, eve, bob, "FRIEND"), 404, "USER_NOT_FOUND")
    row = await load(db, tenant, FamilyRelationship, rid)
    assert row.status == "PENDING"


async def test_crossing_invitations_of_one_pair_make_one_relationship(
    db: Database, tenant: str, client: httpx.AsyncClient
) -> None:
    ada, bob = await person(db, tenant, client), await person(db, tenant, client, "MALE")
    for kinds in (("FRIEND", "FRIEND"), ("FATHER", "CHILD")):  # the same relationship each time
        crossing = await asyncio.gather(
            invite(client, ada, bob, kinds[0]), invite(client, bob, ada, kinds[1])
        )
        codes = sorted(r.status_code for r in crossing)
        assert codes == [201, 409], [r.text for r in crossing]
    async with db.tenant(tenant) as s:
        assert len((await s.scalars(select(FamilyRelationship))).all()) == 2
