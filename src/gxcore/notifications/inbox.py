"""In-app notifications: one `Notification` row for a profile, in the caller's transaction.

The row is the user's inbox entry, committed (or not) with the change it tells about; nothing is
sent from here (emails and SMS go through `gxcore.notifications.service`).
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from gxcore.db.scope import scope_of
from gxcore.enums import NotificationType
from gxcore.errors import TenantScopeRequired
from gxcore.notifications.models import Notification


async def notify(
    session: AsyncSession,
    *,
    profile_id: str,
    type: NotificationType,
    title: str,
    message: str,
    resource_type: str | None = None,
    resource_id: str | None = None,
) -> None:
    """Add an UNREAD notification for `profile_id` of the session's tenant, about the resource
    named, if any."""
    scope = scope_of(session.sync_session)
    if scope is None or scope.system or scope.tenant_id is None:
        raise TenantScopeRequired("notifications are written in a tenant scope")
    session.add(
        Notification(
            tenant_id=scope.tenant_id,
            recipient_id=profile_id,
            type=type,
            title=title,
            message=message,
            action_resource_type=resource_type,
            action_resource_id=resource_id,
        )
    )
