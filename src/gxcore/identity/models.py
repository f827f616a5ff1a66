"""identity models."""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import CHAR, ForeignKey, Index, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from gxcore.db.base import NOW, Base, SoftDeletable, TenantScoped, UpdatedAt, Versioned, new_uuid
from gxcore.enums import (
    AddressType,
    EmploymentStatus,
    Gender,
    RegistrationStep,
    SessionStatus,
    UserProfileStatus,
)

if TYPE_CHECKING:
    from gxcore.admin.models import Country


class PendingRegistration(TenantScoped, Base):
    __tablename__ = "PendingRegistration"
    __table_args__ = (
        Index(None, "tenant_id", "email", unique=True),
        Index(None, "tenant_id", "phone_num", unique=True),
        Index(None, "tenant_id", "migrated_to_profile_id", unique=True),
        Index(None, "tenant_id", "current_step"),
        Index(None, "expires_at"),
        Index(None, "created_at"),
    )
    id: Mapped[str] = mapped_column(primary_key=True, default=new_uuid)
    tenant_id: Mapped[str] = mapped_column(server_default="default")
    email: Mapped[str]
    email_otp_hash: Mapped[str | None]
    email_otp_expires_at: Mapped[datetime | None]
    email_otp_attempts: Mapped[int] = mapped_column(server_default=text("0"))
    email_verified: Mapped[bool] = mapped_column(server_default=text("false"))
    email_verified_at: Mapped[datetime | None]
    first_name: Mapped[str | None]
    last_name: Mapped[str | None]
    country_code: Mapped[str | None] = mapped_column(CHAR(2))
    date_of_birth: Mapped[date | None]
    gender: Mapped[Gender | None]
    password_hash: Mapped[str | None]
    phone_num: Mapped[str | None]
    phone_otp_hash: Mapped[str | None]
    phone_otp_expires_at: Mapped[datetime | None]
    phone_otp_attempts: Mapped[int] = mapped_column(server_default=text("0"))
    phone_verified: Mapped[bool] = mapped_column(server_default=text("false"))
    phone_verified_at: Mapped[datetime | None]
    current_step: Mapped[RegistrationStep] = mapped_column(server_default="EMAIL_PENDING")
    ip_address: Mapped[str | None]
    user_agent: Mapped[str | None]
    created_at: Mapped[datetime] = mapped_column(server_default=NOW)
    updated_at: Mapped[UpdatedAt]
    expires_at: Mapped[datetime]
    migrated_to_profile_id: Mapped[str | None]
    migrated_at: Mapped[datetime | None]
    # gxcore's additions (revision f1d4b5c6e7a8): when each channel's last code went out and how
    # many went out in the current 24 h window, for the resend cooldown and daily cap.
    email_otp_sent_at: Mapped[datetime | None]
    email_otp_sends: Mapped[int] = mapped_column(server_default=text("0"))
    email_otp_sends_since: Mapped[datetime | None]
    phone_otp_sent_at: Mapped[datetime | None]
    phone_otp_sends: Mapped[int] = mapped_column(server_default=text("0"))
    phone_otp_sends_since: Mapped[datetime | None]


#: What `nationalIdNumber` holds until the user's national id is known (revision 6972afdaa927
#: made it required). Lower case and a colon: never a normalized id number (gxcore.kyc.national_id).
NATIONAL_ID_PLACEHOLDER = "unverified:"


def national_id_placeholder(profile_id: str) -> str:
    """The placeholder for one profile: unique, as the tenant-scoped unique index requires."""
    return f"{NATIONAL_ID_PLACEHOLDER}{profile_id}"


def _national_id_default(context: Any) -> str:
    params = context.get_current_parameters()
    return national_id_placeholder(params.get("profile_id") or params["profileId"])


class UserProfile(TenantScoped, SoftDeletable, Versioned, Base):
    __tablename__ = "UserProfile"
    __table_args__ = (
        Index(None, "tenant_id", "email", unique=True),
        Index(None, "tenant_id", "phone_num", unique=True),
        Index(None, "tenant_id", "biometric_hash", unique=True),
        Index(None, "tenant_id", "fabric_user_id", unique=True),
        Index(None, "tenant_id", "national_id_number", unique=True),
        Index(None, "tenant_id", "status"),
        Index(None, "tenant_id", "deleted_at"),
        Index(None, "tenant_id", "nationality_country_code"),
        Index(None, "fabric_user_id"),
        Index(None, "is_locked"),
        Index(None, "reviewed_by"),
    )
    profile_id: Mapped[str] = mapped_column(primary_key=True, default=new_uuid)
    tenant_id: Mapped[str]
    first_name: Mapped[str]
    middle_name: Mapped[str | None]
    last_name: Mapped[str]
    email: Mapped[str | None]
    phone_num: Mapped[str | None]
    biometric_hash: Mapped[str]
    password_hash: Mapped[str]
    date_of_birth: Mapped[date | None]
    gender: Mapped[str | None]
    place_of_birth: Mapped[str | None]
    nationality_country_code: Mapped[str | None] = mapped_column(
        CHAR(2), ForeignKey("Country.country_code", ondelete="SET NULL", onupdate="CASCADE")
    )
    fabric_user_id: Mapped[str | None]
    status: Mapped[UserProfileStatus] = mapped_column(server_default="REGISTERED")
    onchain_status: Mapped[str | None]
    # Required (revisions 53f000e2d96b, 6972afdaa927): the number from the user's approved
    # national id document when known, the placeholder above until then.
    national_id_number: Mapped[str] = mapped_column(default=_national_id_default)
    national_id_issued_at: Mapped[date | None]
    national_id_expires_at: Mapped[date | None]
    passport_number: Mapped[str | None]
    passport_issuing_country: Mapped[str | None] = mapped_column(CHAR(2))
    passport_issued_at: Mapped[date | None]
    passport_expires_at: Mapped[date | None]
    employment_status: Mapped[EmploymentStatus | None]
    job_title: Mapped[str | None]
    company_name: Mapped[str | None]
    industry: Mapped[str | None]
    work_email: Mapped[str | None]
    work_phone_num: Mapped[str | None]
    is_pep: Mapped[bool] = mapped_column("isPEP", server_default=text("false"))
    pep_details: Mapped[str | None]
    is_locked: Mapped[bool] = mapped_column(server_default=text("false"))
    lock_reason: Mapped[str | None]
    locked_by: Mapped[str | None]
    locked_at: Mapped[datetime | None]
    lock_notes: Mapped[str | None]
    reviewed_by: Mapped[str | None]
    reviewed_at: Mapped[datetime | None]
    denial_reason: Mapped[str | None]
    onchain_registered_at: Mapped[datetime | None]
    last_synced_at: Mapped[datetime | None]
    deleted_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(server_default=NOW)
    updated_at: Mapped[UpdatedAt]
    # gxcore's addition (revision c6d7e8f9a0b1): USER or ADMIN (gxcore.identity.access.UserRole);
    # admins review registrations. The reference schema has no notion of an administrator.
    role: Mapped[str] = mapped_column(server_default="USER")
    nationality_country: Mapped[Country | None] = relationship(
        foreign_keys=[nationality_country_code]
    )


