"""The message queue: requests queue emails and SMS, the worker delivers them after commit.

Also the production configuration: no development stand-in (generated keys, the mailbox) is
ever used with GX_ENVIRONMENT=production, and start-up says what is missing.
"""

from __future__ import annotations

import asyncio
import json
import random
import re
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from gxcore.admin.models import SystemParameter
from gxcore.app import create_app
from gxcore.config import Settings
from gxcore.db.tenancy import Database
from gxcore.enums import MessageChannel, MessageStatus
from gxcore.errors import ConfigurationError, DeliveryFailed
from gxcore.identity.models import PendingRegistration
from gxcore.identity.registration import ACCOUNT_EXISTS_EMAIL
from gxcore.notifications import service as messages
from gxcore.notifications.models import MessageOutbox
from gxcore.notifications.senders import (
    HttpSmsSender,
    MailboxSender,
    Senders,
    SmtpEmailSender,
    default_senders,
    read_mailbox,
)
from gxcore.notifications.worker import EXPIRED, MessageWorker, Stats, WorkerConfig
from tests import test_registration
from tests.test_cli import assert_one_line_error, gx
from tests.test_registration import Clock, Mailbox, new_email, post

# The same reference data, clock, settings, app and mailbox as test_registration.
countries, clock, settings, client, mail = (
    test_registration.countries,
    test_registration.clock,
    test_registration.settings,
    test_registration.client,
    test_registration.mail,
)

SECRET = "x" * 40
PRODUCTION = {
    "environment": "production",
    "jwt_secret": SECRET,
    "otp_secret": SECRET,
    "smtp_host": "smtp.example.com",
    "sms_gateway_url": "https://sms.example.com/send",
    "kyc_master_key": SECRET,
    "clamd": "clamd.example.com:3310",
    "push_gateway_url": "https://push.example.com/send",
}


class Recorder:
    """Senders that keep what they were given; `fail` first raises that many times."""

    def __init__(self, fail: int = 0) -> None:
        self.sent: list[dict[str, Any]] = []
        self.fail = fail

    async def send_email(self, *, to: str, subject: str, text: str) -> None:
        await self._send({"to": to, "subject": subject, "text": text})

    async def send_sms(self, *, to: str, text: str) -> None:
        await self._send({"to": to, "text": text})

    async def _send(self, message: dict[str, Any]) -> None:
        if self.fail:
            self.fail -= 1
            raise DeliveryFailed("the carrier is down")
        self.sent.append(message)


class Blocking(Recorder):
    """Senders that wait for `release` once a send has begun (`entered`)."""

    def __init__(self) -> None:
        super().__init__()
        self.entered, self.release = asyncio.Event(), asyncio.Event()

    async def _send(self, message: dict[str, Any]) -> None:
        self.entered.set()
        await self.release.wait()
        await super()._send(message)


async def drain(db: Database, tenant: str, clock: Clock, sender: Recorder, **config: Any) -> Stats:
    """One worker's pass over the tenant's queue, until nothing is due: what it did."""
    senders = Senders(email=sender, sms=sender)
    return await MessageWorker(
        db, senders, WorkerConfig(**config), tenant_id=tenant, clock=clock, rng=random.Random(7)
    ).drain()


async def queued(db: Database, tenant: str) -> list[MessageOutbox]:
    async with db.system(reason="test check") as session:
        rows = await session.scalars(
            select(MessageOutbox)
            .where(MessageOutbox.tenant_id == tenant)
            .order_by(MessageOutbox.created_at, MessageOutbox.id)
        )
        return list(rows)


async def queue_notice(db: Database, tenant: str, clock: Clock, **extra: Any) -> None:
    async with db.tenant(tenant) as session:
        await messages.queue_email(
            session, to="owner@example.com", subject="Notice", text="hello", now=clock(), **extra
        )


# --------------------------------------------------------------------------------------------
# Queued in the request, delivered after commit
# --------------------------------------------------------------------------------------------


