"""Requests and responses of svc-tokenomics, with the reference API's field names (camelCase)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    Field,
    PlainSerializer,
    StringConstraints,
    ValidationError,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from gxcore.bodies import Ident, RequestBody
from gxcore.db.pages import Page
from gxcore.db.types import to_money
from gxcore.enums import CommandType, ContactStatus, LimitType, OffChainTxType, OutboxStatus
from gxcore.errors import InvalidAmount


def _amount(value: Any) -> Decimal:
    # A JSON number arrives as a float: accepted only when it is exactly a decimal of 9 places
    # or fewer (its shortest repr), never rounded.
    if isinstance(value, float):
        value = repr(value)
    try:
        amount = to_money(value)
    except InvalidAmount as e:
        raise ValueError(e.message) from None
    if amount <= 0:
        raise ValueError("must be greater than zero")
    return amount


#: Money in: a decimal string (or an exact JSON number), > 0, at most 9 places.
Amount = Annotated[
    Decimal,
    BeforeValidator(_amount),
    Field(json_schema_extra={"type": "string", "pattern": r"^[0-9]+(\.[0-9]{1,9})?$"}),
]
#: Money out: always a decimal string with 9 places, never a JSON number.
Money = Annotated[Decimal, PlainSerializer(lambda d: f"{to_money(d):f}", return_type=str)]
Remark = Annotated[str, StringConstraints(max_length=500)]
CountryCode = Annotated[
    str, StringConstraints(pattern=r"^[A-Za-z]{2}$", to_upper=True, strip_whitespace=True)
]


RECEIVER_FIELDS = ("toUserId", "toBusinessAccountId")


class TransferRequest(RequestBody):
    """Exactly one receiver: a user (`toUserId`) or a business account (`toBusinessAccountId`)."""

    toUserId: Ident | None = Field(default=None, description="the user paid")
    toBusinessAccountId: Ident | None = Field(
        default=None, description="the business account paid, instead of a user"
    )
    amount: Amount
    remark: Remark | None = None
    fromUserId: Ident | None = Field(
        default=None, description="administrators only: the sender; default the caller"
    )

    @model_validator(mode="after")
    def _one_receiver(self) -> TransferRequest:
        if (self.toUserId is None) == (self.toBusinessAccountId is None):
            # Raised as a validation error of each receiver field, so the 422 names them.
            why = PydanticCustomError(
                "one_receiver", "name exactly one of toUserId and toBusinessAccountId"
            )
            raise ValidationError.from_exception_data(
                type(self).__name__,
                [
                    InitErrorDetails(type=why, loc=(name,), input=getattr(self, name))
                    for name in RECEIVER_FIELDS
                ],
            )
        return self


class GenesisRequest(RequestBody):
    userId: Ident
    userType: Annotated[str, StringConstraints(pattern=r"^[A-Z_]{1,32}$")] = "INDIVIDUAL"
    countryCode: CountryCode | None = None


class TreasuryActivation(RequestBody):
    countryCode: CountryCode


class Treasury(BaseModel):
    countryCode: str
    accountId: str
    balance: Money
    activatedAt: datetime
    updatedAt: datetime


class TreasuryResponse(BaseModel):
    treasury: Treasury


class CommandAccepted(BaseModel):
    commandId: str
    status: OutboxStatus


class TransferStatus(BaseModel):
    commandId: str
    type: CommandType
    status: OutboxStatus
    errorCode: str | None = None
    txId: str | None = None
    blockNumber: int | None = None


class RiskFactor(BaseModel):
    """One named part of a transfer's risk score: its points and the facts they rest on."""

    name: str
    points: int
    facts: dict[str, Any]


class TransferReview(BaseModel):
    """A transfer scored for risk, as its review sees it (administrators)."""

    commandId: str
    status: OutboxStatus
    errorCode: str | None
    senderId: str
    receiverId: str = Field(
        description="the receiving wallet's owner; a business account's is its proposer"
    )
    receiverBusinessAccountId: str | None = Field(
        default=None, description="the business account paid, when one is"
    )
    amount: Money
    fee: Money
    riskScore: int
    riskFactors: list[RiskFactor]
    requiresReview: bool
    requestedAt: datetime
    reviewedAt: datetime | None
    reviewedBy: str | None
    reviewNotes: str | None


class TransferReviewPage(Page[TransferReview]):
    pass


class Balance(BaseModel):
    walletId: str
    profileId: str
    balance: Money
    available: Money
    held: Money
    isFrozen: bool
    updatedAt: datetime


class BalanceResponse(BaseModel):
    balance: Balance


class TransactionRead(BaseModel):
    offTxId: str
    onChainTxId: str | None
    type: OffChainTxType
    counterparty: str
    amount: Money
    fee: Money
    remark: str | None
    timestamp: datetime
    blockNumber: int | None


class TransactionPage(Page[TransactionRead]):
    pass


def _limit_amount(value: Any) -> Decimal:
    if isinstance(value, float):
        value = repr(value)
    try:
        amount = to_money(value)
    except InvalidAmount as e:
        raise ValueError(e.message) from None
    if amount < 0:
        raise ValueError("must not be negative")
    return amount


class LimitIn(RequestBody):
    limitType: LimitType
    limitAmount: Annotated[
        Decimal, BeforeValidator(_limit_amount), Field(json_schema_extra={"type": "string"})
    ] = Decimal(0)
    maxCount: Annotated[int, Field(ge=1, le=1_000_000)] | None = None
    timeWindowMinutes: Annotated[int, Field(ge=1, le=527_040)] | None = None
    profileId: Ident | None = Field(default=None, description="this profile's wallets")
    walletId: Ident | None = Field(default=None, description="this wallet only")


class LimitRead(BaseModel):
    limitId: str
    limitType: LimitType
    limitAmount: Money
    maxCount: int | None
    timeWindowMinutes: int | None
    profileId: str | None
    walletId: str | None
    isActive: bool


Nickname = Annotated[str, StringConstraints(min_length=1, max_length=100, strip_whitespace=True)]
Note = Annotated[str, StringConstraints(max_length=1000)]


class BeneficiaryIn(RequestBody):
    beneficiaryIdentityId: Ident = Field(description="the profile id of the user to pay")
    nickname: Nickname


class BeneficiaryUpdate(RequestBody):
    nickname: Nickname


class LimitPage(Page[LimitRead]):
    pass


class BeneficiaryRead(BaseModel):
    beneficiaryId: str
    beneficiaryIdentityId: str
    nickname: str
    createdAt: datetime


class ContactIn(RequestBody):
    displayName: Nickname
    contactProfileId: Ident | None = Field(default=None, description="a user of this tenant")
    phoneNumber: Annotated[str, StringConstraints(max_length=32)] | None = None
    email: Annotated[str, StringConstraints(max_length=320)] | None = None
    notes: Note | None = None
    isFavorite: bool = False


class ContactUpdate(RequestBody):
    displayName: Nickname | None = None
    notes: Note | None = None
    isFavorite: bool | None = None
    status: ContactStatus | None = Field(
        default=None, description="BLOCKED refuses their transfers"
    )


class ContactRead(BaseModel):
    contactId: str
    contactProfileId: str | None
    displayName: str
    phoneNumber: str | None
    email: str | None
    notes: str | None
    isFavorite: bool
    transactionCount: int
    lastTransactionAt: datetime | None
    status: ContactStatus
    createdAt: datetime


class BeneficiaryPage(Page[BeneficiaryRead]):
    pass


class ContactPage(Page[ContactRead]):
    pass
