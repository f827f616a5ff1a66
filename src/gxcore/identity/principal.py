"""Who is calling: the `CurrentUser`, `CurrentAdmin` and `CurrentSuperAdmin` dependencies every
router reuses (roles: gxcore.identity.access).

    @router.get("/things")
    async def things(user: CurrentUser, session: Session) -> ...:   # user: Principal

A bearer access token is accepted when its signature and expiry hold, its tenant is the
request's (`X-Tenant-Id`), and its session is still ACTIVE: logging out or revoking a session
cuts its access tokens off at once, not when they expire. The profile is read in the same
query, so a profile locked, denied, suspended or closed after sign-in is refused too, and the
role comes from the database, not from the token. From then on the request's audit entries
name the caller (actor, session, device).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import select

from gxcore.enums import SessionStatus
from gxcore.errors import SessionRevoked, TokenInvalid, TokenTenantMismatch, Unauthorized
from gxcore.http import Session, app_context, tenant_id
from gxcore.identity import tokens
from gxcore.identity.access import Principal, UserRole, act_as, check_allowed, require_role
from gxcore.identity.models import UserProfile, UserSession

# auto_error=False: a missing token is our Unauthorized (problem+json), not FastAPI's 403.
_bearer = HTTPBearer(auto_error=False, description="an access token from /auth/login")
#: The bearer credentials as sent, for a route that calls `current_principal` itself.
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


async def current_principal(
    request: Request,
    session: Session,
    tenant: Annotated[str, Depends(tenant_id)],
    credentials: Credentials,
) -> Principal:
    if credentials is None:
        raise Unauthorized("sign in: this needs an `Authorization: Bearer <access token>` header")
    gx = app_context(request)
    now = gx.clock()
    claims = tokens.read_access(gx.jwt_key, credentials.credentials, now=now)
    if claims.tenant != tenant:
        raise TokenTenantMismatch("this token was issued for another tenant")
    found = (
        await session.execute(
            select(UserSession, UserProfile)
            .join(UserProfile, UserProfile.profile_id == UserSession.profile_id)
            .where(UserSession.session_id == claims.sid)
        )
    ).first()
    if found is None or found[0].profile_id != claims.sub:
        raise TokenInvalid("invalid access token")
    user_session, profile = found
    if user_session.status is not SessionStatus.ACTIVE or now >= user_session.expires_at:
        raise SessionRevoked("this session has ended; sign in again")
    check_allowed(profile)
    act_as(
        session,
        profile_id=profile.profile_id,
        session_id=user_session.session_id,
        device_id=user_session.device_id,
    )
    return Principal(
        profile_id=profile.profile_id,
        tenant_id=tenant,
        session_id=user_session.session_id,
        device_id=user_session.device_id,
        role=profile.role,
    )


CurrentUser = Annotated[Principal, Depends(current_principal, scope="function")]


async def require_admin(principal: CurrentUser) -> Principal:
    require_role(principal.role, UserRole.ADMIN)
    return principal


async def require_super_admin(principal: CurrentUser) -> Principal:
    require_role(principal.role, UserRole.SUPER_ADMIN)
    return principal


CurrentAdmin = Annotated[Principal, Depends(require_admin, scope="function")]
CurrentSuperAdmin = Annotated[Principal, Depends(require_super_admin, scope="function")]
