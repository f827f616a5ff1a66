"""Queueing emails, SMS and pushes: one `MessageOutbox` row, in the caller's transaction.

Use cases never send. They queue, so a message commits or vanishes with the change that caused
it, and the worker (gxcore.notifications.worker) delivers it after commit, with retries, while
no transaction or lock of the request is held. A message that must not arrive late (an OTP code)
carries `expires_at`: after it, the worker fails it instead of delivering it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from gxcore.db.base import new_uuid
from gxcore.db.scope import tenant_of
from gxcore.enums import MessageChannel
from gxcore.notifications.models import MessageOutbox


async def queue_email(
    session: AsyncSession,
    *,
    to: str,
    subject: str,
    text: str,
    now: datetime,
    expires_at: datetime | None = None,
    notification_id: str | None = None,
) -> None:
    """Queue an email to `to` for the session's tenant, due at `now` (delivering the in-app
    notification `notification_id`, if given)."""
    await _queue(session, MessageChannel.EMAIL, to, subject, text, now, expires_at, notification_id)


async def queue_sms(
    session: AsyncSession,
    *,
    to: str,
    text: str,
    now: datetime,
    expires_at: datetime | None = None,
) -> None:
    """Queue an SMS to `to` (E.164) for the session's tenant, due at `now`."""
    await _queue(session, MessageChannel.SMS, to, None, text, now, expires_at)


async def queue_push(
    session: AsyncSession,
    *,
    token: str,
    title: str,
    text: str,
    now: datetime,
    notification_id: str | None = None,
) -> None:
    """Queue a push to one device's token for the session's tenant, due at `now`."""
    await _queue(session, MessageChannel.PUSH, token, title, text, now, None, notification_id)


async def _queue(
    session: AsyncSession,
    channel: MessageChannel,
    recipient: str,
    subject: str | None,
    body: str,
    now: datetime,
    expires_at: datetime | None,
    notification_id: str | None = None,
) -> None:
    tenant = tenant_of(session, "messages are queued in a tenant scope")
    # A plain INSERT: the application role may not read the queue back (no RETURNING), and the
    # body, an OTP code maybe, stays out of the audit chain, which would keep it for good.
    await session.execute(
        insert(MessageOutbox).values(
            tenant_id=tenant,
            id=new_uuid(),
            channel=channel,
            recipient=recipient,
            subject=subject,
            body=body,
            next_attempt_at=now,
            expires_at=expires_at,
            notification_id=notification_id,
        )
    )