async def test_registration_queues_its_code_and_sends_nothing_inline(
    client: httpx.AsyncClient, settings: Settings, clock: Clock, db: Database, tenant: str
) -> None:
    email = new_email()
    assert (await post(client, "email", email=email)).status_code == 201
    assert read_mailbox(settings.mailbox_file) == []
    [message] = await queued(db, tenant)
    assert (message.channel, message.recipient, message.status) == (
        MessageChannel.EMAIL,
        email,
        MessageStatus.PENDING,
    )
    assert re.search(r"\b\d{6}\b", message.body) and message.attempts == 0
    async with db.tenant(tenant) as session:
        registration = await session.scalar(select(PendingRegistration))
    assert registration is not None
    assert message.expires_at == registration.email_otp_expires_at  # the code's own expiry


async def test_the_worker_delivers_it_and_empties_the_body(
    client: httpx.AsyncClient, mail: Mailbox, clock: Clock, db: Database, tenant: str
) -> None:
    email = new_email()
    await post(client, "email", email=email)
    [before] = await queued(db, tenant)
    stats = await mail.deliver()
    assert (stats.claimed, stats.sent) == (1, 1)
    [delivered] = read_mailbox(mail.settings.mailbox_file)
    assert delivered["to"] == email and delivered["text"] == before.body
    [after] = await queued(db, tenant)
    assert (after.status, after.attempts) == (MessageStatus.SENT, 1)
    assert after.sent_at is not None and abs(after.sent_at - clock()) < timedelta(milliseconds=1)
    assert after.body == "" and after.last_error is None  # the code is gone from the database
    assert (await mail.deliver()).claimed == 0  # delivered once


async def test_a_failing_sender_is_retried_with_backoff_then_ends_failed(
    db: Database, tenant: str, clock: Clock
) -> None:
    await queue_notice(db, tenant, clock)
    failing = Recorder(fail=99)
    config = {"max_attempts": 3, "backoff_base": 10, "backoff_max": 1000}
    waits = []
    for attempt in (1, 2):
        assert (await drain(db, tenant, clock, failing, **config)).retried == 1
        [row] = await queued(db, tenant)
        assert (row.status, row.attempts, row.body) == (MessageStatus.PENDING, attempt, "hello")
        assert row.last_error == "the carrier is down"
        waits.append((row.next_attempt_at - clock()).total_seconds())
        clock.advance(seconds=waits[-1] - 0.001)
        assert (await drain(db, tenant, clock, failing)).claimed == 0  # its backoff is not over
        clock.advance(seconds=0.001)
    # Equal jitter: 5-10 s after the first failure, 10-20 s after the second.
    assert 5 <= waits[0] <= 10 and 10 <= waits[1] <= 20
    assert (await drain(db, tenant, clock, failing, **config)).failed == 1
    [row] = await queued(db, tenant)
    assert (row.status, row.attempts, row.body) == (MessageStatus.FAILED, 3, "")
    assert "gave up after 3 attempts" in (row.last_error or "")
    clock.advance(days=1)
    assert (await drain(db, tenant, clock, failing)).claimed == 0 and failing.sent == []


async def test_a_retry_after_a_transient_failure_delivers(
    db: Database, tenant: str, clock: Clock
) -> None:
    await queue_notice(db, tenant, clock)
    flaky = Recorder(fail=1)
    assert (await drain(db, tenant, clock, flaky, backoff_base=1)).retried == 1
    clock.advance(seconds=1)
    assert (await drain(db, tenant, clock, flaky)).sent == 1
    assert flaky.sent == [{"to": "owner@example.com", "subject": "Notice", "text": "hello"}]


