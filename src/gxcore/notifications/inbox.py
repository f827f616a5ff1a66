"""In-app notifications: written by the features, read and filed by their recipients.

`notify` adds one `Notification` row for a profile in the caller's transaction: the user's
inbox entry, committed (or not) with the change it tells about. Nothing is sent from here: asked
to deliver it by email or push, it queues the messages (`gxcore.notifications.service`) in the
same transaction, one email to the profile's address and one push per active token (one per
device), each linked to the notification; the worker delivers them after commit, with retries,
and records `sentViaEmail`/`sentViaPush` on the notification. A delivery that fails is the
message's (FAILED in the queue), never the change's. The projector writes the balance
notices set-based (`gxcore.cqrs.postings`). The rest is the recipient's: newest-first pages,
the unread count, READ / ARCHIVED / ACTIONED by the one lifecycle, and expiry.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import ColumnElement, delete, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from gxcore.db import pages
from gxcore.db.base import new_uuid
from gxcore.db.lifecycle import transition
from gxcore.db.scope import tenant_of
from gxcore.enums import MessageChannel, NotificationStatus, NotificationType
from gxcore.errors import NotificationNotFound
from gxcore.identity.access import Principal
from gxcore.identity.models import UserProfile
from gxcore.notifications import service as messages
from gxcore.notifications.models import Notification, PushToken
from gxcore.notifications.schemas import NotificationPage, NotificationRead


async def notify(
    session: AsyncSession,
    *,
    profile_id: str,
    type: NotificationType,
    title: str,
    message: str,
    resource_type: str | None = None,
    resource_id: str | None = None,
    deliver: Collection[MessageChannel] = (),
    now: datetime | None = None,
) -> None:
    """Add an UNREAD notification for `profile_id` of the session's tenant, about the resource
    named, if any; with `deliver` (EMAIL, PUSH), also queue it by those channels, due `now`."""
    tenant = tenant_of(session, "notifications are written in a tenant scope")
    notification_id = new_uuid()
    session.add(
        Notification(
            notification_id=notification_id,
            tenant_id=tenant,
            recipient_id=profile_id,
            type=type,
            title=title,
            message=message,
            action_resource_type=resource_type,
            action_resource_id=resource_id,
        )
    )
    if not deliver:
        return
    assert now is not None, "a delivered notification is queued for a time"
    if MessageChannel.EMAIL in deliver:
        email = await session.scalar(
            select(UserProfile.email).where(UserProfile.profile_id == profile_id)
        )
        if email:
            await messages.queue_email(
                session, to=email, subject=title, text=message, now=now,
                notification_id=notification_id,
            )  # fmt: skip
    if MessageChannel.PUSH in deliver:
        tokens = await session.scalars(
            select(PushToken.token).where(PushToken.profile_id == profile_id, PushToken.is_active)
        )
        for token in tokens:
            await messages.queue_push(
                session, token=token, title=title, text=message, now=now,
                notification_id=notification_id,
            )  # fmt: skip


# --------------------------------------------------------------------------------------------
# The recipient's view: a user reads and files their own notifications only
# --------------------------------------------------------------------------------------------


def _mine(principal: Principal, now: datetime) -> list[ColumnElement[bool]]:
    """The signed-in user's notifications that have not expired."""
    return [
        Notification.recipient_id == principal.profile_id,
        or_(Notification.expires_at.is_(None), Notification.expires_at > now),
    ]


def _read(n: Notification) -> NotificationRead:
    return NotificationRead(
        notificationId=n.notification_id,
        type=n.type,
        title=n.title,
        message=n.message,
        status=n.status,
        actionUrl=n.action_url,
        actionRequired=n.action_required,
        actionResourceType=n.action_resource_type,
        actionResourceId=n.action_resource_id,
        createdAt=n.created_at,
        readAt=n.read_at,
        actionedAt=n.actioned_at,
        expiresAt=n.expires_at,
    )


async def page(
    *,
    session: AsyncSession,
    principal: Principal,
    now: datetime,
    paging: pages.PageRequest,
    unread: bool = False,
) -> NotificationPage:
    """Newest first, in pages on (createdAt, notificationId); `unread` only UNREAD."""
    query = select(Notification).where(*_mine(principal, now))
    if unread:
        query = query.where(Notification.status == NotificationStatus.UNREAD)
    order = pages.Order.newest_first(Notification.created_at, Notification.notification_id)
    found = await pages.fetch_scalars(session, query, order, paging)
    return NotificationPage.of(found, [_read(n) for n in found.rows])


async def unread_count(*, session: AsyncSession, principal: Principal, now: datetime) -> int:
    return (
        await session.scalar(
            select(func.count())
            .select_from(Notification)
            .where(*_mine(principal, now), Notification.status == NotificationStatus.UNREAD)
        )
        or 0
    )


async def file(
    notification_id: str,
    target: NotificationStatus,
    *,
    session: AsyncSession,
    principal: Principal,
    now: datetime,
) -> NotificationRead:
    """Move one of the user's notifications to READ, ARCHIVED or ACTIONED (the lifecycle's
    rules; asking for the status it has already is answered as it is)."""
    n = await session.scalar(
        select(Notification)
        .where(Notification.notification_id == notification_id, *_mine(principal, now))
        .with_for_update()
    )
    if n is None:
        raise NotificationNotFound(
            f"no notification {notification_id!r}", notificationId=notification_id
        )
    if n.status is not target:
        transition(n, target)
        if target is NotificationStatus.READ:
            n.read_at = now
        elif target is NotificationStatus.ACTIONED:
            n.actioned_at = now
        await session.flush()
    return _read(n)


async def mark_all_read(*, session: AsyncSession, principal: Principal, now: datetime) -> int:
    """Every UNREAD notification of the user READ; returns how many."""
    rows = (
        await session.scalars(
            select(Notification)
            .where(*_mine(principal, now), Notification.status == NotificationStatus.UNREAD)
            .with_for_update()
        )
    ).all()
    for n in rows:  # through the ORM, so each change is audited like any other
        transition(n, NotificationStatus.READ)
        n.read_at = now
    await session.flush()
    return len(rows)


async def delete_expired(*, session: AsyncSession, now: datetime, limit: int = 1000) -> int:
    """Delete up to `limit` notifications past `expiresAt` in every tenant the session sees
    (the system scope, `gx jobs cleanup`); rows locked by a request are skipped."""
    due = (
        select(Notification.notification_id)
        .where(Notification.expires_at <= now)
        .order_by(Notification.expires_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    result = await session.execute(
        delete(Notification)
        .where(Notification.notification_id.in_(due))
        .returning(Notification.notification_id)
        .execution_options(synchronize_session=False)
    )
    return len(result.all())
