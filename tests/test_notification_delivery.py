"""Notifications delivered beyond the inbox: by email and push, after commit, with retries.

The relationship use cases ask `notify` to deliver; the message worker sends through fake
carriers here, so a failing carrier and a dead push token can be played.
"""

from __future__ import annotations

import asyncio
import random
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select

from gxcore.config import Settings
from gxcore.db.tenancy import Database
from gxcore.enums import MessageChannel, MessageStatus, NotificationType
from gxcore.errors import DeliveryFailed, PushTokenInvalid
from gxcore.notifications.models import MessageOutbox, Notification, PushToken
from gxcore.notifications.senders import MailboxSender, Senders, default_senders, read_mailbox
from gxcore.notifications.worker import MessageWorker, Stats, WorkerConfig
from gxcore.trust.models import FamilyRelationship
from tests import test_relationships
from tests.test_auth import bearer, load, signed_in
from tests.test_registration import Clock
from tests.test_relationships import answer, invite, person, trust

app, client, clock, countries, mail, settings = (
    test_relationships.app,
    test_relationships.client,
    test_relationships.clock,
    test_relationships.countries,
    test_relationships.mail,
    test_relationships.settings,
)
FAST = {"max_attempts": 3, "backoff_base": 1.0, "backoff_max": 1.0}


class Carriers:
    """Email and push carriers that record what they send; `down` fails every email, `dead`
    tokens are refused as unknown to the push service."""

    def __init__(self, *, down: bool = False, dead: frozenset[str] = frozenset()) -> None:
        self.emails: list[dict[str, str]] = []
        self.pushes: list[dict[str, str]] = []
        self.down, self.dead = down, dead

    async def send_email(self, *, to: str, subject: str, text: str) -> None:
        if self.down:
            raise DeliveryFailed("the SMTP relay is down")
        self.emails.append({"to": to, "subject": subject, "text": text})

    async def send_sms(self, *, to: str, text: str) -> None:
        raise AssertionError("no SMS here")

    async def send_push(self, *, token: str, title: str, body: str) -> None:
        if token in self.dead:
            raise PushTokenInvalid("the push service does not know this token")
        self.pushes.append({"token": token, "title": title, "body": body})


async def deliver(db: Database, tenant: str, clock: Clock, carriers: Any) -> Stats:
    senders = Senders(email=carriers, sms=carriers, push=carriers)
    worker = MessageWorker(
        db, senders, WorkerConfig(**FAST), tenant_id=tenant, clock=clock, rng=random.Random(3)
    )
    return await worker.drain()


async def register_token(client: httpx.AsyncClient, who: dict[str, Any], token: str) -> None:
    got = await client.post(
        "/push-tokens", json={"token": token, "platform": "android"}, headers=who["headers"]
    )
    assert got.status_code == 201, got.text


async def notices(db: Database, tenant: str, profile_id: str) -> list[Notification]:
    async with db.tenant(tenant) as s:
        rows = await s.scalars(
            select(Notification)
            .where(Notification.recipient_id == profile_id)
            .order_by(Notification.created_at)
        )
        return list(rows)


async def messages(db: Database, tenant: str) -> list[MessageOutbox]:
    async with db.system(reason="test check") as s:
        rows = await s.scalars(
            select(MessageOutbox)
            .where(MessageOutbox.tenant_id == tenant)
            .order_by(MessageOutbox.created_at, MessageOutbox.channel, MessageOutbox.recipient)
        )
        return list(rows)


# --------------------------------------------------------------------------------------------


async def test_an_invitation_is_emailed_and_pushed_to_each_device_after_commit(
    db: Database, tenant: str, client: httpx.AsyncClient, clock: Clock
) -> None:
    ada, bob = await person(db, tenant, client), await person(db, tenant, client)
    await register_token(client, bob, "bob-phone-token-1")
    await register_token(client, bob, "bob-tablet-token-2")
    invited = await invite(client, ada, bob, "SIBLING")
    assert invited.status_code == 201

    [notice] = await notices(db, tenant, bob["id"])
    assert notice.type is NotificationType.RELATIONSHIP_INVITATION
    assert (notice.sent_via_email, notice.sent_via_push) == (False, False)  # queued, not sent
    queued = await messages(db, tenant)
    assert [(m.channel, m.recipient) for m in queued] == [
        (MessageChannel.EMAIL, bob["email"]),
        (MessageChannel.PUSH, "bob-phone-token-1"),
        (MessageChannel.PUSH, "bob-tablet-token-2"),
    ]
    assert {m.notification_id for m in queued} == {notice.notification_id}

    carriers = Carriers()
    stats = await deliver(db, tenant, clock, carriers)
    assert (stats.sent, stats.failed) == (3, 0)
    assert carriers.emails[0]["subject"] == "Relationship invitation"
    assert {p["token"] for p in carriers.pushes} == {"bob-phone-token-1", "bob-tablet-token-2"}
    [notice] = await notices(db, tenant, bob["id"])
    assert (notice.sent_via_email, notice.sent_via_push) == (True, True)
    assert notice.email_sent_at == clock.now and notice.push_sent_at == clock.now


