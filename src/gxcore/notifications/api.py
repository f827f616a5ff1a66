"""/api/v1/notifications: the signed-in user's own inbox."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from gxcore.enums import NotificationStatus
from gxcore.http import Ident, Now, Session
from gxcore.identity.principal import CurrentUser
from gxcore.notifications import inbox
from gxcore.notifications.schemas import (
    MarkedRead,
    NotificationPage,
    NotificationRead,
    UnreadCount,
)

DEFAULT_PAGE, MAX_PAGE = 50, 200

router = APIRouter(prefix="/notifications", tags=["notifications"])


@router.get("")
async def notifications(
    user: CurrentUser,
    session: Session,
    now: Now,
    unread: Annotated[bool, Query(description="UNREAD ones only")] = False,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = DEFAULT_PAGE,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> NotificationPage:
    """Newest first, in keyset pages; expired ones are left out."""
    return await inbox.page(
        session=session, principal=user, now=now, limit=limit, cursor=cursor, unread=unread
    )


@router.get("/unread-count")
async def unread_count(user: CurrentUser, session: Session, now: Now) -> UnreadCount:
    return UnreadCount(count=await inbox.unread_count(session=session, principal=user, now=now))


@router.patch("/mark-all-read")
async def mark_all_read(user: CurrentUser, session: Session, now: Now) -> MarkedRead:
    return MarkedRead(updated=await inbox.mark_all_read(session=session, principal=user, now=now))


async def _file(
    notification_id: str, target: NotificationStatus, user: CurrentUser, session: Session, now: Now
) -> NotificationRead:
    return await inbox.file(notification_id, target, session=session, principal=user, now=now)


@router.patch("/{notification_id}/read")
async def read(
    notification_id: Ident, user: CurrentUser, session: Session, now: Now
) -> NotificationRead:
    return await _file(notification_id, NotificationStatus.READ, user, session, now)


@router.patch("/{notification_id}/archive")
async def archive(
    notification_id: Ident, user: CurrentUser, session: Session, now: Now
) -> NotificationRead:
    return await _file(notification_id, NotificationStatus.ARCHIVED, user, session, now)


@router.patch("/{notification_id}/action")
async def action(
    notification_id: Ident, user: CurrentUser, session: Session, now: Now
) -> NotificationRead:
    """Mark the notification's action done (ACTIONED)."""
    return await _file(notification_id, NotificationStatus.ACTIONED, user, session, now)
