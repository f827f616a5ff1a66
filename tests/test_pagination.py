"""gxcore.db.pages: keyset and offset pages, tamper-checked cursors, bounded sizes; and the same
over HTTP on a list endpoint."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from gxcore.db import pages
from gxcore.db.tenancy import Database
from gxcore.enums import UserProfileStatus
from gxcore.errors import InvalidCursor, ValidationFailed
from gxcore.identity.models import UserProfile
from tests import test_auth
from tests.test_admin import boss
from tests.test_auth import make_user
from tests.test_registration import assert_problem

app, client, clock, settings = test_auth.app, test_auth.client, test_auth.clock, test_auth.settings
countries = test_auth.countries  # profiles name a nationality
__all__ = ["app", "boss", "client", "clock", "countries", "settings"]

CURSORS = pages.Cursors.from_secret(b"a test secret of at least 32 chars!!")
LIST = "tenant\n/things"
AT = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
OLDEST = pages.Order.oldest_first(UserProfile.created_at, UserProfile.profile_id)
#: Mixed directions: newest instant first, ids ascending within one instant.
MIXED = pages.Order(((UserProfile.created_at, True), (UserProfile.profile_id, False)))


def ask(**kwargs: Any) -> pages.PageRequest:
    return pages.PageRequest(CURSORS, LIST, **kwargs)


async def add_profiles(db: Database, tenant: str, *moments: datetime) -> list[str]:
    return [(await make_user(db, tenant, created_at=m)).profile_id for m in moments]


async def positions(db: Database, tenant: str, order: pages.Order) -> list[tuple[datetime, str]]:
    """Every profile's (createdAt, profileId), in `order`, straight from the table."""
    async with db.tenant(tenant) as session:
        query = select(UserProfile.created_at, UserProfile.profile_id).order_by(*order.by())
        return [(r.created_at, r.profile_id) for r in (await session.execute(query)).all()]


async def walk(
    db: Database, tenant: str, order: pages.Order, *, limit: int, between: Any = None
) -> list[tuple[datetime, str]]:
    """Every page by cursor, each in its own transaction, calling `between()` after each."""
    seen: list[tuple[datetime, str]] = []
    cursor = None
    while True:
        async with db.tenant(tenant) as session:
            query = select(UserProfile.created_at, UserProfile.profile_id)
            found = await pages.fetch(session, query, order, ask(limit=limit, cursor=cursor))
        assert len(found.rows) <= limit and found.next_page is None
        seen += [(r.created_at, r.profile_id) for r in found.rows]
        if (cursor := found.next_cursor) is None:
            return seen
        if between is not None:
            await between()


# --------------------------------------------------------------------------------------------
# Keyset pages
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("order", [OLDEST, MIXED], ids=["one-direction", "mixed-directions"])
async def test_walking_every_page_yields_each_row_once_in_order(
    db: Database, tenant: str, order: pages.Order
) -> None:
    moments = [AT - timedelta(minutes=1), *[AT] * 5, AT + timedelta(minutes=1)]
    await add_profiles(db, tenant, *moments)
    expected = await positions(db, tenant, order)
    for limit in (1, 2, 3, 7, 50):
        assert await walk(db, tenant, order, limit=limit) == expected


@pytest.mark.parametrize("order", [OLDEST, MIXED], ids=["one-direction", "mixed-directions"])
async def test_rows_inserted_between_pages_at_the_same_instant_never_repeat_or_hide_others(
    db: Database, tenant: str, order: pages.Order
) -> None:
    await add_profiles(db, tenant, *[AT] * 6, AT + timedelta(seconds=1))
    before = await positions(db, tenant, order)

    async def insert_at_the_same_instant() -> None:
        await add_profiles(db, tenant, AT, AT)

    seen = await walk(db, tenant, order, limit=2, between=insert_at_the_same_instant)
    assert len(seen) == len(set(seen)), "a row came twice"
    assert set(before) <= set(seen), "a row that was there from the start was skipped"
    after = await positions(db, tenant, order)
    assert seen == [p for p in after if p in set(seen)], "out of order"