async def test_a_token_the_push_service_calls_dead_is_deactivated(
    db: Database, tenant: str, client: httpx.AsyncClient, clock: Clock
) -> None:
    ada, bob = await person(db, tenant, client), await person(db, tenant, client)
    await register_token(client, ada, "ada-old-phone-token")
    rid = (await invite(client, ada, bob, "FRIEND")).json()["relationshipId"]
    assert (await answer(client, bob, rid)).status_code == 200

    carriers = Carriers(dead=frozenset({"ada-old-phone-token"}))
    stats = await deliver(db, tenant, clock, carriers)
    assert (stats.sent, stats.failed, stats.retried) == (2, 1, 0)  # bob's email, ada's email
    async with db.tenant(tenant) as s:
        token = await s.scalar(select(PushToken).where(PushToken.token == "ada-old-phone-token"))
    assert token is not None and token.is_active is False
    [confirmed] = await notices(db, tenant, ada["id"])
    assert (confirmed.sent_via_email, confirmed.sent_via_push) == (True, False)
    push = [m for m in await messages(db, tenant) if m.channel is MessageChannel.PUSH]
    assert [(m.status, m.attempts) for m in push] == [(MessageStatus.FAILED, 1)]

    # The dead token gets nothing more.
    assert (await client.delete(f"/relationships/{rid}", headers=bob["headers"])).status_code == 204
    assert [m.channel for m in await messages(db, tenant)].count(MessageChannel.PUSH) == 1


async def test_a_delivery_failing_three_times_is_retried_then_failed_and_the_change_kept(
    db: Database, tenant: str, client: httpx.AsyncClient, clock: Clock
) -> None:
    ada, bob = await person(db, tenant, client), await person(db, tenant, client)
    rid = (await invite(client, ada, bob, "FRIEND")).json()["relationshipId"]
    confirmed = await answer(client, bob, rid)
    assert confirmed.status_code == 200

    carriers = Carriers(down=True)
    attempts = []
    for _ in range(4):  # the first try, two retries after their backoff, then nothing is due
        stats = await deliver(db, tenant, clock, carriers)
        attempts.append((stats.claimed, stats.retried, stats.failed))
        clock.advance(seconds=2)
    # Each pass claims both emails (bob's invitation, ada's confirmation).
    assert attempts == [(2, 2, 0), (2, 2, 0), (2, 0, 2), (0, 0, 0)]
    for m in await messages(db, tenant):
        assert (m.status, m.attempts) == (MessageStatus.FAILED, 3)
        assert m.last_error is not None and "gave up after 3 attempts" in m.last_error
    [notice] = await notices(db, tenant, ada["id"])
    assert (notice.type, notice.sent_via_email, notice.email_sent_at) == (
        NotificationType.RELATIONSHIP_CONFIRMED,
        False,
        None,
    )
    row = await load(db, tenant, FamilyRelationship, rid)
    assert row.status == "CONFIRMED"
    ada["headers"] = bearer(await signed_in(client, ada["email"]))  # the clock moved on
    assert (await trust(client, ada))["friendsScore"] == 1


def test_the_development_mailbox_records_pushes(tmp_path: Path) -> None:
    senders = default_senders(Settings(data_dir=tmp_path))
    assert isinstance(senders.push, MailboxSender)
    asyncio.run(senders.push.send_push(token="dev-token-1", title="Hi", body="there"))
    [entry] = read_mailbox(tmp_path / "mailbox.jsonl", to="dev-token-1")
    assert (entry["channel"], entry["subject"], entry["text"]) == ("push", "Hi", "there")
