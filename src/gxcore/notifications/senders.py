"""Delivery of emails, SMS and pushes: the sender protocols, SMTP, an SMS gateway, a push
gateway, the dev mailbox.

Only the message worker (gxcore.notifications.worker) holds a `Senders`; it never knows which
carrier is behind it. Outside production, email without `GX_SMTP_HOST`, SMS without
`GX_SMS_GATEWAY_URL` and pushes without `GX_PUSH_GATEWAY_URL` go to the development mailbox, a
JSON-lines file that `gx dev mailbox` prints. Production has no such fallback: it refuses to
start without all three carriers.
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import smtplib
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

from gxcore.config import Settings
from gxcore.errors import ConfigurationError, DeliveryFailed, PushTokenInvalid

SMTP_TIMEOUT = 15
SMS_GATEWAY_TIMEOUT = 15
PUSH_GATEWAY_TIMEOUT = 15
#: A push gateway's answers for a token the push service no longer knows.
DEAD_TOKEN_STATUSES = frozenset({404, 410})


class EmailSender(Protocol):
    async def send_email(self, *, to: str, subject: str, text: str) -> None: ...


class SmsSender(Protocol):
    async def send_sms(self, *, to: str, text: str) -> None: ...


class PushSender(Protocol):
    async def send_push(self, *, token: str, title: str, body: str) -> None:
        """Deliver to one device; PushTokenInvalid when the token is dead (the worker then
        deactivates it), DeliveryFailed when the service is unreachable (retried)."""
        ...


@dataclass(frozen=True)
class Senders:
    email: EmailSender
    sms: SmsSender
    #: None: push messages fail at once (never the case of `default_senders`).
    push: PushSender | None = None


class MailboxSender:
    """Appends each message to a JSON-lines file: {time, channel, to, subject, text}."""

    def __init__(self, path: Path) -> None:
        self.path = path

    async def send_email(self, *, to: str, subject: str, text: str) -> None:
        await self._append({"channel": "email", "to": to, "subject": subject, "text": text})

    async def send_sms(self, *, to: str, text: str) -> None:
        await self._append({"channel": "sms", "to": to, "subject": None, "text": text})

    async def send_push(self, *, token: str, title: str, body: str) -> None:
        await self._append({"channel": "push", "to": token, "subject": title, "text": body})

    async def _append(self, message: dict[str, Any]) -> None:
        entry = {"time": datetime.now(UTC).isoformat(), **message}
        await asyncio.to_thread(self._write, json.dumps(entry) + "\n")

    def _write(self, line: str) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as f:
            fcntl.flock(f, fcntl.LOCK_EX)  # two `gx api` workers append whole lines, never mixed
            f.write(line)


class SmtpEmailSender:
    """Standard-library smtplib, run in a worker thread so the event loop never waits on it."""

    def __init__(self, settings: Settings) -> None:
        assert settings.smtp_host
        self.settings = settings

    async def send_email(self, *, to: str, subject: str, text: str) -> None:
        message = EmailMessage()
        message["From"] = self.settings.smtp_from
        message["To"] = to
        message["Subject"] = subject
        message.set_content(text)
        try:
            await asyncio.to_thread(self._send, message)
        except (OSError, smtplib.SMTPException) as e:
            raise DeliveryFailed(f"could not send email via {self.settings.smtp_host}: {e}") from e

    def _send(self, message: EmailMessage) -> None:
        cfg = self.settings
        assert cfg.smtp_host
        with smtplib.SMTP(cfg.smtp_host, cfg.smtp_port, timeout=SMTP_TIMEOUT) as smtp:
            if cfg.smtp_starttls:
                smtp.starttls()
            if cfg.smtp_user:
                password = cfg.smtp_password.get_secret_value() if cfg.smtp_password else ""
                smtp.login(cfg.smtp_user, password)
            smtp.send_message(message)


class HttpSmsSender:
    """POSTs `{"to": <E.164>, "text": ...}` as JSON to the gateway; any 2xx answer delivers it.

    The shape most SMS providers' HTTP APIs and in-house relays accept, or can be fronted with.
    Standard-library urllib in a worker thread, so the event loop never waits on it.
    """

    def __init__(self, settings: Settings) -> None:
        assert settings.sms_gateway_url
        if urlsplit(settings.sms_gateway_url).scheme not in ("http", "https"):
            raise ConfigurationError("GX_SMS_GATEWAY_URL must be an http:// or https:// URL")
        self.url = settings.sms_gateway_url
        self.token = settings.sms_gateway_token

    async def send_sms(self, *, to: str, text: str) -> None:
        body = json.dumps({"to": to, "text": text}).encode()
        headers = {"Content-Type": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token.get_secret_value()}"
        request = urllib.request.Request(self.url, data=body, headers=headers, method="POST")
        try:
            await asyncio.to_thread(self._post, request)
        except (OSError, ValueError) as e:  # URLError and HTTPError are OSErrors
            raise DeliveryFailed(f"could not send SMS via the gateway: {e}") from e

    def _post(self, request: urllib.request.Request) -> None:
        with urllib.request.urlopen(request, timeout=SMS_GATEWAY_TIMEOUT) as response:
            response.read()  # urlopen raises HTTPError for anything but 2xx (after redirects)


class HttpPushSender:
    """POSTs `{"token", "title", "body"}` as JSON to a push gateway (a relay in front of FCM,
    APNs or Web Push); 2xx delivers, 404 or 410 says the token is dead, anything else is a
    transient failure. Standard-library urllib in a worker thread, like the SMS gateway."""

    def __init__(self, settings: Settings) -> None:
        assert settings.push_gateway_url
        if urlsplit(settings.push_gateway_url).scheme not in ("http", "https"):
            raise ConfigurationError("GX_PUSH_GATEWAY_URL must be an http:// or https:// URL")
        self.url = settings.push_gateway_url
        self.token = settings.push_gateway_token

    async def send_push(self, *, token: str, title: str, body: str) -> None:
        data = json.dumps({"token": token, "title": title, "body": body}).encode()
        headers = {"Content-Type": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token.get_secret_value()}"
        request = urllib.request.Request(self.url, data=data, headers=headers, method="POST")
        try:
            await asyncio.to_thread(self._post, request)
        except urllib.error.HTTPError as e:
            if e.code in DEAD_TOKEN_STATUSES:
                raise PushTokenInvalid(f"the push gateway answered {e.code}: token dead") from e
            raise DeliveryFailed(f"could not send a push via the gateway: {e}") from e
        except (OSError, ValueError) as e:
            raise DeliveryFailed(f"could not send a push via the gateway: {e}") from e

    def _post(self, request: urllib.request.Request) -> None:
        with urllib.request.urlopen(request, timeout=PUSH_GATEWAY_TIMEOUT) as response:
            response.read()


def default_senders(settings: Settings) -> Senders:
    """The carriers the settings name; outside production, the mailbox for any that is unset."""
    settings.require_production_settings()
    mailbox = MailboxSender(settings.mailbox_file)
    email: EmailSender = SmtpEmailSender(settings) if settings.smtp_host else mailbox
    sms: SmsSender = HttpSmsSender(settings) if settings.sms_gateway_url else mailbox
    push: PushSender = HttpPushSender(settings) if settings.push_gateway_url else mailbox
    return Senders(email=email, sms=sms, push=push)


def read_mailbox(path: Path, *, to: str | None = None) -> list[dict[str, Any]]:
    """The mailbox's messages, oldest first, optionally only those sent to `to`."""
    if not path.exists():
        return []
    messages = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        message = json.loads(line)
        if to is None or message.get("to", "").casefold() == to.casefold():
            messages.append(message)
    return messages
