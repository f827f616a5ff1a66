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
from gxcore.errors import AccountFrozen, AccountInactive, AccountLocked
from gxcore.identity.models import UserProfile

S = UserProfileStatus
#: Statuses that may not sign in, nor keep using a session.
BARRED = frozenset({S.FROZEN, S.DENIED, S.SUSPENDED, S.CLOSED})


class UserRole(StrEnum):
    """`UserProfile.role`: ADMIN may review registrations and act on accounts."""

    USER = "USER"
    ADMIN = "ADMIN"


@dataclass(frozen=True)
class Principal:
    profile_id: str
    tenant_id: str
    session_id: str
    device_id: str
    role: str

    @property
    def is_admin(self) -> bool:
        return self.role == UserRole.ADMIN

    def may_see(self, profile_id: str) -> bool:
        return self.is_admin or profile_id == self.profile_id


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