async def test_a_select_of_an_entity_pages_its_objects(db: Database, tenant: str) -> None:
    ids = await add_profiles(db, tenant, AT, AT + timedelta(seconds=1), AT + timedelta(seconds=2))
    async with db.tenant(tenant) as session:
        first = await pages.fetch_scalars(session, select(UserProfile), OLDEST, ask(limit=2))
        assert [p.profile_id for p in first.rows] == ids[:2] and first.next_cursor
        rest = await pages.fetch_scalars(
            session, select(UserProfile), OLDEST, ask(limit=2, cursor=first.next_cursor)
        )
    assert [p.profile_id for p in rest.rows] == ids[2:] and rest.next_cursor is None


# --------------------------------------------------------------------------------------------
# Offset pages
# --------------------------------------------------------------------------------------------


async def test_offset_pages_are_the_ordering_cut_by_page_number(db: Database, tenant: str) -> None:
    await add_profiles(db, tenant, *(AT + timedelta(seconds=i % 3) for i in range(8)))
    expected = await positions(db, tenant, OLDEST)
    query = select(UserProfile.created_at, UserProfile.profile_id)
    async with db.tenant(tenant) as session:
        got = [
            await pages.fetch(session, query, OLDEST, ask(limit=3, page=n)) for n in (1, 2, 3, 4)
        ]
    assert [[(r.created_at, r.profile_id) for r in g.rows] for g in got] == [
        expected[0:3],
        expected[3:6],
        expected[6:8],
        [],
    ]
    assert [g.next_page for g in got] == [2, 3, None, None]
    # An offset page's cursor continues from its last row, by keyset.
    async with db.tenant(tenant) as session:
        on = await pages.fetch(session, query, OLDEST, ask(limit=3, cursor=got[0].next_cursor))
    assert [(r.created_at, r.profile_id) for r in on.rows] == expected[3:6]


# --------------------------------------------------------------------------------------------
# Cursors and bounds
# --------------------------------------------------------------------------------------------


def flip_one(cursor: str, at: int) -> str:
    replacement = "B" if cursor[at] == "A" else "A"
    return cursor[:at] + replacement + cursor[at + 1 :]


def test_a_cursor_keeps_its_values_and_types() -> None:
    values = [AT, Decimal("12.500000000"), 7, "cl9x"]
    assert CURSORS.open(LIST, CURSORS.seal(LIST, values)) == values


@pytest.mark.parametrize("key", ["p1", "p2", "p3", "p4", "p5", "p6"])
def test_a_cursor_changed_forged_or_of_another_list_is_refused(key: str) -> None:
    cursor = CURSORS.seal(LIST, [AT, key])
    payload, tag = cursor.split(".")
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    for at in range(len(cursor)):
        if cursor[at] == ".":
            continue
        for other in {"A", "B", alphabet[alphabet.index(cursor[at]) ^ 1]} - {cursor[at]}:
            with pytest.raises(InvalidCursor):  # the last character's low bits too
                CURSORS.open(LIST, cursor[:at] + other + cursor[at + 1 :])
    unsigned = [payload, f"{payload}.", f"{payload}.{tag[:-4]}", f"{payload}.{tag}.x"]
    garbage = ["", ".", "nonsense", "é.é", "a" * 40, f"{tag}.{payload}"]
    for bad in unsigned + garbage:
        with pytest.raises(InvalidCursor):
            CURSORS.open(LIST, bad)
    with pytest.raises(InvalidCursor):
        CURSORS.open("tenant\n/other-things", cursor)
    with pytest.raises(InvalidCursor):
        CURSORS.open("other-tenant\n/things", cursor)
    with pytest.raises(InvalidCursor):  # sealed under another server secret
        pages.Cursors.from_secret(b"another secret of at least 32 chars!").open(LIST, cursor)


async def test_a_cursor_of_another_ordering_is_refused(db: Database, tenant: str) -> None:
    await add_profiles(db, tenant, AT, AT, AT)
    query = select(UserProfile.created_at, UserProfile.profile_id)
    async with db.tenant(tenant) as session:
        first = await pages.fetch(session, query, OLDEST, ask(limit=1))
        with pytest.raises(InvalidCursor) as refused:
            await pages.fetch(session, query, MIXED, ask(limit=1, cursor=first.next_cursor))
    assert refused.value.code == "INVALID_CURSOR" and refused.value.details["field"] == "cursor"


