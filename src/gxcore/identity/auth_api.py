"""/api/v1/auth: login, refresh, logout, revoke-all (svc-identity).

Served while the tenant's system is paused: an administrator must be able to sign in to resume
it, and anyone to end their sessions.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from gxcore.db.scope import scope_of
from gxcore.http import WHILE_PAUSED, Now, Session, app_context
from gxcore.identity import auth as service
from gxcore.identity.auth import Context
from gxcore.identity.principal import CurrentUser
from gxcore.identity.schemas import LoginRequest, LoginResponse, RefreshRequest, Revoked, TokenPair

router = APIRouter(prefix="/auth", tags=["auth"])
NO_CONTENT = 204


def _context(request: Request, session: Session, now: Now) -> Context:
    gx = app_context(request)
    scope = scope_of(session.sync_session)
    assert scope is not None and scope.tenant_id is not None and scope.request is not None
    return Context(
        session=session,
        database=gx.database,
        now=now,
        jwt_key=gx.jwt_key,
        tenant_id=scope.tenant_id,
        client=scope.request,
    )


Ctx = Annotated[Context, Depends(_context, scope="function")]


@router.post("/login", openapi_extra=WHILE_PAUSED)
async def login(body: LoginRequest, ctx: Ctx) -> LoginResponse:
    """Email and password; answers tokens, and whether this device is new to the account."""
    return await service.login(body, ctx=ctx)


@router.post("/refresh", openapi_extra=WHILE_PAUSED)
async def refresh(body: RefreshRequest, ctx: Ctx) -> TokenPair:
    """Trade a refresh token for a new pair; the old one stops working (rotation)."""
    return await service.refresh(body, ctx=ctx)


@router.post("/logout", status_code=NO_CONTENT, openapi_extra=WHILE_PAUSED)
async def logout(user: CurrentUser, ctx: Ctx) -> None:
    """End the session of the access token presented."""
    await service.logout(user, ctx=ctx)


@router.post("/revoke-all", openapi_extra=WHILE_PAUSED)
async def revoke_all(user: CurrentUser, ctx: Ctx) -> Revoked:
    """End every session of the caller, this one included."""
    count = await service.revoke_all(ctx.session, user.profile_id, now=ctx.now, reason="revoke all")
    return Revoked(revoked=count)
