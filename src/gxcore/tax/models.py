"""tax models."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from sqlalchemy import CheckConstraint, ForeignKey, Index, Numeric, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from gxcore.db.base import NOW, Base, TenantScoped, new_uuid

if TYPE_CHECKING:
    from gxcore.wallet.models import Wallet


class HoardingTaxSnapshot(TenantScoped, Base):
    __tablename__ = "HoardingTaxSnapshot"
    __table_args__ = (
        CheckConstraint('"balance" >= 0', name="balance"),
        CheckConstraint('"taxableAmount" >= 0', name="taxableAmount"),
        CheckConstraint('"taxOwed" >= 0', name="taxOwed"),
        Index(None, "tenant_id", "wallet_id", "snapshot_date", unique=True),
        Index(None, "tenant_id", "snapshot_date", "tax_paid"),
        Index(None, "tenant_id", "tax_paid"),
    )
    snapshot_id: Mapped[str] = mapped_column(primary_key=True, default=new_uuid)
    tenant_id: Mapped[str]
    wallet_id: Mapped[str] = mapped_column(
        ForeignKey("Wallet.wallet_id", ondelete="CASCADE", onupdate="CASCADE")
    )
    snapshot_date: Mapped[date]
    balance: Mapped[Decimal]
    days_held: Mapped[int]
    taxable_amount: Mapped[Decimal]
    tax_rate: Mapped[Decimal] = mapped_column(Numeric(5, 4))
    tax_owed: Mapped[Decimal]
    tax_paid: Mapped[bool] = mapped_column(server_default=text("false"))
    paid_at: Mapped[datetime | None]
    fabric_tx_id: Mapped[str | None]
    created_at: Mapped[datetime] = mapped_column(server_default=NOW)
    wallet: Mapped[Wallet] = relationship(foreign_keys=[wallet_id])
