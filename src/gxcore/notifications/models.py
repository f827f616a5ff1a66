"""notifications models."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import ForeignKey, Index, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from gxcore.db.base import NOW, Base, TenantScoped, new_uuid
from gxcore.enums import NotificationStatus, NotificationType

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
        Index(None, "tenant_id", "profile_id"),
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
