"""loans models."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, Index, PrimaryKeyConstraint
from sqlalchemy.orm import Mapped, mapped_column

from gxcore.db.base import NOW, Base, TenantScoped, UpdatedAt, new_uuid
from gxcore.enums import CollateralStatus


class Collateral(TenantScoped, Base):
    __tablename__ = "Collateral"
    __table_args__ = (
        Index(None, "tenant_id", "on_chain_loan_id", unique=True),
        Index(None, "on_chain_loan_id"),
        Index(None, "status"),
    )
    collateral_id: Mapped[str] = mapped_column(primary_key=True, default=new_uuid)
    tenant_id: Mapped[str]
    on_chain_loan_id: Mapped[str]
    document_reference: Mapped[str]
    document_hash: Mapped[str]
    document_size: Mapped[int | None]
    document_mime: Mapped[str | None]
    status: Mapped[CollateralStatus] = mapped_column(server_default="PLEDGED")
    created_at: Mapped[datetime] = mapped_column(server_default=NOW)


class Loan(TenantScoped, Base):
    __tablename__ = "Loan"
    __table_args__ = (
        # The ledger's id, chosen by the client: unique per tenant only (revision d1a2b3c4e5f6).
        PrimaryKeyConstraint("tenant_id", "loan_id"),
        CheckConstraint('"amount" >= 0', name="amount"),
        Index(None, "tenant_id", "borrower_id"),
        Index(None, "status"),
        Index(None, "applied_at"),
    )
    loan_id: Mapped[str]
    tenant_id: Mapped[str]
    borrower_id: Mapped[str]
    amount: Mapped[Decimal]
    collateral_hash: Mapped[str | None]
    applied_at: Mapped[datetime] = mapped_column(server_default=NOW)
    purpose: Mapped[str]
    status: Mapped[str]
    approved_by: Mapped[str | None]
    approved_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(server_default=NOW)
    updated_at: Mapped[UpdatedAt]
