"""/api/v1/users: a profile, for its owner and administrators; the owner's devices."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from gxcore.bodies import Ident
from gxcore.http import CONDITIONAL, ETAG, VERSIONED, IfMatch, Paging, Session, app_context, etag
from gxcore.identity import users as service
from gxcore.identity.principal import CurrentUser
from gxcore.identity.schemas import DevicePage, DeviceRead, UserRead, UserUpdate

router = APIRouter(prefix="/users", tags=["users"])


@router.get("/{profile_id}", responses=VERSIONED)
async def get(
    profile_id: Ident, user: CurrentUser, session: Session, response: Response
) -> UserRead:
    found = await service.get(profile_id, session=session, principal=user)
    response.headers[ETAG] = etag(found.version)
    return found


@router.patch("/{profile_id}", responses=CONDITIONAL)
async def update(
    profile_id: Ident,
    body: UserUpdate,
    user: CurrentUser,
    session: Session,
    expected: IfMatch,
    response: Response,
) -> UserRead:
    """Change the fields given; `null` clears an optional one. With `If-Match`, only if the
    profile is still at that version (else 412 PRECONDITION_FAILED)."""
    updated = await service.update(
        profile_id, body, session=session, principal=user, expected=expected
    )
    response.headers[ETAG] = etag(updated.version)
    return updated


@router.get("/{profile_id}/devices")
async def devices(
    profile_id: Ident, user: CurrentUser, session: Session, paging: Paging
) -> DevicePage:
    """In the order they were first seen, in pages."""
    return await service.devices(profile_id, session=session, principal=user, paging=paging)


@router.post("/{profile_id}/devices/{device_id}/trust")
async def trust(
    profile_id: Ident, device_id: Ident, user: CurrentUser, session: Session, request: Request
) -> DeviceRead:
    now = app_context(request).clock()
    return await service.set_trust(
        profile_id, device_id, True, session=session, principal=user, now=now
    )


@router.delete("/{profile_id}/devices/{device_id}/trust")
async def untrust(
    profile_id: Ident, device_id: Ident, user: CurrentUser, session: Session, request: Request
) -> DeviceRead:
    now = app_context(request).clock()
    return await service.set_trust(
        profile_id, device_id, False, session=session, principal=user, now=now
    )
