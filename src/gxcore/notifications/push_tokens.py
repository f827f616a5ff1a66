"""Push tokens: where a user's devices receive push notifications.

A token belongs to one app install, so it is unique per tenant: registered again (the app asks
at every start), it is refreshed; registered by another user (the device changed hands), it
moves to that user, so the previous one stops receiving the new one's pushes. One active token
per device (one of the user's `TrustedDevice`s, named by its id; another's is not found):
registering a new token for a device the user has another one on deactivates it.
Deactivated tokens are kept for the record and never used for delivery.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gxcore.db import pages
from gxcore.errors import DeviceNotFound, PushTokenNotFound
from gxcore.identity.access import Principal
from gxcore.identity.models import TrustedDevice
from gxcore.notifications.models import PushToken
from gxcore.notifications.schemas import PushTokenIn, PushTokenPage, PushTokenRead


def _read(t: PushToken) -> PushTokenRead:
    return PushTokenRead(
        tokenId=t.token_id,
        platform=t.platform,
        deviceId=t.device_id,
        isActive=t.is_active,
        createdAt=t.created_at,
        lastUsedAt=t.last_used_at,
    )


async def register(
    body: PushTokenIn, *, session: AsyncSession, principal: Principal, now: datetime
) -> PushTokenRead:
    if (
        body.deviceId is not None
        and await session.scalar(
            select(TrustedDevice.device_id).where(
                TrustedDevice.device_id == body.deviceId,
                TrustedDevice.profile_id == principal.profile_id,
            )
        )
        is None
    ):
        raise DeviceNotFound(f"no device {body.deviceId!r} of yours", field="deviceId")
    token = await session.scalar(
        select(PushToken).where(PushToken.token == body.token).with_for_update()
    )
    if body.deviceId is not None:
        others = await session.scalars(
            select(PushToken).where(
                PushToken.profile_id == principal.profile_id,
                PushToken.device_id == body.deviceId,
                PushToken.token != body.token,
                PushToken.is_active,
            )
        )
        for other in others:
            other.is_active = False
    if token is None:
        token = PushToken(profile_id=principal.profile_id, token=body.token, created_at=now)
        session.add(token)
    token.profile_id = principal.profile_id
    token.platform, token.device_id = body.platform, body.deviceId
    token.is_active, token.last_used_at = True, now
    await session.flush()
    return _read(token)


#: The one used last first.
_MINE = pages.Order(((PushToken.last_used_at, True), (PushToken.token_id, False)))


async def mine(
    *, session: AsyncSession, principal: Principal, paging: pages.PageRequest
) -> PushTokenPage:
    query = select(PushToken).where(
        PushToken.profile_id == principal.profile_id, PushToken.is_active
    )
    found = await pages.fetch_scalars(session, query, _MINE, paging)
    return PushTokenPage.of(found, [_read(t) for t in found.rows])


async def _own(session: AsyncSession, principal: Principal, token_id: str) -> PushToken:
    token = await session.scalar(
        select(PushToken)
        .where(
            PushToken.token_id == token_id,
            PushToken.profile_id == principal.profile_id,
            PushToken.is_active,
        )
        .with_for_update()
    )
    if token is None:
        raise PushTokenNotFound(f"no active push token {token_id!r}", tokenId=token_id)
    return token


async def refresh(
    token_id: str, *, session: AsyncSession, principal: Principal, now: datetime
) -> PushTokenRead:
    """The app is alive on this token: `lastUsedAt` moves to now."""
    token = await _own(session, principal, token_id)
    token.last_used_at = now
    await session.flush()
    return _read(token)


async def deactivate(token_id: str, *, session: AsyncSession, principal: Principal) -> None:
    token = await _own(session, principal, token_id)
    token.is_active = False
    await session.flush()
