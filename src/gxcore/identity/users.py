"""Profiles as their owner (or an administrator) sees and edits them; the owner's devices.

Another user's profile is not found (404) by a non-admin, as a profile of another tenant is not
found even by this tenant's administrators (the tenant scope never sees it).
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gxcore.audit import service as audit
from gxcore.db import pages, versions
from gxcore.enums import AuditEventType
from gxcore.errors import DeviceNotFound, UserNotFound
from gxcore.identity.access import Principal
from gxcore.identity.auth import device_read
from gxcore.identity.models import NATIONAL_ID_PLACEHOLDER, TrustedDevice, UserProfile
from gxcore.identity.schemas import DevicePage, DeviceRead, UserRead, UserUpdate

# UserUpdate's fields and the profile attributes they set.
_UPDATABLE = {
    "firstName": "first_name",
    "middleName": "middle_name",
    "lastName": "last_name",
    "placeOfBirth": "place_of_birth",
    "employmentStatus": "employment_status",
    "jobTitle": "job_title",
    "companyName": "company_name",
    "industry": "industry",
    "workEmail": "work_email",
    "workPhoneNum": "work_phone_num",
}


def read(profile: UserProfile) -> UserRead:
    return UserRead(
        profileId=profile.profile_id,
        email=profile.email,
        phoneNum=profile.phone_num,
        firstName=profile.first_name,
        middleName=profile.middle_name,
        lastName=profile.last_name,
        dateOfBirth=profile.date_of_birth,
        gender=profile.gender,
        placeOfBirth=profile.place_of_birth,
        nationalityCountryCode=profile.nationality_country_code,
        status=profile.status,
        role=profile.role,
        employmentStatus=profile.employment_status,
        jobTitle=profile.job_title,
        companyName=profile.company_name,
        industry=profile.industry,
        workEmail=profile.work_email,
        workPhoneNum=profile.work_phone_num,
        isLocked=profile.is_locked,
        reviewedAt=profile.reviewed_at,
        denialReason=profile.denial_reason,
        createdAt=profile.created_at,
        updatedAt=profile.updated_at,
        version=profile.version,
    )


async def get_or_raise(
    session: AsyncSession, profile_id: str, *, lock: bool = False
) -> UserProfile:
    profile = await session.get(UserProfile, profile_id, with_for_update=lock)
    if profile is None:
        raise UserNotFound("no such user")
    return profile


def _require_access(principal: Principal, profile_id: str) -> None:
    if not principal.may_see(profile_id):
        # Another user's profile is, for this caller, one that does not exist: a 403 would
        # confirm the id.
        raise UserNotFound("no such user")


async def get(profile_id: str, *, session: AsyncSession, principal: Principal) -> UserRead:
    _require_access(principal, profile_id)
    return read(await get_or_raise(session, profile_id))


async def update(
    profile_id: str,
    data: UserUpdate,
    *,
    session: AsyncSession,
    principal: Principal,
    expected: Collection[int] | None = None,
) -> UserRead:
    """Set the fields the request names, if the profile is at a version `expected` (any when
    None); PROFILE_UPDATED is audited by the flush, per column."""
    _require_access(principal, profile_id)
    profile = await get_or_raise(session, profile_id, lock=True)
    versions.require(profile, expected, what=f"user {profile_id}")
    for field in data.model_fields_set:
        setattr(profile, _UPDATABLE[field], getattr(data, field))
    await session.flush()
    await session.refresh(profile, ["updated_at"])
    return read(profile)


# --------------------------------------------------------------------------------------------
# Devices
# --------------------------------------------------------------------------------------------


async def devices(
    profile_id: str, *, session: AsyncSession, principal: Principal, paging: pages.PageRequest
) -> DevicePage:
    """In the order they were first seen, in pages."""
    _require_access(principal, profile_id)
    await get_or_raise(session, profile_id)
    query = select(TrustedDevice).where(TrustedDevice.profile_id == profile_id)
    order = pages.Order.oldest_first(TrustedDevice.first_seen_at, TrustedDevice.device_id)
    found = await pages.fetch_scalars(session, query, order, paging)
    return DevicePage.of(found, [DeviceRead(**device_read(d)) for d in found.rows])


async def set_trust(
    profile_id: str,
    device_id: str,
    trusted: bool,
    *,
    session: AsyncSession,
    principal: Principal,
    now: datetime,
) -> DeviceRead:
    """Mark a device trusted (DEVICE_TRUSTED) or no longer trusted (DEVICE_UNTRUSTED)."""
    _require_access(principal, profile_id)
    device = await session.scalar(
        select(TrustedDevice)
        .where(TrustedDevice.profile_id == profile_id, TrustedDevice.device_id == device_id)
        .with_for_update()
    )
    if device is None:
        raise DeviceNotFound("no such device for this user")
    if device.is_trusted != trusted:
        device.is_trusted = trusted
        device.trust_verified_at = now if trusted else None
        await audit.record(
            session,
            event_type=AuditEventType.DEVICE_TRUSTED
            if trusted
            else AuditEventType.DEVICE_UNTRUSTED,
            resource_type="TrustedDevice",
            resource_id=device.device_id,
            target_profile_id=profile_id,
        )
    return DeviceRead(**device_read(device))


async def record_national_id(session: AsyncSession, profile_id: str, number: str) -> bool:
    """Put an approved national id number on the profile in place of its placeholder.

    Called when KYC approves a national id document. A number already on the profile stays (a
    second approval never silently changes it), and so does the placeholder when another
    profile of the tenant holds the number (the unique key would refuse it). True if written.
    """
    profile = await session.get(UserProfile, profile_id, with_for_update=True)
    if profile is None or not profile.national_id_number.startswith(NATIONAL_ID_PLACEHOLDER):
        return False
    holder = await session.scalar(
        select(UserProfile.profile_id).where(UserProfile.national_id_number == number)
    )
    if holder is not None:
        return False
    profile.national_id_number = number
    return True