async def test_an_expired_message_is_never_delivered_and_its_body_is_emptied(
    db: Database, tenant: str, clock: Clock
) -> None:
    await queue_notice(db, tenant, clock, expires_at=clock() + timedelta(minutes=10))
    failing = Recorder(fail=1)
    assert (await drain(db, tenant, clock, failing, backoff_base=3600, backoff_max=3600)).retried
    [row] = await queued(db, tenant)
    assert row.next_attempt_at == row.expires_at  # a retry is never due after the expiry
    clock.advance(minutes=10)
    assert (await drain(db, tenant, clock, failing)).failed == 1
    [row] = await queued(db, tenant)
    assert (row.status, row.last_error, row.body) == (MessageStatus.FAILED, EXPIRED, "")
    assert failing.sent == []


async def test_a_slow_sender_does_not_hold_up_another_write_in_the_tenant(
    client: httpx.AsyncClient, db: Database, tenant: str, clock: Clock, session: AsyncSession
) -> None:
    await post(client, "email", email=new_email())
    slow = Blocking()
    delivering = asyncio.create_task(drain(db, tenant, clock, slow))
    try:
        await asyncio.wait_for(slow.entered.wait(), timeout=30)
        # The worker holds no transaction while the carrier talks...
        idle_in_transaction = await session.scalar(
            text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND usename IN ('gx_app', 'gx_system') AND state LIKE 'idle in transaction%'"
            )
        )
        assert idle_in_transaction == 0
        # ...so a request and a direct write of the same tenant, both audited, go through.
        response = await asyncio.wait_for(post(client, "email", email=new_email()), timeout=30)
        assert response.status_code == 201

        async def write() -> None:
            async with db.tenant(tenant) as s:
                s.add(SystemParameter(param_key="registrationTtlHours", param_value="48"))

        await asyncio.wait_for(write(), timeout=30)
        assert not delivering.done()
    finally:
        slow.release.set()
    stats = await asyncio.wait_for(delivering, timeout=30)
    assert stats.sent == 2 and len(slow.sent) == 2  # the second request's code too


async def test_two_workers_never_send_a_message_twice(
    db: Database, tenant: str, clock: Clock
) -> None:
    for _ in range(12):
        await queue_notice(db, tenant, clock)
    one, two = Recorder(), Recorder()
    await asyncio.gather(
        drain(db, tenant, clock, one, batch_size=1, concurrency=1),
        drain(db, tenant, clock, two, batch_size=1, concurrency=1),
    )
    assert len(one.sent) + len(two.sent) == 12
    assert {r.status for r in await queued(db, tenant)} == {MessageStatus.SENT}


async def test_the_account_exists_email_offers_only_what_exists(
    client: httpx.AsyncClient, mail: Mailbox, db: Database, tenant: str
) -> None:
    taken = new_email()
    await test_registration._profile(db, tenant, email=taken)
    await post(client, "email", email=taken)
    [notice] = await mail.to(taken)
    assert notice["subject"] == ACCOUNT_EXISTS_EMAIL["subject"]
    body = notice["text"].lower()
    # Signing in is all the system has for an owner (POST /auth/login): no password reset, no
    # link to a page that does not exist, no code.
    assert "sign in" in body
    assert not re.search(r"reset|forgot|recover|https?://|www\.|\b\d{6}\b", body), body


