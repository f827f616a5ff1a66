"""Sign-in, token refresh, logout and revocation (svc-identity, `/auth`).

A login opens a `UserSession` (bound to a `TrustedDevice`, recorded by fingerprint on first
sight) and answers with a short-lived access token and a rotating refresh token
(gxcore.identity.tokens). Presenting a genuine refresh token of an earlier generation than the
session's current one means two parties hold the session: it is revoked at once
(REFRESH_TOKEN_REUSED). A token this server did not issue is only invalid: knowing a session id
(it is in every access token) is not enough to end the session.

Failed logins are limited per account and per client address (gxcore.identity.throttle).

A refused call rolls its unit of work back. What it must keep is written apart, in a transaction
of its own (`Database.beside`): a failed or refused login's entry (it counts towards the lockout),
and a refresh's decision, taken under the session's lock (the revocation of a replayed token
stands though the call fails).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gxcore.admin.service import read_ints
from gxcore.audit import service as audit
from gxcore.db.base import new_uuid
from gxcore.db.lifecycle import transition
from gxcore.db.scope import RequestMeta
from gxcore.db.tenancy import Database
from gxcore.enums import AuditEventType, SessionStatus
from gxcore.errors import (
    GxError,
    InvalidCredentials,
    RefreshTokenReused,
    SessionRevoked,
    TokenExpired,
    TokenInvalid,
)
from gxcore.identity import throttle, tokens
from gxcore.identity.access import Principal, act_as, check_allowed
from gxcore.identity.models import TrustedDevice, UserProfile, UserSession
from gxcore.identity.passwords import verify_password
from gxcore.identity.schemas import (
    LoginDevice,
    LoginRequest,
    LoginResponse,
    RefreshRequest,
    TokenPair,
)
from gxcore.identity.throttle import FAILURE, REFUSED, SUCCESS

UNKNOWN_DEVICE = "Unknown device"


@dataclass(frozen=True)
class AuthPolicy:
    access_ttl: timedelta
    refresh_ttl: timedelta
    max_failures: int
    lockout: timedelta


async def load_policy(session: AsyncSession) -> AuthPolicy:
    values = await read_ints(
        session,
        ("accessTokenTtlMinutes", "refreshTokenTtlDays", "loginMaxFailures", "loginLockoutMinutes"),
    )
    return AuthPolicy(
        access_ttl=timedelta(minutes=values["accessTokenTtlMinutes"]),
        refresh_ttl=timedelta(days=values["refreshTokenTtlDays"]),
        max_failures=values["loginMaxFailures"],
        lockout=timedelta(minutes=values["loginLockoutMinutes"]),
    )


@dataclass(frozen=True)
class Context:
    """The unit of work's session (and its database, for the writes kept apart), the time, the
    signing key, the tenant and the caller."""

    session: AsyncSession
    database: Database
    now: datetime
    jwt_key: bytes
    tenant_id: str
    client: RequestMeta


# --------------------------------------------------------------------------------------------
# Login
# --------------------------------------------------------------------------------------------


async def login(data: LoginRequest, *, ctx: Context) -> LoginResponse:
    policy = await load_policy(ctx.session)
    attempt = throttle.Attempt(
        session=ctx.session,
        tag=throttle.account_tag(ctx.jwt_key, data.email),
        address=ctx.client.ip_address,
        now=ctx.now,
    )
    await throttle.check(attempt, max_failures=policy.max_failures, window=policy.lockout)
    profile = await ctx.session.scalar(select(UserProfile).where(UserProfile.email == data.email))
    if not await verify_password(profile.password_hash if profile else None, data.password):
        await _record_apart(ctx, attempt, None if profile is None else profile.profile_id, FAILURE)
        raise InvalidCredentials("wrong email or password")
    assert profile is not None
    try:
        check_allowed(profile)
    except GxError as e:
        await _record_apart(ctx, attempt, profile.profile_id, REFUSED, reason=e.code)
        raise
    device, is_new = await _device(ctx, profile, data)
    row, refresh = _new_session(ctx, policy, profile, device)
    act_as(ctx.session, profile_id=profile.profile_id, session_id=row.session_id,
           device_id=device.device_id)  # fmt: skip
    ctx.session.add(row)
    await audit.record(
        ctx.session,
        event_type=AuditEventType.SESSION_CREATED,
        resource_type="UserSession",
        resource_id=row.session_id,
        target_profile_id=profile.profile_id,
        metadata={"deviceId": device.device_id, "expiresAt": row.expires_at.isoformat()},
    )
    await throttle.record(
        attempt, profile.profile_id, SUCCESS, sessionId=row.session_id,
        deviceId=device.device_id, newDevice=is_new,
    )  # fmt: skip
    pair = _pair(ctx, policy, profile, row, refresh)
    return LoginResponse(
        **pair.model_dump(),
        profileId=profile.profile_id,
        status=profile.status,
        role=profile.role,
        device=LoginDevice(**device_read(device), isNew=is_new),
    )


async def _record_apart(
    ctx: Context, attempt: throttle.Attempt, profile_id: str | None, outcome: str, **details: object
) -> None:
    """A refused attempt's entry, committed on its own: the call's unit of work rolls back. The
    account's lock (throttle.check) is held meanwhile, so the next attempt counts this one."""
    async with ctx.database.beside(ctx.session) as session:
        await throttle.record(replace(attempt, session=session), profile_id, outcome, **details)


