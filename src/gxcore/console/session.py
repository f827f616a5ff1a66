"""The console's sign-in: the API's own login, its access token kept in a cookie.

Signing in calls `identity.auth.login` (the same throttle, lockout, device and session records
as `POST /auth/login`); a profile without the ADMIN role is refused and its login rolled back.
The access token goes into an HttpOnly, SameSite=Strict cookie (Secure when served over https)
scoped to /console; each request checks it exactly as a bearer token is checked
(`identity.principal.current_principal`: signature, expiry, an ACTIVE session, a profile allowed
to sign in, the role read from the database). The token names its tenant, so the console works
in the signed-in administrator's tenant only. An expired token sends the browser back to the
sign-in form; signing out ends the session as `POST /auth/logout` does.

CSRF: every form carries a token. Before sign-in it is a random value also set in a cookie
(double submit); after, an HMAC of the session id under the server's JWT key, so a page of
another site can neither read nor forge it, and SameSite=Strict keeps the cookie off its
requests anyway.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Request
from fastapi.responses import Response
from fastapi.security import HTTPAuthorizationCredentials
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from gxcore.db.scope import scope_of, valid_tenant_id
from gxcore.errors import Forbidden, GxError, TokenExpired, Unauthorized
from gxcore.http import app_context, request_now, tenant_transaction
from gxcore.identity import auth, tokens
from gxcore.identity.access import Principal, UserRole, require_role
from gxcore.identity.principal import current_principal
from gxcore.identity.schemas import RefreshRequest, TokenPair

#: Where a request that rotated its tokens leaves them for the response's cookies.
_ROTATED = "console_tokens"

PREFIX = "/console"
SIGN_IN = f"{PREFIX}/sign-in"
TOKEN_COOKIE = "gx_console"
REFRESH_COOKIE = "gx_console_refresh"  # "<tenant>:<refresh token>"
FORM_COOKIE = "gx_console_form"  # the pre-sign-in CSRF value (double submit)
CSRF_FIELD = "csrf"


class SignInRequired(Unauthorized):
    """No console cookie, or one whose token no longer holds: the browser goes to sign in."""

    code = "CONSOLE_SIGN_IN_REQUIRED"


class CsrfRefused(Forbidden):
    code = "CSRF_TOKEN_INVALID"


@dataclass(frozen=True)
class Console:
    """What a signed-in console request works with: the unit of work of the admin's tenant."""

    session: AsyncSession
    admin: Principal
    now: datetime
    request: Request

    @property
    def tenant(self) -> str:
        return self.admin.tenant_id

    @property
    def csrf(self) -> str:
        return session_csrf(self.request, self.admin.session_id)


def session_csrf(request: Request, session_id: str) -> str:
    key = app_context(request).jwt_key
    return hmac.new(key, b"gx-console-csrf:" + session_id.encode(), hashlib.sha256).hexdigest()


def new_form_token() -> str:
    return secrets.token_urlsafe(32)


def set_cookie(response: Response, request: Request, name: str, value: str) -> None:
    response.set_cookie(
        name,
        value,
        path=PREFIX,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )


def clear_cookie(response: Response, request: Request, name: str) -> None:
    response.delete_cookie(
        name, path=PREFIX, httponly=True, samesite="strict", secure=request.url.scheme == "https"
    )


async def check_csrf(request: Request, expected: str) -> None:
    """CsrfRefused (403) unless the form's token is `expected`."""
    sent = (await request.form()).get(CSRF_FIELD)
    if not isinstance(sent, str) or not hmac.compare_digest(sent.encode(), expected.encode()):
        raise CsrfRefused("this form's CSRF token is missing or wrong; reload the page")


def auth_context(request: Request, session: AsyncSession, now: datetime) -> auth.Context:
    gx = app_context(request)
    scope = scope_of(session.sync_session)
    assert scope is not None and scope.tenant_id is not None and scope.request is not None
    return auth.Context(
        session=session,
        database=gx.database,
        now=now,
        jwt_key=gx.jwt_key,
        tenant_id=scope.tenant_id,
        client=scope.request,
    )


def keep_tokens(response: Response, request: Request, tenant: str, pair: TokenPair) -> None:
    """The session's cookies: the access token, and the refresh token with its tenant."""
    set_cookie(response, request, TOKEN_COOKIE, pair.accessToken)
    set_cookie(response, request, REFRESH_COOKIE, f"{tenant}:{pair.refreshToken}")


def keep_rotated(response: Response, request: Request) -> None:
    """Set the cookies of a pair this request rotated (`signed_in`), if it did."""
    if rotated := getattr(request.state, _ROTATED, None):
        keep_tokens(response, request, *rotated)


async def _token(request: Request) -> tuple[str, str]:
    """The cookie's access token and the tenant it names (signature and expiry checked); an
    expired one is replaced by rotating the refresh token."""
    token = request.cookies.get(TOKEN_COOKIE)
    if not token:
        raise SignInRequired("sign in to use the console")
    gx = app_context(request)
    try:
        claims = tokens.read_access(gx.jwt_key, token, now=gx.clock())
    except TokenExpired:
        return await _rotated(request)
    except GxError as e:  # forged, another key: sign in again
        raise SignInRequired(f"sign in again ({e.code})") from e
    return token, claims.tenant


async def _rotated(request: Request) -> tuple[str, str]:
    """`POST /auth/refresh`'s rotation, committed on its own (a reused token revokes the
    session there too); the new pair goes into the response's cookies."""
    tenant, _, refresh = request.cookies.get(REFRESH_COOKIE, "").partition(":")
    try:
        body = RefreshRequest(refreshToken=refresh)
        tenant = valid_tenant_id(tenant)
        async with tenant_transaction(request, tenant) as session:
            ctx = auth_context(request, session, request_now(request))
            pair = await auth.refresh(body, ctx=ctx)
    except (GxError, ValidationError) as e:
        raise SignInRequired("the console session has ended; sign in again") from e
    setattr(request.state, _ROTATED, (tenant, pair))
    return pair.accessToken, tenant


async def signed_in(request: Request) -> AsyncIterator[Console]:
    """The request's unit of work in the signed-in administrator's tenant; POSTs must carry the
    session's CSRF token. Anything refused rolls the unit of work back."""
    token, tenant = await _token(request)
    async with tenant_transaction(request, tenant) as session:
        credentials = HTTPAuthorizationCredentials(scheme="Bearer", credentials=token)
        try:
            admin = await current_principal(request, session, tenant, credentials)
        except Unauthorized as e:  # the session ended or the profile was barred meanwhile
            raise SignInRequired(f"sign in again ({e.code})") from e
        require_role(admin.role, UserRole.ADMIN)
        console = Console(session, admin, request_now(request), request)
        if request.method == "POST":
            await check_csrf(request, console.csrf)
        yield console


SignedIn = Annotated[Console, Depends(signed_in, scope="function")]
