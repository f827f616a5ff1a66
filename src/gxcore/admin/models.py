"""admin models."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CHAR, BigInteger, ForeignKey, Index, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from gxcore.db.base import NOW, Base, TenantScoped, UpdatedAt, new_uuid
from gxcore.enums import LegalTenderStatusEnum


class Tenant(Base):
    """The tenant registry: a tenant exists only once created (`gx tenant create`), and every
    tenant scope names one of these ids. Not tenant-scoped itself; the application role may only
    read it (revision e2b3c4d5f6a7)."""

    __tablename__ = "Tenant"
    id: Mapped[str] = mapped_column(primary_key=True)
    name: Mapped[str]
    created_at: Mapped[datetime] = mapped_column(server_default=NOW)
    updated_at: Mapped[UpdatedAt]


class Country(Base):
    __tablename__ = "Country"
    country_code: Mapped[str] = mapped_column(CHAR(2), primary_key=True)
    country_name: Mapped[str]
    region: Mapped[str | None]


class LegalTenderStatus(TenantScoped, Base):
    __tablename__ = "LegalTenderStatus"
    __table_args__ = (Index(None, "country_code", "effective_date"),)
    status_id: Mapped[str] = mapped_column(primary_key=True, default=new_uuid)
    tenant_id: Mapped[str]
    country_code: Mapped[str] = mapped_column(
        CHAR(2), ForeignKey("Country.country_code", ondelete="RESTRICT", onupdate="CASCADE")
    )
    status: Mapped[LegalTenderStatusEnum]
    effective_date: Mapped[datetime]
    created_at: Mapped[datetime] = mapped_column(server_default=NOW)
    country: Mapped[Country] = relationship(foreign_keys=[country_code])


class SystemParameter(TenantScoped, Base):
    __tablename__ = "SystemParameter"
    tenant_id: Mapped[str] = mapped_column(primary_key=True)
    param_key: Mapped[str] = mapped_column(primary_key=True)
    param_value: Mapped[str]
    updated_at: Mapped[UpdatedAt]


class SystemState(TenantScoped, Base):
    """The tenant's ledger switch as projected: bootstrapped, paused (and why, since when).
    A read model: the projector writes it (gxcore.admin.handlers); the API reads `paused` on
    every write request (gxcore.http.unit_of_work). No row: not bootstrapped, not paused."""

    __tablename__ = "SystemState"
    tenant_id: Mapped[str] = mapped_column(primary_key=True)
    bootstrapped: Mapped[bool] = mapped_column(server_default=false())
    paused: Mapped[bool] = mapped_column(server_default=false())
    pause_reason: Mapped[str | None]
    changed_at: Mapped[datetime]
    block_number: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = mapped_column(server_default=NOW)
