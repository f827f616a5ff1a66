"""Who a caller is once signed in, and what keeps a profile out: roles, `Principal`, the checks.

Pure rules, no HTTP: the login service and the request dependency (gxcore.identity.principal)
apply the same ones.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum

from sqlalchemy.ext.asyncio import AsyncSession

from gxcore.db.scope import SCOPE_KEY, RequestMeta, scope_of
from gxcore.enums import UserProfileStatus
from gxcore.errors import AccountFrozen, AccountInactive, AccountLocked, Forbidden
from gxcore.identity.models import UserProfile

S = UserProfileStatus
#: Statuses that may not sign in, nor keep using a session.
BARRED = frozenset({S.FROZEN, S.DENIED, S.SUSPENDED, S.CLOSED})


class UserRole(StrEnum):
    """`UserProfile.role`. ADMIN reviews registrations, acts on accounts and runs the day-to-day
    administration; SUPER_ADMIN may also do what changes the whole tenant's system (genesis,
    bootstrap, pause and resume, parameters, appointing administrators). Each role holds the
    rights of the roles below it."""

    USER = "USER"
    ADMIN = "ADMIN"
    SUPER_ADMIN = "SUPER_ADMIN"


_RANK = {UserRole.USER: 0, UserRole.ADMIN: 1, UserRole.SUPER_ADMIN: 2}


def holds(role: str, needed: UserRole) -> bool:
    """Whether a profile with `role` has the rights of `needed`: the one role check. A role
    this code does not know holds none."""
    try:
        held = UserRole(role)
    except ValueError:
        return False
    return _RANK[held] >= _RANK[needed]


def require_role(role: str, needed: UserRole) -> None:
    """Forbidden (403) unless `role` holds `needed`."""
    if not holds(role, needed):
        raise Forbidden(
            f"this needs {'an' if needed is UserRole.ADMIN else 'a'} {needed.value} role",
            requiredRole=needed.value,
        )


@dataclass(frozen=True)
class Principal:
    profile_id: str
    tenant_id: str
    session_id: str
    device_id: str
    role: str
    #: Set when a licensed partner's application calls (gxcore.partners.principal): it holds no
    #: role, and sees the tenant's data only through the operations its grants open to it.
    application_id: str | None = None

    @property
    def is_admin(self) -> bool:
        return holds(self.role, UserRole.ADMIN)

    def may_see(self, profile_id: str) -> bool:
        return self.is_admin or self.application_id is not None or profile_id == self.profile_id


def check_allowed(profile: UserProfile) -> None:
    """Refuse a locked profile, or one whose status bars signing in."""
    if profile.is_locked:
        raise AccountLocked("this account is locked; contact support")
    if profile.status in BARRED:
        refusal = AccountFrozen if profile.status is S.FROZEN else AccountInactive
        raise refusal(
            f"this account cannot sign in ({profile.status.value})",
            profileStatus=profile.status.value,
        )


def act_as(session: AsyncSession, *, profile_id: str, session_id: str, device_id: str) -> None:
    """Name the caller in the audit entries the rest of the unit of work writes."""
    scope = scope_of(session.sync_session)
    assert scope is not None and scope.tenant_id is not None
    request = replace(scope.request or RequestMeta(), session_id=session_id, device_id=device_id)
    session.sync_session.info[SCOPE_KEY] = replace(
        scope, actor_profile_id=profile_id, request=request
    )
