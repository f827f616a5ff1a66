"""Delivery of emails and SMS: the sender protocols, SMTP, and the development mailbox.

Services take a `Senders` and never know which carrier is behind it. Without an SMTP host in the
settings every message goes to the development mailbox, a JSON-lines file that `gx dev mailbox`
prints; there is no SMS carrier yet, so SMS always goes there.
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import logging
import smtplib
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Protocol

from gxcore.config import Settings
from gxcore.errors import DeliveryFailed

log = logging.getLogger(__name__)
SMTP_TIMEOUT = 15


class EmailSender(Protocol):
    async def send_email(self, *, to: str, subject: str, text: str) -> None: ...


class SmsSender(Protocol):
    async def send_sms(self, *, to: str, text: str) -> None: ...


@dataclass(frozen=True)
class Senders:
    email: EmailSender
    sms: SmsSender


class MailboxSender:
    """Appends each message to a JSON-lines file: {time, channel, to, subject, text}."""

    def __init__(self, path: Path) -> None:
        self.path = path

    async def send_email(self, *, to: str, subject: str, text: str) -> None:
        await self._append({"channel": "email", "to": to, "subject": subject, "text": text})

    async def send_sms(self, *, to: str, text: str) -> None:
        await self._append({"channel": "sms", "to": to, "subject": None, "text": text})

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


def default_senders(settings: Settings) -> Senders:
    mailbox = MailboxSender(settings.mailbox_file)
    if settings.is_production:
        log.warning("no SMS carrier yet: SMS go to the mailbox file %s", mailbox.path)
    if settings.smtp_host:
        return Senders(email=SmtpEmailSender(settings), sms=mailbox)
    if settings.is_production:
        log.warning("no SMTP host configured: emails go to the mailbox file %s", mailbox.path)
    return Senders(email=mailbox, sms=mailbox)


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
