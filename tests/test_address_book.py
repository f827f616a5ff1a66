"""Beneficiaries and contacts over HTTP: a user's own, with favourites and blocking."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from gxcore.db.tenancy import Database
from gxcore.enums import AuditEventType, UserProfileStatus
from tests import test_auth
from tests.test_auth import bearer, events, make_user, signed_in
from tests.test_money_api import Loop, loop  # noqa: F401  (the whole money loop, for blocking)
from tests.test_registration import assert_problem

app, client, clock, countries, settings = (
    test_auth.app,
    test_auth.client,
    test_auth.clock,
    test_auth.countries,
    test_auth.settings,
)


@pytest.fixture
async def people(client: httpx.AsyncClient, db: Database, tenant: str) -> dict[str, Any]:
    users = [await make_user(db, tenant, status=UserProfileStatus.ACTIVE) for _ in range(3)]
    return {
        name: {"id": u.profile_id, "headers": bearer(await signed_in(client, u.email))}
        for name, u in zip(("ann", "ben", "cat"), users, strict=True)
    }


async def test_beneficiaries_are_added_renamed_listed_and_removed_by_their_owner(
    client: httpx.AsyncClient, db: Database, tenant: str, people: dict[str, Any]
) -> None:
    ann, ben, cat = people["ann"], people["ben"], people["cat"]
    made = await client.post(
        "/beneficiaries",
        json={"beneficiaryIdentityId": ben["id"], "nickname": "Ben"},
        headers=ann["headers"],
    )
    assert made.status_code == 201, made.text
    bid = made.json()["beneficiaryId"]
    twice = await client.post(
        "/beneficiaries",
        json={"beneficiaryIdentityId": ben["id"], "nickname": "B"},
        headers=ann["headers"],
    )
    assert_problem(twice, 409, "ALREADY_EXISTS")
    nobody = await client.post(
        "/beneficiaries",
        json={"beneficiaryIdentityId": "nobody", "nickname": "N"},
        headers=ann["headers"],
    )
    assert_problem(nobody, 404, "USER_NOT_FOUND")
    renamed = await client.put(
        f"/beneficiaries/{bid}", json={"nickname": "Benjamin"}, headers=ann["headers"]
    )
    assert renamed.json()["nickname"] == "Benjamin"
    assert (await client.get("/beneficiaries", headers=cat["headers"])).json()["items"] == []
    theirs = await client.delete(f"/beneficiaries/{bid}", headers=cat["headers"])
    assert_problem(theirs, 404, "BENEFICIARY_NOT_FOUND")
    assert (await client.delete(f"/beneficiaries/{bid}", headers=ann["headers"])).status_code == 204
    assert (await client.get("/beneficiaries", headers=ann["headers"])).json()["items"] == []
    kinds = [e.event_type for e in await events(db, tenant)]
    assert AuditEventType.BENEFICIARY_ADDED in kinds and AuditEventType.BENEFICIARY_REMOVED in kinds


async def test_contacts_list_favourites_first_and_filter_by_status(
    client: httpx.AsyncClient, people: dict[str, Any]
) -> None:
    ann, ben, cat = people["ann"], people["ben"], people["cat"]
    for name, profile, favourite in (("Zed", ben["id"], True), ("Amy", cat["id"], False)):
        made = await client.post(
            "/contacts",
            json={"displayName": name, "contactProfileId": profile, "isFavorite": favourite},
            headers=ann["headers"],
        )
        assert made.status_code == 201, made.text
    listed = (await client.get("/contacts", headers=ann["headers"])).json()["items"]
    assert [c["displayName"] for c in listed] == ["Zed", "Amy"]
    # Mixed directions (favourites first, names ascending) page by cursor all the same.
    first = (await client.get("/contacts", params={"limit": 1}, headers=ann["headers"])).json()
    rest = await client.get(
        "/contacts", params={"limit": 1, "cursor": first["nextCursor"]}, headers=ann["headers"]
    )
    assert [c["displayName"] for c in first["items"] + rest.json()["items"]] == ["Zed", "Amy"]
    assert rest.json()["nextCursor"] is None
    amy = listed[1]["contactId"]
    blocked = await client.patch(
        f"/contacts/{amy}", json={"status": "BLOCKED"}, headers=ann["headers"]
    )
    assert blocked.json()["status"] == "BLOCKED" and blocked.json()["displayName"] == "Amy"
    only = await client.get("/contacts", params={"status": "BLOCKED"}, headers=ann["headers"])
    assert [c["contactId"] for c in only.json()["items"]] == [amy]
    assert_problem(
        await client.patch(f"/contacts/{amy}", json={"notes": "x"}, headers=ben["headers"]),
        404,
        "CONTACT_NOT_FOUND",
    )


async def test_a_blocked_sender_cannot_pay_and_a_transfer_counts_on_the_contact(
    loop: Loop,  # noqa: F811
) -> None:
    ann, ben = await loop.user(), await loop.user()
    made = await loop.client.post(
        "/contacts",
        json={"displayName": "Ben", "contactProfileId": ben["id"]},
        headers=ann["headers"],
    )
    contact = made.json()["contactId"]
    assert (await loop.send(ann, ben, "5")).status_code == 202
    counted = (await loop.client.get("/contacts", headers=ann["headers"])).json()["items"][0]
    assert counted["transactionCount"] == 1 and counted["lastTransactionAt"]
    await loop.client.patch(
        f"/contacts/{contact}", json={"status": "BLOCKED"}, headers=ann["headers"]
    )
    assert_problem(await loop.send(ben, ann, "1"), 409, "CONTACT_BLOCKED")
    assert (await loop.send(ann, ben, "1")).status_code == 202  # blocking is one way
