"""Requests and responses of business accounts (camelCase, as the reference API's)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints, model_validator

from gxcore.enums import ApprovalStatus, OffChainTxType, OrgProfileStatus, SignatoryRole
from gxcore.http import Ident, RequestBody
from gxcore.wallet.schemas import Amount, CountryCode, Money, Remark

Name = Annotated[str, StringConstraints(min_length=1, max_length=200, strip_whitespace=True)]
Count = Annotated[int, Field(ge=1, le=20)]


class MemberRole(StrEnum):
    """`UserOrganizationLink.role`: an owner and admins manage the organization."""

    OWNER = "owner"
    ADMIN = "admin"
    MEMBER = "member"


MANAGERS = frozenset({MemberRole.OWNER, MemberRole.ADMIN})


class OrganizationProfileIn(RequestBody):
    legalName: Name
    registrationNumber: Annotated[str, StringConstraints(max_length=100)] | None = None
    jurisdictionCountryCode: CountryCode
    address: Annotated[str, StringConstraints(max_length=500)] | None = None


class OrganizationProfileRead(BaseModel):
    orgProfileId: str
    legalName: str
    registrationNumber: str | None
    jurisdictionCountryCode: str
    address: str | None
    status: OrgProfileStatus
    createdAt: datetime
    updatedAt: datetime


class MemberIn(RequestBody):
    profileId: Ident
    role: MemberRole = MemberRole.MEMBER


class MemberRead(BaseModel):
    profileId: str
    orgProfileId: str
    role: MemberRole
    addedAt: datetime


class BusinessAccountIn(RequestBody):
    orgProfileId: Ident
    organizationId: Ident = Field(
        description="the ACTIVE ledger organization whose account is this business's wallet"
    )
    defaultRequiredApprovals: Count = 1


class BusinessAccountRead(BaseModel):
    businessAccountId: str
    orgProfileId: str
    walletId: str
    accountId: str
    defaultRequiredApprovals: int
    createdAt: datetime


class SignatoryIn(RequestBody):
    profileId: Ident
    role: SignatoryRole
    canInitiateTransactions: bool = False
    canApproveTransactions: bool = False
    maxTransactionLimit: Amount | None = None


class SignatoryRead(BaseModel):
    signatoryId: str
    businessAccountId: str
    profileId: str
    role: SignatoryRole
    canInitiateTransactions: bool
    canApproveTransactions: bool
    maxTransactionLimit: Money | None
    invitedAt: datetime
    confirmedAt: datetime | None
    revokedAt: datetime | None


class RuleIn(RequestBody):
    """An amount range (null = open on that side, both ends included), the approvals it needs,
    optionally only for one transaction type and with a daily limit."""

    minAmount: Amount | None = None
    maxAmount: Amount | None = None
    requiredApprovals: Count
    transactionType: OffChainTxType | None = None
    dailyLimit: Amount | None = None

    @model_validator(mode="after")
    def _range(self) -> RuleIn:
        low, high = self.minAmount, self.maxAmount
        if low is not None and high is not None and low > high:
            raise ValueError("minAmount must not exceed maxAmount")
        return self


class RuleRead(BaseModel):
    ruleId: str
    businessAccountId: str
    minAmount: Money | None
    maxAmount: Money | None
    requiredApprovals: int
    transactionType: OffChainTxType | None
    dailyLimit: Money | None
    isActive: bool
    createdAt: datetime


class BusinessTransferIn(RequestBody):
    toUserId: Ident
    amount: Amount


class VoteIn(RequestBody):
    remarks: Remark | None = None


class VoteRead(BaseModel):
    signatoryId: str
    profileId: str
    approved: bool
    remarks: str | None
    votedAt: datetime


class ApprovalRead(BaseModel):
    approvalId: str
    businessAccountId: str
    commandId: str
    commandStatus: str
    errorCode: str | None
    initiatorId: str
    receiverAccountId: str
    amount: Money
    fee: Money
    requiredApprovals: int
    receivedApprovals: int
    status: ApprovalStatus
    expiresAt: datetime
    createdAt: datetime
    votes: list[VoteRead]


class ApprovalPage(BaseModel):
    items: list[ApprovalRead]
