"""kyc models."""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING

from sqlalchemy import CHAR, ForeignKey, Index, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from gxcore.db.base import NOW, Base, TenantScoped, UpdatedAt, new_uuid
from gxcore.enums import DocumentType, KycStatus

if TYPE_CHECKING:
    from gxcore.admin.models import Country
    from gxcore.identity.models import UserProfile


class KYCVerification(TenantScoped, Base):
    __tablename__ = "KYCVerification"
    __table_args__ = (
        Index(None, "profile_id"),
        Index(None, "status"),
    )
    kyc_id: Mapped[str] = mapped_column(primary_key=True, default=new_uuid)
    tenant_id: Mapped[str]
    profile_id: Mapped[str] = mapped_column(
        ForeignKey("UserProfile.profile_id", ondelete="CASCADE", onupdate="CASCADE")
    )
    status: Mapped[KycStatus]
    verified_at: Mapped[datetime | None]
    verifier_details: Mapped[str | None]
    evidence_hash: Mapped[str | None]
    evidence_size: Mapped[int | None]
    evidence_mime: Mapped[str | None]
    created_at: Mapped[datetime] = mapped_column(server_default=NOW)
    updated_at: Mapped[UpdatedAt]
    user_profile: Mapped[UserProfile] = relationship(foreign_keys=[profile_id])


class KYCDocument(TenantScoped, Base):
    __tablename__ = "KYCDocument"
    __table_args__ = (
        Index(None, "tenant_id", "kyc_id"),
        Index(None, "document_type"),
        Index(None, "file_hash"),
    )
    document_id: Mapped[str] = mapped_column(primary_key=True, default=new_uuid)
    tenant_id: Mapped[str]
    kyc_id: Mapped[str] = mapped_column(
        ForeignKey("KYCVerification.kyc_id", ondelete="CASCADE", onupdate="CASCADE")
    )
    document_type: Mapped[DocumentType]
    document_number: Mapped[str | None]
    issuing_country: Mapped[str | None] = mapped_column(
        CHAR(2), ForeignKey("Country.country_code", ondelete="SET NULL", onupdate="CASCADE")
    )
    issued_date: Mapped[date | None]
    expiry_date: Mapped[date | None]
    storage_url: Mapped[str]
    file_hash: Mapped[str]
    file_size: Mapped[int]
    mime_type: Mapped[str]
    encryption_key: Mapped[str | None]
    virus_scan_status: Mapped[str | None]
    virus_scan_date: Mapped[datetime | None]
    version: Mapped[int] = mapped_column(server_default=text("1"))
    replaces_document_id: Mapped[str | None]
    uploaded_at: Mapped[datetime] = mapped_column(server_default=NOW)
    verified_at: Mapped[datetime | None]
    verified_by: Mapped[str | None]
    kyc_verification: Mapped[KYCVerification] = relationship(foreign_keys=[kyc_id])
    country: Mapped[Country | None] = relationship(foreign_keys=[issuing_country])
