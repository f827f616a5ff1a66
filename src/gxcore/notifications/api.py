"""/api/v1/notifications and /api/v1/push-tokens: the signed-in user's own inbox and devices."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from gxcore.bodies import Ident
from gxcore.enums import NotificationStatus
from gxcore.http import CREATED, NO_CONTENT, Now, Paging, Session
from gxcore.identity.principal import CurrentUser
from gxcore.notifications import inbox
from gxcore.notifications import push_tokens as push
from gxcore.notifications.schemas import (
    MarkedRead,
    NotificationPage,
    NotificationRead,
    PushTokenIn,
    PushTokenPage,
    PushTokenRead,
    UnreadCount,
)

router = APIRouter(prefix="/notifications", tags=["notifications"])


@router.get("")
async def notifications(
    user: CurrentUser,
    session: Session,
    now: Now,
    paging: Paging,
    unread: Annotated[bool, Query(description="UNREAD ones only")] = False,
) -> NotificationPage:
    """Newest first, in pages; expired ones are left out."""
    return await inbox.page(session=session, principal=user, now=now, paging=paging, unread=unread)


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


tokens = APIRouter(prefix="/push-tokens", tags=["notifications"])


@tokens.get("")
async def push_tokens(user: CurrentUser, session: Session, paging: Paging) -> PushTokenPage:
    """The signed-in user's active push tokens, the one used last first, in pages (the tokens
    themselves are not shown)."""
    return await push.mine(session=session, principal=user, paging=paging)


@tokens.post("", status_code=CREATED)
async def register_push_token(
    body: PushTokenIn, user: CurrentUser, session: Session, now: Now
) -> PushTokenRead:
    """Register this app install's token (again: refreshed; another user's: moved here)."""
    return await push.register(body, session=session, principal=user, now=now)


@tokens.post("/{token_id}/refresh")
async def refresh_push_token(
    token_id: Ident, user: CurrentUser, session: Session, now: Now
) -> PushTokenRead:
    return await push.refresh(token_id, session=session, principal=user, now=now)


@tokens.delete("/{token_id}", status_code=NO_CONTENT)
async def deactivate_push_token(token_id: Ident, user: CurrentUser, session: Session) -> None:
    await push.deactivate(token_id, session=session, principal=user)
