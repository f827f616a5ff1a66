"""partners models."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from sqlalchemy import CHAR, CheckConstraint, ForeignKey, Index
from sqlalchemy.orm import Mapped, mapped_column, relationship

from gxcore.db.base import NOW, Base, TenantScoped, new_uuid
from gxcore.enums import CredentialStatus, LicenseStatus, PartnerStatus

if TYPE_CHECKING:
    from gxcore.admin.models import Country


class LicensedPartner(TenantScoped, Base):
    __tablename__ = "LicensedPartner"
    __table_args__ = (
        Index(None, "tenant_id", "company_name", unique=True),
        Index(None, "tenant_id", "status"),
    )
    partner_id: Mapped[str] = mapped_column(primary_key=True, default=new_uuid)
    tenant_id: Mapped[str]
    company_name: Mapped[str]
    jurisdiction_country_code: Mapped[str] = mapped_column(
        CHAR(2), ForeignKey("Country.country_code", ondelete="RESTRICT", onupdate="CASCADE")
    )
    status: Mapped[PartnerStatus] = mapped_column(server_default="PENDING")
    created_at: Mapped[datetime] = mapped_column(server_default=NOW)
    country: Mapped[Country] = relationship(foreign_keys=[jurisdiction_country_code])


class Application(TenantScoped, Base):
    __tablename__ = "Application"
    __table_args__ = (
        Index(None, "tenant_id", "app_name", unique=True),
        Index(None, "tenant_id", "partner_id"),
    )
    app_id: Mapped[str] = mapped_column(primary_key=True, default=new_uuid)
    tenant_id: Mapped[str]
    partner_id: Mapped[str] = mapped_column(
        ForeignKey("LicensedPartner.partner_id", ondelete="CASCADE", onupdate="CASCADE")
    )
    app_name: Mapped[str]
    created_at: Mapped[datetime] = mapped_column(server_default=NOW)
    partner: Mapped[LicensedPartner] = relationship(foreign_keys=[partner_id])


class License(TenantScoped, Base):
    __tablename__ = "License"
    __table_args__ = (
        Index(None, "tenant_id", "app_id"),
        Index(None, "tenant_id", "status"),
    )
    license_id: Mapped[str] = mapped_column(primary_key=True, default=new_uuid)
    tenant_id: Mapped[str]
    app_id: Mapped[str] = mapped_column(
        ForeignKey("Application.app_id", ondelete="CASCADE", onupdate="CASCADE")
    )
    license_type: Mapped[str]
    status: Mapped[LicenseStatus] = mapped_column(server_default="ACTIVE")
    expiry_date: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(server_default=NOW)
    application: Mapped[Application] = relationship(foreign_keys=[app_id])


class Credential(TenantScoped, Base):
    __tablename__ = "Credential"
    __table_args__ = (
        Index(None, "tenant_id", "client_id", unique=True),
        Index(None, "tenant_id", "license_id"),
    )
    credential_id: Mapped[str] = mapped_column(primary_key=True, default=new_uuid)
    tenant_id: Mapped[str]
    license_id: Mapped[str] = mapped_column(
        ForeignKey("License.license_id", ondelete="CASCADE", onupdate="CASCADE")
    )
    client_id: Mapped[str]
    client_secret_hash: Mapped[str]
    status: Mapped[CredentialStatus] = mapped_column(server_default="ACTIVE")
    created_at: Mapped[datetime] = mapped_column(server_default=NOW)
    license: Mapped[License] = relationship(foreign_keys=[license_id])


class PartnerGrant(TenantScoped, Base):
    __tablename__ = "PartnerGrant"
    __table_args__ = (
        CheckConstraint('"amount" >= 0', name="amount"),
        Index(None, "tenant_id", "partner_id"),
    )
    grant_id: Mapped[str] = mapped_column(primary_key=True, default=new_uuid)
    tenant_id: Mapped[str]
    partner_id: Mapped[str] = mapped_column(
        ForeignKey("LicensedPartner.partner_id", ondelete="CASCADE", onupdate="CASCADE")
    )
    amount: Mapped[Decimal]
    purpose: Mapped[str | None]
    issuance_timestamp: Mapped[datetime | None]
    on_chain_tx_id: Mapped[str | None]
    partner: Mapped[LicensedPartner] = relationship(foreign_keys=[partner_id])


class PartnerScope(TenantScoped, Base):
    """An operation an administrator opened to a partner's application (gxcore.partners.scopes
    names them). The reference's `PartnerGrant` is a grant of money to a partner (an amount, a
    purpose, a ledger transaction), not a permission, so permissions are kept here."""

    __tablename__ = "PartnerScope"
    __table_args__ = (Index(None, "tenant_id", "app_id", "operation", unique=True),)
    scope_id: Mapped[str] = mapped_column(primary_key=True, default=new_uuid)
    tenant_id: Mapped[str]
    app_id: Mapped[str] = mapped_column(
        ForeignKey("Application.app_id", ondelete="CASCADE", onupdate="CASCADE")
    )
    operation: Mapped[str]
    granted_by: Mapped[str | None]
    created_at: Mapped[datetime] = mapped_column(server_default=NOW)