@pytest.mark.parametrize(
    ("asked", "field"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": pages.MAX_LIMIT + 1}, "limit"),
        ({"page": 0}, "page"),
        ({"page": pages.MAX_PAGE_NUMBER + 1}, "page"),
        ({"page": 2, "cursor": "x.y"}, "page"),
    ],
)
def test_sizes_and_page_numbers_are_bounded(asked: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        ask(**asked)
    assert refused.value.details["field"] == field


def test_the_largest_page_and_the_deepest_page_number_are_allowed() -> None:
    assert ask(limit=pages.MAX_LIMIT, page=pages.MAX_PAGE_NUMBER).limit == pages.MAX_LIMIT


# --------------------------------------------------------------------------------------------
# Over HTTP
# --------------------------------------------------------------------------------------------


async def test_a_list_endpoint_pages_by_cursor_and_by_page_number(
    client: httpx.AsyncClient, db: Database, tenant: str, boss: dict[str, Any]
) -> None:
    await add_profiles(db, tenant, *[AT] * 5)
    everyone = [p for _, p in await positions(db, tenant, OLDEST)]  # the five and the boss
    by_cursor: list[str] = []
    params: dict[str, Any] = {"limit": 2}
    while True:
        page = await client.get("/admin/users", params=params, headers=boss["headers"])
        assert page.status_code == 200, page.text
        body = page.json()
        assert set(body) == {"items", "nextCursor", "nextPage"} and body["nextPage"] is None
        by_cursor += [u["profileId"] for u in body["items"]]
        if body["nextCursor"] is None:
            break
        params["cursor"] = body["nextCursor"]
    assert by_cursor == everyone

    by_number: list[str] = []
    number: int | None = 1
    while number is not None:
        got = await client.get(
            "/admin/users", params={"limit": 4, "page": number}, headers=boss["headers"]
        )
        by_number += [u["profileId"] for u in got.json()["items"]]
        number = got.json()["nextPage"]
    assert by_number == everyone


async def test_a_tampered_forged_or_foreign_cursor_is_a_400_over_http(
    client: httpx.AsyncClient, db: Database, tenant: str, boss: dict[str, Any]
) -> None:
    await add_profiles(db, tenant, AT, AT, AT)
    await make_user(db, tenant, status=UserProfileStatus.FROZEN)
    await make_user(db, tenant, status=UserProfileStatus.FROZEN)
    headers = boss["headers"]
    first = (await client.get("/admin/users", params={"limit": 1}, headers=headers)).json()
    frozen = (await client.get("/admin/users/frozen", params={"limit": 1}, headers=headers)).json()
    cursor, foreign = first["nextCursor"], frozen["nextCursor"]
    assert cursor and foreign
    for bad, path in [
        (flip_one(cursor, 3), "/admin/users"),  # one byte of the position changed
        (flip_one(cursor, len(cursor) - 3), "/admin/users"),  # one byte of the tag
        (foreign, "/admin/users"),  # another endpoint's cursor
        (cursor, "/admin/users/frozen"),
        ("bm9uc2Vuc2U", "/admin/users"),  # garbage
        ("x" * 501, "/admin/users"),  # longer than any cursor
    ]:
        refused = await client.get(path, params={"cursor": bad}, headers=headers)
        code = "INVALID_CURSOR" if len(bad) <= 500 else "VALIDATION_FAILED"
        status = 400 if code == "INVALID_CURSOR" else 422
        assert assert_problem(refused, status, code)["errors"][0]["field"].endswith("cursor")
    ok = await client.get("/admin/users", params={"cursor": cursor}, headers=headers)
    assert ok.status_code == 200 and len(ok.json()["items"]) == 5


async def test_page_size_over_the_max_is_a_422_naming_the_field(
    client: httpx.AsyncClient, boss: dict[str, Any]
) -> None:
    for params, field in [
        ({"limit": pages.MAX_LIMIT + 1}, "limit"),
        ({"limit": 0}, "limit"),
        ({"page": 0}, "page"),
        ({"page": pages.MAX_PAGE_NUMBER + 1}, "page"),
        ({"page": 1, "cursor": "a.b"}, "page"),
    ]:
        refused = await client.get("/admin/users", params=params, headers=boss["headers"])
        named = assert_problem(refused, 422, "VALIDATION_FAILED")["errors"][0]["field"]
        assert named in (field, f"query.{field}")
    largest = await client.get(
        "/admin/users", params={"limit": pages.MAX_LIMIT}, headers=boss["headers"]
    )
    assert largest.status_code == 200
