"""business models."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from sqlalchemy import CHAR, CheckConstraint, ForeignKey, Index, PrimaryKeyConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from gxcore.db.base import (
    NOW,
    Base,
    Json,
    SoftDeletable,
    TenantScoped,
    UpdatedAt,
    Versioned,
    new_cuid,
    new_uuid,
)
from gxcore.enums import ApprovalStatus, OffChainTxType, OrgProfileStatus, SignatoryRole

if TYPE_CHECKING:
    from gxcore.admin.models import Country
    from gxcore.cqrs.models import OutboxCommand
    from gxcore.identity.models import UserProfile
    from gxcore.wallet.models import Wallet


class OrganizationProfile(TenantScoped, SoftDeletable, Base):
    __tablename__ = "OrganizationProfile"
    __table_args__ = (
        Index(None, "tenant_id", "status"),
        Index(None, "tenant_id", "deleted_at"),
    )
    org_profile_id: Mapped[str] = mapped_column(primary_key=True, default=new_uuid)
    tenant_id: Mapped[str]
    legal_name: Mapped[str]
    registration_number: Mapped[str | None]
    jurisdiction_country_code: Mapped[str] = mapped_column(
        CHAR(2), ForeignKey("Country.country_code", ondelete="RESTRICT", onupdate="CASCADE")
    )
    address: Mapped[str | None]
    status: Mapped[OrgProfileStatus] = mapped_column(server_default="PENDING_VERIFICATION")
    deleted_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(server_default=NOW)
    updated_at: Mapped[UpdatedAt]
    country: Mapped[Country] = relationship(foreign_keys=[jurisdiction_country_code])


class UserOrganizationLink(TenantScoped, Base):
    __tablename__ = "UserOrganizationLink"
    __table_args__ = (
        Index(None, "tenant_id", "user_profile_id", "org_profile_id", unique=True),
        Index(None, "user_profile_id"),
        Index(None, "org_profile_id"),
    )
    id: Mapped[str] = mapped_column(primary_key=True, default=new_cuid)
    tenant_id: Mapped[str]
    user_profile_id: Mapped[str] = mapped_column(
        ForeignKey("UserProfile.profile_id", ondelete="CASCADE", onupdate="CASCADE")
    )
    org_profile_id: Mapped[str] = mapped_column(
        ForeignKey("OrganizationProfile.org_profile_id", ondelete="CASCADE", onupdate="CASCADE")
    )
    role: Mapped[str]
    added_at: Mapped[datetime] = mapped_column(server_default=NOW)
    user_profile: Mapped[UserProfile] = relationship(foreign_keys=[user_profile_id])
    organization_profile: Mapped[OrganizationProfile] = relationship(foreign_keys=[org_profile_id])


class BusinessAccount(TenantScoped, Versioned, Base):
    __tablename__ = "BusinessAccount"
    __table_args__ = (
        Index(None, "tenant_id", "org_profile_id", unique=True),
        Index(None, "tenant_id", "wallet_id", unique=True),
    )
    business_account_id: Mapped[str] = mapped_column(primary_key=True, default=new_uuid)
    tenant_id: Mapped[str]
    org_profile_id: Mapped[str] = mapped_column(
        ForeignKey("OrganizationProfile.org_profile_id", ondelete="CASCADE", onupdate="CASCADE")
    )
    wallet_id: Mapped[str] = mapped_column(
        ForeignKey("Wallet.wallet_id", ondelete="RESTRICT", onupdate="CASCADE")
    )
    default_required_approvals: Mapped[int] = mapped_column(server_default=text("1"))
    created_at: Mapped[datetime] = mapped_column(server_default=NOW)
    updated_at: Mapped[UpdatedAt]
    organization: Mapped[OrganizationProfile] = relationship(foreign_keys=[org_profile_id])
    wallet: Mapped[Wallet] = relationship(foreign_keys=[wallet_id])


class BusinessSignatory(TenantScoped, Base):
    __tablename__ = "BusinessSignatory"
    __table_args__ = (
        CheckConstraint('"maxTransactionLimit" >= 0', name="maxTransactionLimit"),
        Index(None, "tenant_id", "business_account_id", "profile_id", unique=True),
        Index(None, "tenant_id", "profile_id"),
    )
    signatory_id: Mapped[str] = mapped_column(primary_key=True, default=new_uuid)
    tenant_id: Mapped[str]
    business_account_id: Mapped[str] = mapped_column(
        ForeignKey("BusinessAccount.business_account_id", ondelete="CASCADE", onupdate="CASCADE")
    )
    profile_id: Mapped[str] = mapped_column(
        ForeignKey("UserProfile.profile_id", ondelete="CASCADE", onupdate="CASCADE")
    )
    role: Mapped[SignatoryRole]
    can_initiate_transactions: Mapped[bool] = mapped_column(server_default=text("false"))
    can_approve_transactions: Mapped[bool] = mapped_column(server_default=text("false"))
    max_transaction_limit: Mapped[Decimal | None]
    invited_at: Mapped[datetime] = mapped_column(server_default=NOW)
    confirmed_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    business_account: Mapped[BusinessAccount] = relationship(foreign_keys=[business_account_id])
    user_profile: Mapped[UserProfile] = relationship(foreign_keys=[profile_id])


class SignatoryRule(TenantScoped, Versioned, Base):
    __tablename__ = "SignatoryRule"
    __table_args__ = (
        CheckConstraint('"minAmount" >= 0', name="minAmount"),
        CheckConstraint('"maxAmount" >= 0', name="maxAmount"),
        CheckConstraint('"dailyLimit" >= 0', name="dailyLimit"),
        Index(None, "tenant_id", "business_account_id"),
        Index(None, "tenant_id", "is_active"),
    )
    rule_id: Mapped[str] = mapped_column(primary_key=True, default=new_uuid)
    tenant_id: Mapped[str]
    business_account_id: Mapped[str] = mapped_column(
        ForeignKey("BusinessAccount.business_account_id", ondelete="CASCADE", onupdate="CASCADE")
    )
    min_amount: Mapped[Decimal | None]
    max_amount: Mapped[Decimal | None]
    required_approvals: Mapped[int]
    transaction_type: Mapped[OffChainTxType | None]
    daily_limit: Mapped[Decimal | None]
    is_active: Mapped[bool] = mapped_column(server_default=text("true"))
    created_at: Mapped[datetime] = mapped_column(server_default=NOW)
    updated_at: Mapped[UpdatedAt]
    business_account: Mapped[BusinessAccount] = relationship(foreign_keys=[business_account_id])


class TransactionApproval(TenantScoped, Base):
    __tablename__ = "TransactionApproval"
    __table_args__ = (
        Index(None, "tenant_id", "outbox_command_id", unique=True),
        Index(None, "tenant_id", "business_account_id", "status"),
        Index(None, "status", "expires_at"),
    )
    approval_id: Mapped[str] = mapped_column(primary_key=True, default=new_uuid)
    tenant_id: Mapped[str]
    business_account_id: Mapped[str] = mapped_column(
        ForeignKey("BusinessAccount.business_account_id", ondelete="CASCADE", onupdate="CASCADE")
    )
    outbox_command_id: Mapped[str] = mapped_column(
        ForeignKey("OutboxCommand.id", ondelete="CASCADE", onupdate="CASCADE")
    )
    required_approvals: Mapped[int]
    received_approvals: Mapped[int] = mapped_column(server_default=text("0"))
    status: Mapped[ApprovalStatus] = mapped_column(server_default="PENDING")
    expires_at: Mapped[datetime]
    created_at: Mapped[datetime] = mapped_column(server_default=NOW)
    updated_at: Mapped[UpdatedAt]
    business_account: Mapped[BusinessAccount] = relationship(foreign_keys=[business_account_id])
    outbox_command: Mapped[OutboxCommand] = relationship(foreign_keys=[outbox_command_id])


class ApprovalVote(TenantScoped, Base):
    __tablename__ = "ApprovalVote"
    __table_args__ = (
        Index(None, "tenant_id", "approval_id", "signatory_id", unique=True),
        Index(None, "tenant_id", "signatory_id"),
    )
    vote_id: Mapped[str] = mapped_column(primary_key=True, default=new_uuid)
    tenant_id: Mapped[str]
    approval_id: Mapped[str] = mapped_column(
        ForeignKey("TransactionApproval.approval_id", ondelete="CASCADE", onupdate="CASCADE")
    )
    signatory_id: Mapped[str] = mapped_column(
        ForeignKey("BusinessSignatory.signatory_id", ondelete="CASCADE", onupdate="CASCADE")
    )
    approved: Mapped[bool]
    remarks: Mapped[str | None]
    voted_at: Mapped[datetime] = mapped_column(server_default=NOW)
    approval: Mapped[TransactionApproval] = relationship(foreign_keys=[approval_id])
    signatory: Mapped[BusinessSignatory] = relationship(foreign_keys=[signatory_id])


class Organization(TenantScoped, Base):
    __tablename__ = "Organization"
    __table_args__ = (
        # The ledger's id, chosen by the client: unique per tenant only (revision d1a2b3c4e5f6).
        PrimaryKeyConstraint("tenant_id", "org_id"),
        Index(None, "status"),
    )
    org_id: Mapped[str]
    tenant_id: Mapped[str]
    org_name: Mapped[str]
    org_type: Mapped[str]
    status: Mapped[str]
    stakeholders: Mapped[Json]
    endorsers: Mapped[Json | None]
    auth_rules: Mapped[Json | None]
    activated_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(server_default=NOW)
    updated_at: Mapped[UpdatedAt]


class MultiSigTransaction(TenantScoped, Base):
    __tablename__ = "MultiSigTransaction"
    __table_args__ = (
        PrimaryKeyConstraint("tenant_id", "tx_id"),  # as Organization's
        Index(None, "tenant_id", "org_id"),
        Index(None, "status"),
    )
    tx_id: Mapped[str]
    tenant_id: Mapped[str]
    org_id: Mapped[str]
    proposer_id: Mapped[str]
    operation: Mapped[str]
    params: Mapped[Json]
    status: Mapped[str]
    required_signatures: Mapped[int]
    current_signatures: Mapped[int] = mapped_column(server_default=text("0"))
    approvers: Mapped[Json | None]
    executed_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(server_default=NOW)
    updated_at: Mapped[UpdatedAt]
