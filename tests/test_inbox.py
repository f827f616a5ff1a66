"""The notification inbox over HTTP: a user's own notices, newest first, filed by the lifecycle."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from gxcore.enums import NotificationType
from gxcore.identity.models import TrustedDevice
from gxcore.notifications import inbox
from gxcore.notifications.models import Notification
from tests.test_money_api import Loop, loop  # noqa: F401
from tests.test_registration import assert_problem


async def _inbox(at: Loop, user: dict[str, str], **params: str) -> dict[str, object]:
    got = await at.client.get("/notifications", params=params, headers=user["headers"])
    assert got.status_code == 200, got.text
    return got.json()


async def _unread(at: Loop, user: dict[str, str]) -> int:
    got = await at.client.get("/notifications/unread-count", headers=user["headers"])
    assert got.status_code == 200, got.text
    return int(got.json()["count"])


async def test_a_user_pages_reads_and_files_their_own_notifications(loop: Loop) -> None:  # noqa: F811
    alice, bob = await loop.user(), await loop.user()
    for amount in ("1", "2"):
        assert (await loop.send(alice, bob, amount)).status_code == 202
        await loop.settle()
    page = await _inbox(loop, bob, limit="2")
    items = page["items"]
    assert [n["message"] for n in items] == [  # type: ignore[index]
        "You received 2.000000000 GX",
        "You received 1.000000000 GX",
    ]
    rest = await _inbox(loop, bob, limit="2", cursor=str(page["nextCursor"]))
    assert [n["type"] for n in rest["items"]] == ["WALLET_CREDITED"]  # type: ignore[index]
    assert rest["nextCursor"] is None and await _unread(loop, bob) == 3

    newest = items[0]["notificationId"]  # type: ignore[index]
    read = await loop.client.patch(f"/notifications/{newest}/read", headers=bob["headers"])
    assert read.status_code == 200, read.text
    assert read.json()["status"] == "READ" and read.json()["readAt"] is not None
    again = await loop.client.patch(f"/notifications/{newest}/read", headers=bob["headers"])
    assert again.json()["readAt"] == read.json()["readAt"]  # already READ: answered as it is
    assert await _unread(loop, bob) == 2
    unread = await _inbox(loop, bob, unread="true")
    assert newest not in [n["notificationId"] for n in unread["items"]]  # type: ignore[index]

    done = await loop.client.patch(f"/notifications/{newest}/action", headers=bob["headers"])
    assert done.json()["status"] == "ACTIONED" and done.json()["actionedAt"] is not None
    filed = await loop.client.patch(f"/notifications/{newest}/archive", headers=bob["headers"])
    assert filed.json()["status"] == "ARCHIVED"
    back = await loop.client.patch(f"/notifications/{newest}/read", headers=bob["headers"])
    assert_problem(back, 409, "INVALID_TRANSITION")

    # Someone else's notification is not found, and stays as it was.
    theirs = await loop.client.patch(f"/notifications/{newest}/read", headers=alice["headers"])
    assert_problem(theirs, 404, "NOTIFICATION_NOT_FOUND")
    marked = await loop.client.patch("/notifications/mark-all-read", headers=alice["headers"])
    assert marked.json() == {"updated": 3}  # alice's genesis and her two debits, not bob's
    assert await _unread(loop, alice) == 0 and await _unread(loop, bob) == 2


async def test_expired_notifications_are_hidden_then_deleted_by_the_cleanup_job(
    loop: Loop,  # noqa: F811
) -> None:
    carol = await loop.user(genesis=False)
    now = datetime.now(UTC)
    async with loop.db.tenant(loop.tenant) as session:
        for title, expires in (("old", now - timedelta(minutes=1)), ("live", None)):
            await inbox.notify(
                session,
                profile_id=carol["id"],
                type=NotificationType.SYSTEM_ANNOUNCEMENT,
                title=title,
                message=title,
            )
            await session.flush()
            if expires is not None:
                old = await session.scalar(select(Notification).where(Notification.title == "old"))
                assert old is not None
                old.expires_at = expires
    assert [n["title"] for n in (await _inbox(loop, carol))["items"]] == ["live"]  # type: ignore[index]
    assert await _unread(loop, carol) == 1
    async with loop.db.system(reason="test: gx jobs cleanup") as session:
        assert await inbox.delete_expired(session=session, now=now) == 1
    async with loop.db.tenant(loop.tenant) as session:
        left = await session.scalar(
            select(func.count()).where(Notification.recipient_id == carol["id"])
        )
    assert left == 1


async def test_push_tokens_are_registered_refreshed_moved_and_deactivated(
    loop: Loop,  # noqa: F811
) -> None:
    alice, bob = await loop.user(genesis=False), await loop.user(genesis=False)
    async with loop.db.tenant(loop.tenant) as session:
        phone = TrustedDevice(profile_id=alice["id"], device_name="phone", device_fingerprint="p1")
        session.add(phone)
    body = {"token": "fcm-token-aaaaaaaa", "platform": "android", "deviceId": phone.device_id}
    # A device that is not hers is not found.
    assert_problem(await loop.client.post("/push-tokens", json=body, headers=bob["headers"]), 404,
                   "DEVICE_NOT_FOUND")  # fmt: skip
    first = await loop.client.post("/push-tokens", json=body, headers=alice["headers"])
    assert first.status_code == 201, first.text
    token_id = first.json()["tokenId"]
    assert "token" not in first.json() and first.json()["isActive"] is True
    # The same token again: the same row, refreshed.
    again = await loop.client.post("/push-tokens", json=body, headers=alice["headers"])
    assert again.json()["tokenId"] == token_id
    assert again.json()["lastUsedAt"] >= first.json()["lastUsedAt"]
    # A new token on the same device replaces the old one.
    newer = {**body, "token": "fcm-token-bbbbbbbb"}
    replaced = await loop.client.post("/push-tokens", json=newer, headers=alice["headers"])
    listed = (await loop.client.get("/push-tokens", headers=alice["headers"])).json()["items"]
    assert [t["tokenId"] for t in listed] == [replaced.json()["tokenId"]]
    # The device changes hands: bob registers its token, which is his from now on.
    moved = await loop.client.post(
        "/push-tokens", json={**newer, "deviceId": None}, headers=bob["headers"]
    )
    assert moved.json()["tokenId"] == replaced.json()["tokenId"]
    assert (await loop.client.get("/push-tokens", headers=alice["headers"])).json()["items"] == []
    # Only its owner refreshes or deactivates it.
    path = f"/push-tokens/{moved.json()['tokenId']}"
    assert_problem(await loop.client.post(f"{path}/refresh", headers=alice["headers"]), 404,
                   "PUSH_TOKEN_NOT_FOUND")  # fmt: skip
    assert_problem(await loop.client.delete(path, headers=alice["headers"]), 404,
                   "PUSH_TOKEN_NOT_FOUND")  # fmt: skip
    assert (await loop.client.post(f"{path}/refresh", headers=bob["headers"])).status_code == 200
    assert (await loop.client.delete(path, headers=bob["headers"])).status_code == 204
    assert (await loop.client.get("/push-tokens", headers=bob["headers"])).json()["items"] == []
    bad = await loop.client.post(
        "/push-tokens", json={**body, "platform": "pager"}, headers=bob["headers"]
    )
    assert_problem(bad, 422, "VALIDATION_FAILED")
