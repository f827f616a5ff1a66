"""Who a database session acts for: one tenant, or the explicit, audited system scope.

A session's scope lives in `session.info["gx_scope"]`; `scope_of(session)` reads it. Tenant
sessions are opened by `gxcore.db.tenancy`; nothing else sets a scope.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from gxcore.errors import TenantScopeRequired, ValidationFailed

SCOPE_KEY = "gx_scope"
# Tenant ids travel into SQL settings; a strict alphabet keeps them inert.
_TENANT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}")


class InvalidTenant(ValidationFailed):
    code = "INVALID_TENANT"


def valid_tenant_id(tenant_id: str) -> str:
    if not isinstance(tenant_id, str) or not _TENANT_ID.fullmatch(tenant_id):
        raise InvalidTenant(f"invalid tenant id {tenant_id!r}: use 1-64 of A-Z a-z 0-9 _ . : -")
    return tenant_id


@dataclass(frozen=True)
class RequestMeta:
    """What the audit log records about the request behind a change, when there is one."""

    ip_address: str | None = None
    user_agent: str | None = None
    device_id: str | None = None
    session_id: str | None = None


@dataclass(frozen=True)
class Scope:
    tenant_id: str | None
    system: bool = False
    #: Why a system scope was opened (required for it; recorded in the log).
    reason: str | None = None
    actor_profile_id: str | None = None
    request: RequestMeta | None = None

    @classmethod
    def for_tenant(
        cls,
        tenant_id: str,
        *,
        actor_profile_id: str | None = None,
        request: RequestMeta | None = None,
    ) -> Scope:
        return cls(valid_tenant_id(tenant_id), actor_profile_id=actor_profile_id, request=request)

    @classmethod
    def for_system(cls, reason: str) -> Scope:
        if not reason.strip():
            raise ValidationFailed("a system scope needs a reason")
        return cls(None, system=True, reason=reason)


def scope_of(session: Session) -> Scope | None:
    return session.info.get(SCOPE_KEY)


def tenant_of(session: AsyncSession, needs: str) -> str:
    """The tenant of the session's scope; TenantScopeRequired, saying `needs`, when it has none
    (no scope, or the system scope)."""
    scope = scope_of(session.sync_session)
    if scope is None or scope.tenant_id is None:
        raise TenantScopeRequired(needs)
    return scope.tenant_id
