"""Requests and responses of business accounts (camelCase, as the reference API's)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, Field, StringConstraints, model_validator

from gxcore.bodies import Ident, RequestBody
from gxcore.db.pages import Page
from gxcore.db.types import to_money
from gxcore.enums import ApprovalStatus, OffChainTxType, OrgProfileStatus, SignatoryRole
from gxcore.errors import InvalidAmount
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
    version: int = Field(description="bumped by every update; the ETag, for If-Match")


class BusinessAccountUpdate(RequestBody):
    """What the owner and admins may change on a business account."""

    defaultRequiredApprovals: Count = Field(
        description="approvals a transfer needs when no active rule covers its amount"
    )


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
    version: int = Field(description="bumped by every update; the ETag, for If-Match")


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


class ApprovalPage(Page[ApprovalRead]):
    pass


# Organizations on the ledger ------------------------------------------------------------------

OrgId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.:-]{1,100}$")]


class OrganizationIn(RequestBody):
    """Stakeholders are user profile ids (2 to 20, the caller among them: listed first on the
    ledger, the organization's wallet is theirs to see)."""

    organizationName: Name
    stakeholders: Annotated[list[Ident], Field(min_length=1, max_length=20)]
    organizationId: OrgId | None = None
    country: CountryCode | None = None


def _threshold(value: object) -> Decimal:
    if isinstance(value, float):
        value = repr(value)
    try:
        amount = to_money(value)
    except InvalidAmount as e:
        raise ValueError(e.message) from None
    if amount < 0:
        raise ValueError("must not be negative")
    return amount


class AuthRuleIn(RequestBody):
    """Above `threshold`, a multi-signature transfer needs `requiredApprovers` of `approvers`
    (profile ids of stakeholders)."""

    threshold: Annotated[Decimal, BeforeValidator(_threshold)]
    requiredApprovers: Count
    approvers: Annotated[list[Ident], Field(min_length=1, max_length=20)]


class MultisigTransferIn(RequestBody):
    toUserId: Ident
    amount: Amount


class OrgCommandAccepted(BaseModel):
    commandId: str
    status: str
    organizationId: str
    multisigTxId: str | None = None


class OrgCommandStatus(BaseModel):
    commandId: str
    type: str
    status: str
    errorCode: str | None
    error: str | None


class OrganizationRead(BaseModel):
    organizationId: str
    organizationName: str
    status: str
    stakeholders: list[str]
    endorsers: list[str]
    authRules: list[dict[str, object]]
    activatedAt: datetime | None
    createdAt: datetime


class MultisigRead(BaseModel):
    multisigTxId: str
    organizationId: str
    initiatorId: str
    status: str
    requiredSignatures: int
    currentSignatures: int
    approvers: list[str]
    params: dict[str, object]
    executedAt: datetime | None
    createdAt: datetime


class MemberPage(Page[MemberRead]):
    pass


class MultisigPage(Page[MultisigRead]):
    pass


class SignatoryPage(Page[SignatoryRead]):
    pass


class RulePage(Page[RuleRead]):
    pass