async def _device(
    ctx: Context, profile: UserProfile, data: LoginRequest
) -> tuple[TrustedDevice, bool]:
    """The profile's device with this fingerprint, recorded now if it is new."""
    fingerprint = data.deviceFingerprint or _agent_fingerprint(ctx.client.user_agent)
    device = await ctx.session.scalar(
        select(TrustedDevice).where(
            TrustedDevice.profile_id == profile.profile_id,
            TrustedDevice.device_fingerprint == fingerprint,
        )
    )
    if device is not None:
        device.last_seen_at = ctx.now
        return device, False
    device = TrustedDevice(
        device_id=new_uuid(),
        profile_id=profile.profile_id,
        device_name=data.deviceName or UNKNOWN_DEVICE,
        device_fingerprint=fingerprint,
        device_os=data.deviceOs,
        first_seen_at=ctx.now,
        last_seen_at=ctx.now,
    )
    ctx.session.add(device)
    return device, True


def _agent_fingerprint(user_agent: str | None) -> str:
    # A client that sends no fingerprint: its user agent is the best stable guess there is.
    return "ua:" + hashlib.sha256((user_agent or "").encode()).hexdigest()[:32]


def _new_session(
    ctx: Context, policy: AuthPolicy, profile: UserProfile, device: TrustedDevice
) -> tuple[UserSession, tokens.RefreshToken]:
    session_id = new_uuid()
    refresh = tokens.new_refresh(ctx.jwt_key, session_id, 0)
    row = UserSession(
        session_id=session_id,
        profile_id=profile.profile_id,
        device_id=device.device_id,
        device_name=device.device_name,
        device_os=device.device_os,
        ip_address=ctx.client.ip_address or "unknown",
        user_agent=ctx.client.user_agent or "",
        status=SessionStatus.ACTIVE,
        created_at=ctx.now,
        last_activity_at=ctx.now,
        expires_at=ctx.now + policy.refresh_ttl,
        refresh_token=refresh.handle,
        refresh_token_hash=refresh.digest,
    )
    return row, refresh


def _pair(
    ctx: Context,
    policy: AuthPolicy,
    profile: UserProfile,
    row: UserSession,
    refresh: tokens.RefreshToken,
) -> TokenPair:
    access, expires_at = tokens.issue_access(
        ctx.jwt_key,
        profile_id=profile.profile_id,
        tenant_id=ctx.tenant_id,
        session_id=row.session_id,
        role=profile.role,
        now=ctx.now,
        ttl=policy.access_ttl,
    )
    return TokenPair(
        accessToken=access,
        expiresIn=int(policy.access_ttl.total_seconds()),
        expiresAt=expires_at,
        refreshToken=refresh.token,
        refreshExpiresAt=row.expires_at,
        sessionId=row.session_id,
    )


