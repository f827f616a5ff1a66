"""Notification bodies for /api/v1/notifications."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

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


class NotificationPage(BaseModel):
    items: list[NotificationRead]
    nextCursor: str | None


class UnreadCount(BaseModel):
    count: int


class MarkedRead(BaseModel):
    updated: int
