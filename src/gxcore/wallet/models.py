"""wallet models."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from sqlalchemy import CHAR, BigInteger, CheckConstraint, ForeignKey, Index, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from gxcore.db.base import (
    NOW,
    Base,
    Json,
    SoftDeletable,
    TenantScoped,
    UpdatedAt,
    Versioned,
    new_uuid,
)
from gxcore.enums import ContactStatus, LimitType, OffChainTxType

if TYPE_CHECKING:
    from gxcore.identity.models import UserProfile


class Wallet(TenantScoped, SoftDeletable, Versioned, Base):
    __tablename__ = "Wallet"
    __table_args__ = (
        CheckConstraint('"cachedBalance" >= 0', name="cachedBalance"),
        Index(None, "tenant_id", "primary_account_id", unique=True),
        Index(None, "tenant_id", "profile_id"),
        Index(None, "tenant_id", "deleted_at"),
    )
    wallet_id: Mapped[str] = mapped_column(primary_key=True, default=new_uuid)
    tenant_id: Mapped[str]
    profile_id: Mapped[str] = mapped_column(
        ForeignKey("UserProfile.profile_id", ondelete="CASCADE", onupdate="CASCADE")
    )
    primary_account_id: Mapped[str]
    wallet_name: Mapped[str]
    cached_balance: Mapped[Decimal] = mapped_column(server_default=text("0"))
    # The day the balance last rose above velocityTaxThreshold (NULL at or below it), kept by
    # the projector: revision ca853486a303.
    above_threshold_since: Mapped[date | None]
    deleted_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(server_default=NOW)
    updated_at: Mapped[UpdatedAt]
    user_profile: Mapped[UserProfile] = relationship(foreign_keys=[profile_id])


class Transaction(TenantScoped, Base):
    __tablename__ = "Transaction"
    __table_args__ = (
        CheckConstraint('"amount" >= 0', name="amount"),
        CheckConstraint('"fee" >= 0', name="fee"),
        # One row per wallet a ledger tx touches (a transfer writes two): revision b4c5d6e7f8a9.
        Index(None, "tenant_id", "on_chain_tx_id", "wallet_id", unique=True),
        Index(None, "tenant_id", "wallet_id", "timestamp"),
        Index(None, "tenant_id", "counterparty", "timestamp"),
        Index(None, "timestamp"),
    )
    off_tx_id: Mapped[str] = mapped_column(primary_key=True, default=new_uuid)
    tenant_id: Mapped[str]
    on_chain_tx_id: Mapped[str | None]
    wallet_id: Mapped[str] = mapped_column(
        ForeignKey("Wallet.wallet_id", ondelete="CASCADE", onupdate="CASCADE")
    )
    type: Mapped[OffChainTxType]
    counterparty: Mapped[str]
    amount: Mapped[Decimal]
    fee: Mapped[Decimal] = mapped_column(server_default=text("0"))
    remark: Mapped[str | None]
    timestamp: Mapped[datetime]
    block_number: Mapped[int | None] = mapped_column(BigInteger)
    wallet: Mapped[Wallet] = relationship(foreign_keys=[wallet_id])


class Beneficiary(TenantScoped, Base):
    __tablename__ = "Beneficiary"
    __table_args__ = (
        Index(None, "tenant_id", "owner_profile_id", "beneficiary_identity_id", unique=True),
        Index(None, "owner_profile_id"),
    )
    beneficiary_id: Mapped[str] = mapped_column(primary_key=True, default=new_uuid)
    tenant_id: Mapped[str]
    owner_profile_id: Mapped[str] = mapped_column(
        ForeignKey("UserProfile.profile_id", ondelete="CASCADE", onupdate="CASCADE")
    )
    beneficiary_identity_id: Mapped[str]
    nickname: Mapped[str]
    created_at: Mapped[datetime] = mapped_column(server_default=NOW)
    user_profile: Mapped[UserProfile] = relationship(foreign_keys=[owner_profile_id])


class Contact(TenantScoped, Base):
    __tablename__ = "Contact"
    __table_args__ = (
        Index(None, "tenant_id", "owner_profile_id", "contact_profile_id", unique=True),
        Index(None, "tenant_id", "status"),
    )
    contact_id: Mapped[str] = mapped_column(primary_key=True, default=new_uuid)
    tenant_id: Mapped[str]
    owner_profile_id: Mapped[str] = mapped_column(
        ForeignKey("UserProfile.profile_id", ondelete="CASCADE", onupdate="CASCADE")
    )
    contact_profile_id: Mapped[str | None] = mapped_column(
        ForeignKey("UserProfile.profile_id", ondelete="SET NULL", onupdate="CASCADE")
    )
    display_name: Mapped[str]
    phone_number: Mapped[str | None]
    email: Mapped[str | None]
    notes: Mapped[str | None]
    is_favorite: Mapped[bool] = mapped_column(server_default=text("false"))
    transaction_count: Mapped[int] = mapped_column(server_default=text("0"))
    last_transaction_at: Mapped[datetime | None]
    status: Mapped[ContactStatus] = mapped_column(server_default="ACTIVE")
    created_at: Mapped[datetime] = mapped_column(server_default=NOW)
    updated_at: Mapped[UpdatedAt]
    owner: Mapped[UserProfile] = relationship(foreign_keys=[owner_profile_id])
    contact_profile: Mapped[UserProfile | None] = relationship(foreign_keys=[contact_profile_id])


class TransactionLimit(TenantScoped, Base):
    __tablename__ = "TransactionLimit"
    __table_args__ = (
        CheckConstraint('"limitAmount" >= 0', name="limitAmount"),
        Index(None, "tenant_id", "profile_id"),
        Index(None, "tenant_id", "wallet_id"),
        Index(None, "tenant_id", "is_active"),
    )
    limit_id: Mapped[str] = mapped_column(primary_key=True, default=new_uuid)
    tenant_id: Mapped[str]
    profile_id: Mapped[str | None] = mapped_column(
        ForeignKey("UserProfile.profile_id", ondelete="CASCADE", onupdate="CASCADE")
    )
    wallet_id: Mapped[str | None]
    limit_type: Mapped[LimitType]
    limit_amount: Mapped[Decimal]
    max_count: Mapped[int | None]
    time_window_minutes: Mapped[int | None]
    is_active: Mapped[bool] = mapped_column(server_default=text("true"))
    created_at: Mapped[datetime] = mapped_column(server_default=NOW)
    updated_at: Mapped[UpdatedAt]
    user_profile: Mapped[UserProfile | None] = relationship(foreign_keys=[profile_id])


class TransactionRiskScore(TenantScoped, Base):
    """A transfer request's risk score and its factors (`gxcore.wallet.risk`), and its review.

    gxcore departs from the reference (revision a8b9c0d1e2f3): a score belongs to the transfer's
    command (`commandId`, written with the request) because the `Transaction` row is the
    projector's and exists only once the ledger has executed the transfer; `offTxId` stays for
    the reference's sake and is NULL in gxcore's rows (the command's `fabricTxId` leads to it).
    """

    __tablename__ = "TransactionRiskScore"
    __table_args__ = (
        Index(None, "tenant_id", "requires_review"),
        Index(None, "tenant_id", "risk_score"),
        Index(None, "tenant_id", "command_id", unique=True),
        Index(None, "tenant_id", "off_tx_id", unique=True),
    )
    risk_id: Mapped[str] = mapped_column(primary_key=True, default=new_uuid)
    tenant_id: Mapped[str]
    off_tx_id: Mapped[str | None] = mapped_column(
        ForeignKey("Transaction.off_tx_id", ondelete="CASCADE", onupdate="CASCADE")
    )
    command_id: Mapped[str | None] = mapped_column(
        ForeignKey("OutboxCommand.id", ondelete="CASCADE", onupdate="CASCADE")
    )
    risk_score: Mapped[int]
    risk_factors: Mapped[Json]
    requires_review: Mapped[bool] = mapped_column(server_default=text("false"))
    reviewed_at: Mapped[datetime | None]
    reviewed_by: Mapped[str | None]
    review_notes: Mapped[str | None]
    calculated_at: Mapped[datetime] = mapped_column(server_default=NOW)
    transaction: Mapped[Transaction | None] = relationship(foreign_keys=[off_tx_id])


class TransferHold(TenantScoped, Base):
    """Money a requested transfer has reserved: the amount and fee its sender may not spend twice.

    The app's own record (the `Wallet` read model is the projector's). A hold is live until its
    ledger transaction is projected (an `EventLog` row with its tx id) or its command `FAILED`;
    nothing has to release it, so no path can forget to (see `gxcore.wallet.holds`).
    """

    __tablename__ = "TransferHold"
    __table_args__ = (
        CheckConstraint('"amount" > 0', name="amount"),
        CheckConstraint('"fee" >= 0', name="fee"),
        Index(None, "tenant_id", "wallet_id"),
        Index(None, "tenant_id", "receiver_wallet_id"),
    )
    tenant_id: Mapped[str] = mapped_column(primary_key=True)
    command_id: Mapped[str] = mapped_column(
        ForeignKey("OutboxCommand.id", ondelete="CASCADE", onupdate="CASCADE"), primary_key=True
    )
    wallet_id: Mapped[str]
    receiver_wallet_id: Mapped[str]
    tx_id: Mapped[str]
    amount: Mapped[Decimal]
    fee: Mapped[Decimal]
    created_at: Mapped[datetime] = mapped_column(server_default=NOW)


class TreasuryAccount(TenantScoped, Base):
    """A country's treasury, as the ledger holds it: opened by TreasuryActivated, its balance
    moved by every event that touches the account. A read model: the projector writes it."""

    __tablename__ = "TreasuryAccount"
    __table_args__ = (
        CheckConstraint('"balance" >= 0', name="balance"),
        Index(None, "tenant_id", "account_id", unique=True),
    )
    tenant_id: Mapped[str] = mapped_column(primary_key=True)
    country_code: Mapped[str] = mapped_column(
        CHAR(2),
        ForeignKey("Country.country_code", ondelete="RESTRICT", onupdate="CASCADE"),
        primary_key=True,
    )
    account_id: Mapped[str]
    balance: Mapped[Decimal] = mapped_column(server_default=text("0"))
    block_number: Mapped[int] = mapped_column(BigInteger)
    activated_at: Mapped[datetime]
    updated_at: Mapped[datetime] = mapped_column(server_default=NOW)
