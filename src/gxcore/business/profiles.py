"""Organization profiles: registration by a user (its owner), verification by an administrator,
members with a role (owner, admin, member).

A profile is visible to its members and to the tenant's administrators only: to anyone else it
does not exist (404), so ids of other users' organizations reveal nothing.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gxcore.admin.models import Country
from gxcore.audit import service as audit
from gxcore.business.models import OrganizationProfile, UserOrganizationLink
from gxcore.business.schemas import (
    MANAGERS,
    MemberIn,
    MemberPage,
    MemberRead,
    MemberRole,
    OrganizationProfileIn,
    OrganizationProfileRead,
)
from gxcore.db import pages
from gxcore.db.lifecycle import transition
from gxcore.enums import AuditEventType, NotificationType, OrgProfileStatus, UserProfileStatus
from gxcore.errors import (
    AlreadyExists,
    NotPermitted,
    OrganizationProfileNotFound,
    UserNotFound,
    ValidationFailed,
)
from gxcore.identity.access import Principal
from gxcore.identity.models import UserProfile
from gxcore.notifications.inbox import notify


def read(org: OrganizationProfile) -> OrganizationProfileRead:
    return OrganizationProfileRead(
        orgProfileId=org.org_profile_id,
        legalName=org.legal_name,
        registrationNumber=org.registration_number,
        jurisdictionCountryCode=org.jurisdiction_country_code,
        address=org.address,
        status=org.status,
        createdAt=org.created_at,
        updatedAt=org.updated_at,
    )


def _member(link: UserOrganizationLink) -> MemberRead:
    return MemberRead(
        profileId=link.user_profile_id,
        orgProfileId=link.org_profile_id,
        role=MemberRole(link.role),
        addedAt=link.added_at,
    )


async def role_of(session: AsyncSession, org_profile_id: str, profile_id: str) -> MemberRole | None:
    link = await session.scalar(
        select(UserOrganizationLink).where(
            UserOrganizationLink.org_profile_id == org_profile_id,
            UserOrganizationLink.user_profile_id == profile_id,
        )
    )
    return None if link is None else MemberRole(link.role)


async def get_visible(
    session: AsyncSession, org_profile_id: str, principal: Principal, *, lock: bool = False
) -> tuple[OrganizationProfile, MemberRole | None]:
    """The profile and the caller's role in it; OrganizationProfileNotFound unless the caller is
    a member or an administrator."""
    query = select(OrganizationProfile).where(OrganizationProfile.org_profile_id == org_profile_id)
    org = await session.scalar(query.with_for_update() if lock else query)
    role = await role_of(session, org_profile_id, principal.profile_id) if org else None
    if org is None or (role is None and not principal.is_admin):
        raise OrganizationProfileNotFound(
            f"no organization profile {org_profile_id!r}", orgProfileId=org_profile_id
        )
    return org, role


async def get_managed(
    session: AsyncSession, org_profile_id: str, principal: Principal, *, lock: bool = False
) -> OrganizationProfile:
    """The profile, when the caller is its owner or one of its admins."""
    org, role = await get_visible(session, org_profile_id, principal, lock=lock)
    if role not in MANAGERS:
        raise NotPermitted("only the organization's owner or admins may do this")
    return org


async def create(
    body: OrganizationProfileIn, *, session: AsyncSession, principal: Principal
) -> OrganizationProfileRead:
    """A new organization, PENDING_VERIFICATION, with the caller as its owner."""
    if await session.get(Country, body.jurisdictionCountryCode) is None:
        raise ValidationFailed(
            f"unknown country {body.jurisdictionCountryCode!r}", field="jurisdictionCountryCode"
        )
    org = OrganizationProfile(
        legal_name=body.legalName,
        registration_number=body.registrationNumber,
        jurisdiction_country_code=body.jurisdictionCountryCode,
        address=body.address,
        status=OrgProfileStatus.PENDING_VERIFICATION,
    )
    session.add(org)
    await session.flush()
    session.add(
        UserOrganizationLink(
            user_profile_id=principal.profile_id,
            org_profile_id=org.org_profile_id,
            role=MemberRole.OWNER.value,
        )
    )
    await session.flush()
    await session.refresh(org)
    return read(org)


async def get(
    org_profile_id: str, *, session: AsyncSession, principal: Principal
) -> OrganizationProfileRead:
    org, _ = await get_visible(session, org_profile_id, principal)
    return read(org)


async def set_status(
    org_profile_id: str,
    target: OrgProfileStatus,
    reason: str | None,
    *,
    session: AsyncSession,
    admin: Principal,
) -> OrganizationProfileRead:
    """An administrator's decision (verify, reject, suspend, reinstate); the owners are told."""
    org, _ = await get_visible(session, org_profile_id, admin, lock=True)
    previous = org.status
    transition(org, target)
    await audit.record(
        session,
        event_type=AuditEventType.RECORD_UPDATED,
        resource_type="OrganizationProfile",
        resource_id=org.org_profile_id,
        previous={"status": previous.value},
        new={"status": target.value},
        metadata={"reason": reason, "decidedBy": admin.profile_id},
    )
    owners = await session.scalars(
        select(UserOrganizationLink.user_profile_id).where(
            UserOrganizationLink.org_profile_id == org.org_profile_id,
            UserOrganizationLink.role.in_([r.value for r in MANAGERS]),
        )
    )
    for owner in owners.all():
        await notify(
            session,
            profile_id=owner,
            type=NotificationType.SYSTEM_ANNOUNCEMENT,
            title=f"Organization {target.value.lower().replace('_', ' ')}",
            message=f"{org.legal_name} is now {target.value}" + (f": {reason}" if reason else "."),
            resource_type="OrganizationProfile",
            resource_id=org.org_profile_id,
        )
    await session.flush()
    await session.refresh(org)
    return read(org)


async def add_member(
    org_profile_id: str, body: MemberIn, *, session: AsyncSession, principal: Principal
) -> MemberRead:
    """Owner and admins add members or admins; there is one owner, the creator."""
    org = await get_managed(session, org_profile_id, principal, lock=True)
    if body.role is MemberRole.OWNER:
        raise ValidationFailed("an organization has one owner, its creator", field="role")
    user = await session.get(UserProfile, body.profileId)
    if user is None or user.deleted_at is not None or user.status is not UserProfileStatus.ACTIVE:
        raise UserNotFound(f"no active user {body.profileId!r}", field="profileId")
    if await role_of(session, org.org_profile_id, body.profileId) is not None:
        raise AlreadyExists(f"{body.profileId!r} is a member already", field="profileId")
    link = UserOrganizationLink(
        user_profile_id=body.profileId, org_profile_id=org.org_profile_id, role=body.role.value
    )
    session.add(link)
    await session.flush()
    await session.refresh(link)
    return _member(link)


async def members(
    org_profile_id: str, *, session: AsyncSession, principal: Principal, paging: pages.PageRequest
) -> MemberPage:
    """In the order they were added, in pages."""
    org, _ = await get_visible(session, org_profile_id, principal)
    query = select(UserOrganizationLink).where(
        UserOrganizationLink.org_profile_id == org.org_profile_id
    )
    order = pages.Order.oldest_first(UserOrganizationLink.added_at, UserOrganizationLink.id)
    found = await pages.fetch_scalars(session, query, order, paging)
    return MemberPage.of(found, [_member(link) for link in found.rows])
