"""Notification bodies for /api/v1/notifications."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, StringConstraints

from gxcore.bodies import Ident, RequestBody
from gxcore.db.pages import Page
from gxcore.enums import NotificationStatus, NotificationType


class NotificationRead(BaseModel):
    notificationId: str
    type: NotificationType
    title: str
    message: str
    status: NotificationStatus
    actionUrl: str | None
    actionRequired: bool
    actionResourceType: str | None
    actionResourceId: str | None
    createdAt: datetime
    readAt: datetime | None
    actionedAt: datetime | None
    expiresAt: datetime | None


class NotificationPage(Page[NotificationRead]):
    pass


class UnreadCount(BaseModel):
    count: int


class MarkedRead(BaseModel):
    updated: int


class PushTokenIn(RequestBody):
    #: The push service's registration token for this app install (FCM, APNs, Web Push).
    token: Annotated[str, StringConstraints(min_length=8, max_length=4096, pattern=r"^\S+$")]
    platform: Literal["ios", "android", "web"]
    deviceId: Ident | None = None


class PushTokenRead(BaseModel):
    """A registered token, without the token itself: a push credential is not shown back."""

    tokenId: str
    platform: str
    deviceId: str | None
    isActive: bool
    createdAt: datetime
    lastUsedAt: datetime


class PushTokenPage(Page[PushTokenRead]):
    pass
