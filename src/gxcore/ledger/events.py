"""Payload schemas of the ledger's events (spec/ledger.md), keyed by (name, version).

The projector validates every payload with `EVENT_SCHEMAS[(event.name, event.version)]` and
sends what fails to the DLQ. JSON keys are camelCase. Money is a Decimal with exactly 9 places,
written as a string (`"12.500000000"`), never a float. Balance-changing events carry the balances
after the change, so a projector updates both sides without reading the ledger.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, ClassVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer
from pydantic.alias_generators import to_camel

from gxcore.db.types import to_money
from gxcore.errors import InvalidAmount
from gxcore.ledger.port import EVENT_VERSION


def _to_money(value: Any) -> Decimal:
    try:
        return to_money(value)
    except InvalidAmount as e:  # pydantic reports ValueErrors as validation errors
        raise ValueError(e.message) from e


#: A non-negative amount with 9 places; JSON form "12.500000000" (floats are refused).
Money = Annotated[
    Decimal,
    BeforeValidator(_to_money),
    Field(ge=0),
    PlainSerializer(lambda d: f"{d:f}", return_type=str, when_used="json"),
]


class EventPayload(BaseModel):
    """Base of every payload: camelCase keys, immutable, no unknown keys (the version fixes them)."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, frozen=True, extra="forbid"
    )

    name: ClassVar[str]
    version: ClassVar[str] = EVENT_VERSION

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True)


# --- admin ------------------------------------------------------------------------------------


class SystemBootstrapped(EventPayload):
    """The tenant's chain opened: system accounts created, genesis and loan pools funded."""

    name = "SystemBootstrapped"
    genesis_pool_id: str
    fee_pool_id: str
    redistribution_pool_id: str
    loan_pool_id: str
    genesis_supply: Money
    loan_pool_supply: Money
    parameters: dict[str, str]


class CountryData(BaseModel):
    model_config = EventPayload.model_config
    code: str = Field(pattern=r"^[A-Z]{2}$")
    name: str
    population_share: Annotated[Decimal, Field(ge=0, le=1)]


class CountryDataInitialized(EventPayload):
    """Countries registered or updated (ISO code, name, share of the population, 0 to 1)."""

    name = "CountryDataInitialized"
    countries: list[CountryData]


class SystemParameterUpdated(EventPayload):
    """A parameter changed by UPDATE_SYSTEM_PARAMETER (canonical string values)."""

    name = "SystemParameterUpdated"
    key: str
    old_value: str
    new_value: str


class SystemPaused(EventPayload):
    """Every non-admin command is refused until SystemResumed."""

    name = "SystemPaused"
    reason: str | None = None


class SystemResumed(EventPayload):
    """Commands run again."""

    name = "SystemResumed"


class AdminAppointed(EventPayload):
    """A user account was given the admin flag."""

    name = "AdminAppointed"
    account_id: str


class TreasuryActivated(EventPayload):
    """A country's treasury account was opened (empty)."""

    name = "TreasuryActivated"
    country_code: str
    account_id: str


# --- identity and tokenomics ------------------------------------------------------------------


class UserCreated(EventPayload):
    """A user account opened; userId is the profile's fabricUserId and the account id."""

    name = "UserCreated"
    user_id: str
    profile_id: str | None = None
    nationality: str
    biometric_hash: str
    age: int


class GenesisDistributed(EventPayload):
    """The genesis allocation moved from the genesis pool to the user; balances after."""

    name = "GenesisDistributed"
    user_id: str
    amount: Money
    balance: Money
    pool_balance: Money


class TransferCompleted(EventPayload):
    """amount moved sender → receiver; the sender also paid fee to the fee pool; balances after."""

    name = "TransferCompleted"
    sender_id: str
    receiver_id: str
    amount: Money
    fee: Money
    sender_balance: Money
    receiver_balance: Money
    remark: str | None = None


@dataclass(frozen=True, slots=True)
class Built:
    """A payload the ledger built as JSON itself, skipping the model's validation on its hot
    paths: the values come from plans whose rules already hold (tests check every event the
    ledger emits against `EVENT_SCHEMAS`). Emitted like an `EventPayload`."""

    name: str
    payload: dict[str, Any]
    version: str = EVENT_VERSION

    def to_json(self) -> dict[str, Any]:
        return self.payload


def _money_json(amount: Decimal) -> str:
    return f"{to_money(amount):f}"  # to_money: 9 places whatever the arithmetic gave


def transfer_completed(
    *,
    sender_id: str,
    receiver_id: str,
    amount: Decimal,
    fee: Decimal,
    sender_balance: Decimal,
    receiver_balance: Decimal,
    remark: str | None,
) -> Built:
    """`TransferCompleted(...).to_json()`, built directly (one per transfer)."""
    return Built(
        TransferCompleted.name,
        {
            "senderId": sender_id,
            "receiverId": receiver_id,
            "amount": _money_json(amount),
            "fee": _money_json(fee),
            "senderBalance": _money_json(sender_balance),
            "receiverBalance": _money_json(receiver_balance),
            "remark": remark,
        },
    )


class WalletFrozen(EventPayload):
    """The account can neither send nor receive until unfrozen."""

    name = "WalletFrozen"
    account_id: str
    reason: str | None = None