def device_read(device: TrustedDevice) -> dict[str, object]:
    return {
        "deviceId": device.device_id,
        "deviceName": device.device_name,
        "deviceOs": device.device_os,
        "isTrusted": device.is_trusted or False,
        "firstSeenAt": device.first_seen_at,
        "lastSeenAt": device.last_seen_at,
    }


# --------------------------------------------------------------------------------------------
# Refresh
# --------------------------------------------------------------------------------------------


async def refresh(data: RefreshRequest, *, ctx: Context) -> TokenPair:
    """Rotate: the presented token stops working, a new one (and a new access token) replaces it.

    Decided under the session's lock in a transaction of its own, which commits the rotation, or
    the revocation when a genuine token of an earlier generation comes back.
    """
    policy = await load_policy(ctx.session)
    session_id, generation = tokens.parse_token(data.refreshToken)
    reused: RefreshTokenReused | None = None
    async with ctx.database.beside(ctx.session) as session:
        row = await session.scalar(
            select(UserSession).where(UserSession.session_id == session_id).with_for_update()
        )
        # Nothing is decided on a token this server did not issue: a forged `<sid>.0.x` ends
        # no session, and learns nothing of its state.
        if row is None or not tokens.issued(ctx.jwt_key, data.refreshToken):
            raise TokenInvalid("invalid refresh token")
        current = tokens.generation_of(row.refresh_token)
        if generation > current:  # a generation this session has not reached: none was handed out
            raise TokenInvalid("invalid refresh token")
        if row.status is not SessionStatus.ACTIVE:
            raise SessionRevoked("this session has ended; sign in again")
        if ctx.now >= row.expires_at:
            raise TokenExpired("the refresh token has expired; sign in again")
        act_as(session, profile_id=row.profile_id, session_id=row.session_id,
               device_id=row.device_id)  # fmt: skip
        if generation < current:
            await end_session(session, row, SessionStatus.REVOKED, now=ctx.now,
                              reason="refresh token reused")  # fmt: skip
            reused = RefreshTokenReused(
                "this refresh token was already used; the session is revoked, sign in again"
            )
        else:
            profile = await session.get(UserProfile, row.profile_id)
            assert profile is not None
            check_allowed(profile)
            new = tokens.new_refresh(ctx.jwt_key, row.session_id, current + 1)
            row.refresh_token, row.refresh_token_hash = new.handle, new.digest
            row.last_activity_at = ctx.now
            row.expires_at = ctx.now + policy.refresh_ttl
            pair = _pair(ctx, policy, profile, row, new)
    if reused is not None:
        raise reused
    return pair


# --------------------------------------------------------------------------------------------
# Ending sessions
# --------------------------------------------------------------------------------------------


async def end_session(
    session: AsyncSession, row: UserSession, status: SessionStatus, *, now: datetime, reason: str
) -> None:
    """ACTIVE -> LOGGED_OUT (USER_LOGOUT) or REVOKED (SESSION_REVOKED), with when and why."""
    transition(row, status)
    row.revoked_at = now
    row.revoked_reason = reason
    await audit.record(
        session,
        event_type=(
            AuditEventType.USER_LOGOUT
            if status is SessionStatus.LOGGED_OUT
            else AuditEventType.SESSION_REVOKED
        ),
        resource_type="UserSession",
        resource_id=row.session_id,
        target_profile_id=row.profile_id,
        metadata={"reason": reason},
    )


async def logout(principal: Principal, *, ctx: Context) -> None:
    row = await ctx.session.get(UserSession, principal.session_id, with_for_update=True)
    assert row is not None  # the principal's session was just read
    await end_session(ctx.session, row, SessionStatus.LOGGED_OUT, now=ctx.now, reason="logout")


async def revoke_all(session: AsyncSession, profile_id: str, *, now: datetime, reason: str) -> int:
    """Revoke every active session of the profile (the caller's own included); how many."""
    rows = (
        await session.scalars(
            select(UserSession)
            .where(
                UserSession.profile_id == profile_id,
                UserSession.status == SessionStatus.ACTIVE,
            )
            .order_by(UserSession.created_at)
            .with_for_update()
        )
    ).all()
    for row in rows:
        await end_session(session, row, SessionStatus.REVOKED, now=now, reason=reason)
    return len(rows)