async def test_gx_messages_run_once_delivers_what_is_due(
    client: httpx.AsyncClient, settings: Settings, migrated_url: str, tenant: str, tmp_path: Path
) -> None:
    email = new_email()
    await post(client, "email", email=email)
    proc = gx(
        "messages", "run", "--once", "--tenant", tenant, "--data-dir", str(tmp_path),
        database_url=migrated_url,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "1 sent, 0 failed" in proc.stdout
    [delivered] = read_mailbox(tmp_path / "mailbox.jsonl")
    assert delivered["to"] == email and re.search(r"\b\d{6}\b", delivered["text"])


def test_the_worker_config_keeps_a_batch_within_its_lease() -> None:
    from gxcore.errors import ValidationFailed

    WorkerConfig(batch_size=50, concurrency=10, send_timeout=20, lease_seconds=101)
    with pytest.raises(ValidationFailed, match="lease"):
        WorkerConfig(batch_size=50, concurrency=10, send_timeout=20, lease_seconds=100)


# --------------------------------------------------------------------------------------------
# Production configuration
# --------------------------------------------------------------------------------------------

VARIABLES = {
    "jwt_secret": "GX_JWT_SECRET",
    "otp_secret": "GX_OTP_SECRET",
    "smtp_host": "GX_SMTP_HOST",
    "sms_gateway_url": "GX_SMS_GATEWAY_URL",
    "kyc_master_key": "GX_KYC_MASTER_KEY",
    "clamd": "GX_CLAMD",
    "push_gateway_url": "GX_PUSH_GATEWAY_URL",
}


@pytest.mark.parametrize("missing", list(VARIABLES))
def test_production_refuses_to_start_without_each_key_and_carrier(
    missing: str, tmp_path: Path, db: Database
) -> None:
    cfg = Settings(data_dir=tmp_path, **{k: v for k, v in PRODUCTION.items() if k != missing})
    others = set(VARIABLES.values()) - {VARIABLES[missing]}
    for start in (
        cfg.require_production_settings,
        lambda: default_senders(cfg),  # gx messages run
        lambda: create_app(database=db, settings=cfg),  # gx api
    ):
        with pytest.raises(ConfigurationError, match=VARIABLES[missing]) as refused:
            start()
        assert not any(name in str(refused.value) for name in others)
    assert list(tmp_path.iterdir()) == []  # no key generated, no mailbox written


def test_production_with_everything_set_uses_the_real_carriers(tmp_path: Path) -> None:
    senders = default_senders(Settings(data_dir=tmp_path, **PRODUCTION))
    assert isinstance(senders.email, SmtpEmailSender) and isinstance(senders.sms, HttpSmsSender)


def test_development_defaults_to_the_mailbox(tmp_path: Path) -> None:
    cfg = Settings(data_dir=tmp_path)
    cfg.require_production_settings()
    senders = default_senders(cfg)
    assert isinstance(senders.email, MailboxSender) and isinstance(senders.sms, MailboxSender)
    assert senders.email.path == senders.sms.path == tmp_path / "mailbox.jsonl"


@pytest.mark.parametrize("command", [["api"], ["messages", "run", "--once"]])
def test_production_commands_name_every_missing_setting(command: list[str], tmp_path: Path) -> None:
    proc = gx(*command, "--data-dir", str(tmp_path), GX_ENVIRONMENT="production")
    assert_one_line_error(proc, "production", *VARIABLES.values())
    assert not (tmp_path / "mailbox.jsonl").exists()


# --------------------------------------------------------------------------------------------
# The SMS gateway
# --------------------------------------------------------------------------------------------


@pytest.fixture
def gateway() -> Iterator[tuple[str, list[dict[str, Any]], list[int]]]:
    """A local HTTP endpoint: (url, requests received, statuses to answer, 204 when empty)."""
    received: list[dict[str, Any]] = []
    statuses: list[int] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append({"auth": self.headers.get("Authorization"), "json": json.loads(body)})
            self.send_response(statuses.pop(0) if statuses else 204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/sms", received, statuses
    finally:
        server.shutdown()
        server.server_close()


async def test_the_sms_gateway_gets_the_number_and_text_with_its_token(
    gateway: tuple[str, list[dict[str, Any]], list[int]], tmp_path: Path
) -> None:
    url, received, statuses = gateway
    sms = HttpSmsSender(Settings(data_dir=tmp_path, sms_gateway_url=url, sms_gateway_token="t0ken"))
    await sms.send_sms(to="+447911123456", text="GX code: 123456")
    assert received == [
        {"auth": "Bearer t0ken", "json": {"to": "+447911123456", "text": "GX code: 123456"}}
    ]
    statuses.append(503)
    with pytest.raises(DeliveryFailed, match="503"):
        await sms.send_sms(to="+447911123456", text="again")


def test_the_sms_gateway_must_be_http(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="GX_SMS_GATEWAY_URL"):
        HttpSmsSender(Settings(data_dir=tmp_path, sms_gateway_url="file:///etc/passwd"))