class Address(TenantScoped, Base):
    __tablename__ = "Address"
    __table_args__ = (
        Index(None, "tenant_id", "profile_id", "address_type"),
        Index(None, "tenant_id", "profile_id", "is_current"),
        Index(None, "country_code"),
    )
    address_id: Mapped[str] = mapped_column(primary_key=True, default=new_uuid)
    tenant_id: Mapped[str]
    profile_id: Mapped[str] = mapped_column(
        ForeignKey("UserProfile.profile_id", ondelete="CASCADE", onupdate="CASCADE")
    )
    address_type: Mapped[AddressType] = mapped_column(server_default="CURRENT")
    is_current: Mapped[bool] = mapped_column(server_default=text("true"))
    address_line1: Mapped[str]
    address_line2: Mapped[str | None]
    city: Mapped[str]
    state_province: Mapped[str | None]
    postal_code: Mapped[str | None]
    country_code: Mapped[str] = mapped_column(CHAR(2))
    proof_document_url: Mapped[str | None]
    proof_document_hash: Mapped[str | None]
    proof_document_type: Mapped[str | None]
    proof_uploaded_at: Mapped[datetime | None]
    is_verified: Mapped[bool] = mapped_column(server_default=text("false"))
    verified_at: Mapped[datetime | None]
    verified_by: Mapped[str | None]
    valid_from: Mapped[datetime] = mapped_column(server_default=NOW)
    valid_to: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(server_default=NOW)
    updated_at: Mapped[UpdatedAt]
    user_profile: Mapped[UserProfile] = relationship(foreign_keys=[profile_id])


class UserSession(TenantScoped, Base):
    __tablename__ = "UserSession"
    __table_args__ = (
        Index(None, "tenant_id", "refresh_token", unique=True),
        Index(None, "tenant_id", "profile_id", "status"),
        Index(None, "refresh_token_hash"),
        Index(None, "expires_at"),
        Index(None, "tenant_id", "device_id"),
    )
    session_id: Mapped[str] = mapped_column(primary_key=True, default=new_uuid)
    tenant_id: Mapped[str]
    profile_id: Mapped[str] = mapped_column(
        ForeignKey("UserProfile.profile_id", ondelete="CASCADE", onupdate="CASCADE")
    )
    device_id: Mapped[str]
    device_name: Mapped[str | None]
    device_os: Mapped[str | None]
    ip_address: Mapped[str]
    user_agent: Mapped[str]
    status: Mapped[SessionStatus] = mapped_column(server_default="ACTIVE")
    created_at: Mapped[datetime] = mapped_column(server_default=NOW)
    last_activity_at: Mapped[datetime] = mapped_column(server_default=NOW)
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    revoked_reason: Mapped[str | None]
    refresh_token: Mapped[str]
    refresh_token_hash: Mapped[str]
    user_profile: Mapped[UserProfile] = relationship(foreign_keys=[profile_id])


class TrustedDevice(TenantScoped, Base):
    __tablename__ = "TrustedDevice"
    __table_args__ = (
        Index(None, "tenant_id", "profile_id", "device_fingerprint", unique=True),
        Index(None, "tenant_id", "is_trusted"),
    )
    device_id: Mapped[str] = mapped_column(primary_key=True, default=new_uuid)
    tenant_id: Mapped[str]
    profile_id: Mapped[str] = mapped_column(
        ForeignKey("UserProfile.profile_id", ondelete="CASCADE", onupdate="CASCADE")
    )
    device_name: Mapped[str]
    device_fingerprint: Mapped[str]
    device_os: Mapped[str | None]
    first_seen_at: Mapped[datetime] = mapped_column(server_default=NOW)
    last_seen_at: Mapped[datetime] = mapped_column(server_default=NOW)
    is_trusted: Mapped[bool] = mapped_column(server_default=text("false"))
    trust_verified_at: Mapped[datetime | None]
    user_profile: Mapped[UserProfile] = relationship(foreign_keys=[profile_id])
