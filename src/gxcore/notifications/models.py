"""notifications models."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import ForeignKey, Index, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from gxcore.db.base import NOW, Base, TenantScoped, new_uuid
from gxcore.enums import MessageChannel, MessageStatus, NotificationStatus, NotificationType

if TYPE_CHECKING:
    from gxcore.identity.models import UserProfile


class Notification(TenantScoped, Base):
    __tablename__ = "Notification"
    __table_args__ = (
        Index(None, "tenant_id", "recipient_id", "status"),
        Index(None, "tenant_id", "recipient_id", "created_at"),
        Index(None, "expires_at"),
        Index(None, "tenant_id", "type", "status"),
    )
    notification_id: Mapped[str] = mapped_column(primary_key=True, default=new_uuid)
    tenant_id: Mapped[str]
    recipient_id: Mapped[str] = mapped_column(
        ForeignKey("UserProfile.profile_id", ondelete="CASCADE", onupdate="CASCADE")
    )
    type: Mapped[NotificationType]
    title: Mapped[str]
    message: Mapped[str]
    action_url: Mapped[str | None]
    action_required: Mapped[bool] = mapped_column(server_default=text("false"))
    action_resource_type: Mapped[str | None]
    action_resource_id: Mapped[str | None]
    status: Mapped[NotificationStatus] = mapped_column(server_default="UNREAD")
    read_at: Mapped[datetime | None]
    actioned_at: Mapped[datetime | None]
    sent_via_email: Mapped[bool] = mapped_column(server_default=text("false"))
    sent_via_push: Mapped[bool] = mapped_column(server_default=text("false"))
    email_sent_at: Mapped[datetime | None]
    push_sent_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(server_default=NOW)
    expires_at: Mapped[datetime | None]
    recipient: Mapped[UserProfile] = relationship(foreign_keys=[recipient_id])


class PushToken(TenantScoped, Base):
    __tablename__ = "PushToken"
    __table_args__ = (
        Index(None, "tenant_id", "token", unique=True),
        Index(None, "tenant_id", "profile_id", "token", unique=True),
        Index(None, "tenant_id", "is_active"),
    )
    token_id: Mapped[str] = mapped_column(primary_key=True, default=new_uuid)
    tenant_id: Mapped[str]
    profile_id: Mapped[str] = mapped_column(
        ForeignKey("UserProfile.profile_id", ondelete="CASCADE", onupdate="CASCADE")
    )
    token: Mapped[str]
    device_id: Mapped[str | None]
    platform: Mapped[str]
    is_active: Mapped[bool] = mapped_column(server_default=text("true"))
    created_at: Mapped[datetime] = mapped_column(server_default=NOW)
    last_used_at: Mapped[datetime] = mapped_column(server_default=NOW)
    user_profile: Mapped[UserProfile] = relationship(foreign_keys=[profile_id])


class MessageOutbox(TenantScoped, Base):
    """An email or SMS waiting for, or done with, delivery (gxcore.notifications.worker).

    Written in the transaction of the change that causes it (`service.queue_*`), delivered after
    commit by the worker. `body` is emptied once the message is SENT or FAILED: an OTP code lives
    in it no longer than needed. The application role may only insert (revision f3c4d5e6a7b8).
    """

    __tablename__ = "MessageOutbox"
    __table_args__ = (
        # The worker's claim: messages still to deliver, by due time.
        Index(None, "next_attempt_at", postgresql_where=text("status = 'PENDING'")),
    )
    tenant_id: Mapped[str] = mapped_column(primary_key=True)
    id: Mapped[str] = mapped_column(primary_key=True, default=new_uuid)
    channel: Mapped[MessageChannel]
    recipient: Mapped[str]
    subject: Mapped[str | None]
    body: Mapped[str]
    status: Mapped[MessageStatus] = mapped_column(server_default="PENDING")
    attempts: Mapped[int] = mapped_column(server_default=text("0"))
    #: When the worker may (re)try it: at once, after a backoff, or when a claim's lease ends.
    next_attempt_at: Mapped[datetime] = mapped_column(server_default=NOW)
    last_error: Mapped[str | None]
    created_at: Mapped[datetime] = mapped_column(server_default=NOW)
    sent_at: Mapped[datetime | None]
    #: Not delivered after this (an OTP code's expiry): it ends FAILED instead.
    expires_at: Mapped[datetime | None]
    #: The in-app notification this message delivers by email or push, if any: once SENT, the
    #: worker records it there (`sentViaEmail`/`sentViaPush` and their times).
    notification_id: Mapped[str | None]