class WalletUnfrozen(EventPayload):
    """The account can send and receive again."""

    name = "WalletUnfrozen"
    account_id: str


class VelocityTaxApplied(EventPayload):
    """Tax debited from the account: treasuryShare to its country's treasury, the rest to the
    redistribution pool; balances after; the account's timer restarted."""

    name = "VelocityTaxApplied"
    account_id: str
    taxable_amount: Money
    rate_bps: int
    amount: Money
    treasury_account_id: str
    treasury_share: Money
    redistribution_share: Money
    balance: Money
    treasury_balance: Money


# --- organizations and multisig ---------------------------------------------------------------


class OrganizationProposed(EventPayload):
    """An organization proposed with its stakeholders, waiting for their endorsements."""

    name = "OrganizationProposed"
    organization_id: str
    organization_name: str
    stakeholders: list[str]
    country: str | None = None


class MembershipEndorsed(EventPayload):
    """A stakeholder endorsed; `endorsements` of `stakeholderCount` so far."""

    name = "MembershipEndorsed"
    organization_id: str
    stakeholder_id: str
    endorsements: int
    stakeholder_count: int


class OrganizationActivated(EventPayload):
    """Every stakeholder endorsed: the organization's account (id = organizationId) is open."""

    name = "OrganizationActivated"
    organization_id: str
    account_id: str
    stakeholders: list[str]


class AuthRuleDefined(EventPayload):
    """Above `threshold`, `requiredApprovers` of `approvers` must approve a multisig transfer."""

    name = "AuthRuleDefined"
    organization_id: str
    threshold: Money
    required_approvers: int
    approvers: list[str]


class MultiSigTxInitiated(EventPayload):
    """A transfer from the organization's account proposed; the initiator's approval counts."""

    name = "MultiSigTxInitiated"
    multisig_tx_id: str
    organization_id: str
    initiator_id: str
    receiver_id: str
    amount: Money
    required_approvals: int
    approvers: list[str]
    approvals: int
    expires_at: datetime


class MultiSigTxApproved(EventPayload):
    """One more approval; at `requiredApprovals` the transfer runs (MultiSigTxExecuted follows)."""

    name = "MultiSigTxApproved"
    multisig_tx_id: str
    organization_id: str
    approver_id: str
    approvals: int
    required_approvals: int


class MultiSigTxExecuted(EventPayload):
    """The multisig transfer ran (transfer fee rules apply); balances after."""

    name = "MultiSigTxExecuted"
    multisig_tx_id: str
    organization_id: str
    receiver_id: str
    amount: Money
    fee: Money
    organization_balance: Money
    receiver_balance: Money


# --- loans ------------------------------------------------------------------------------------


class LoanApplicationReceived(EventPayload):
    """A loan application recorded (no money moves yet)."""

    name = "LoanApplicationReceived"
    loan_id: str
    borrower_id: str
    amount: Money
    collateral_hash: str | None = None
    purpose: str | None = None


class LoanApproved(EventPayload):
    """The loan was disbursed from the loan pool to the borrower; balances after."""

    name = "LoanApproved"
    loan_id: str
    borrower_id: str
    amount: Money
    borrower_balance: Money
    loan_pool_balance: Money
    approver_id: str | None = None


# --- governance -------------------------------------------------------------------------------


class ProposalSubmitted(EventPayload):
    """A proposal to set `parameterKey` to `newValue`, open for votes until `votingEndsAt`."""

    name = "ProposalSubmitted"
    proposal_id: str
    proposer_id: str
    parameter_key: str
    new_value: str
    title: str | None = None
    voting_ends_at: datetime


class VoteCast(EventPayload):
    """One account's vote, with the running totals."""

    name = "VoteCast"
    proposal_id: str
    voter_id: str
    support: bool
    votes_for: int
    votes_against: int


class ProposalExecuted(EventPayload):
    """The proposal passed and its parameter change took effect."""

    name = "ProposalExecuted"
    proposal_id: str
    parameter_key: str
    old_value: str
    new_value: str
    votes_for: int
    votes_against: int


EVENT_SCHEMAS: dict[tuple[str, str], type[EventPayload]] = {
    (cls.name, cls.version): cls
    for cls in (
        SystemBootstrapped,
        CountryDataInitialized,
        SystemParameterUpdated,
        SystemPaused,
        SystemResumed,
        AdminAppointed,
        TreasuryActivated,
        UserCreated,
        GenesisDistributed,
        TransferCompleted,
        WalletFrozen,
        WalletUnfrozen,
        VelocityTaxApplied,
        OrganizationProposed,
        MembershipEndorsed,
        OrganizationActivated,
        AuthRuleDefined,
        MultiSigTxInitiated,
        MultiSigTxApproved,
        MultiSigTxExecuted,
        LoanApplicationReceived,
        LoanApproved,
        ProposalSubmitted,
        VoteCast,
        ProposalExecuted,
    )
}


def parse_event(name: str, version: str, payload: dict[str, Any]) -> EventPayload:
    """Validate a payload against its schema (KeyError for an unknown name/version)."""
    return EVENT_SCHEMAS[(name, version)].model_validate(payload)
