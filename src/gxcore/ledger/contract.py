"""The GX contract's rules (spec/ledger.md) as pure functions over plain values.

No database and no clock here: the embedded ledger feeds these functions what it loaded and
applies what they return, and the tests call them directly. A broken rule raises `Rejected`
with one of the stable codes of `Code`; the ledger turns it into a rejected outcome.

Arithmetic is exact: every amount has 9 places (`gxcore.db.types.to_money`, more precision is
refused, never rounded), and the only divisions (fee, tax, its split) are quantized to 9 places
with ROUND_HALF_EVEN (banker's rounding: no drift either way over many transactions).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_EVEN, Decimal, localcontext
from enum import StrEnum
from typing import Any, Protocol

from gxcore.db.types import MONEY_PLACES, to_money
from gxcore.enums import CommandType
from gxcore.errors import GxError, InvalidAmount

ZERO = Decimal(0).scaleb(-MONEY_PLACES)
QUANTUM = Decimal(1).scaleb(-MONEY_PLACES)
BPS = 10_000
MAX_VELOCITY_TAX_BPS = 600
MIN_STAKEHOLDERS, MAX_STAKEHOLDERS = 2, 20
#: BOOTSTRAP_SYSTEM's defaults (gxcore's choice; ledger.md leaves the supply open): enough for
#: two billion genesis allocations of 500, and a loan pool one hundredth of that.
DEFAULT_GENESIS_SUPPLY = Decimal(10**12)
DEFAULT_LOAN_POOL_SUPPLY = Decimal(10**10)
# 36 digits of numeric(36,9), twice over: products of two amounts stay exact.
WIDE_PRECISION = 80


class Code(StrEnum):
    """Rejection codes. A rejection is a request id's outcome for good; the same command sent
    again under a new request id can only succeed after a STATE_DEPENDENT one."""

    INVALID_PAYLOAD = "INVALID_PAYLOAD"
    INVALID_AMOUNT = "INVALID_AMOUNT"
    NOT_BOOTSTRAPPED = "NOT_BOOTSTRAPPED"
    ALREADY_BOOTSTRAPPED = "ALREADY_BOOTSTRAPPED"
    SYSTEM_PAUSED = "SYSTEM_PAUSED"
    ALREADY_PAUSED = "ALREADY_PAUSED"
    NOT_PAUSED = "NOT_PAUSED"
    UNKNOWN_PARAMETER = "UNKNOWN_PARAMETER"
    INVALID_VALUE = "INVALID_VALUE"
    ACCOUNT_NOT_FOUND = "ACCOUNT_NOT_FOUND"
    ALREADY_ADMIN = "ALREADY_ADMIN"
    COUNTRY_NOT_FOUND = "COUNTRY_NOT_FOUND"
    ALREADY_ACTIVE = "ALREADY_ACTIVE"
    USER_EXISTS = "USER_EXISTS"
    ALREADY_DISTRIBUTED = "ALREADY_DISTRIBUTED"
    NOT_ELIGIBLE = "NOT_ELIGIBLE"
    POOL_EXHAUSTED = "POOL_EXHAUSTED"
    INSUFFICIENT_FUNDS = "INSUFFICIENT_FUNDS"
    ACCOUNT_FROZEN = "ACCOUNT_FROZEN"
    SELF_TRANSFER = "SELF_TRANSFER"
    TRANSFER_NOT_ALLOWED = "TRANSFER_NOT_ALLOWED"
    ALREADY_FROZEN = "ALREADY_FROZEN"
    NOT_FROZEN = "NOT_FROZEN"
    INVALID_STAKEHOLDERS = "INVALID_STAKEHOLDERS"
    ORGANIZATION_EXISTS = "ORGANIZATION_EXISTS"
    ORGANIZATION_NOT_FOUND = "ORGANIZATION_NOT_FOUND"
    ORGANIZATION_NOT_ACTIVE = "ORGANIZATION_NOT_ACTIVE"
    NOT_A_STAKEHOLDER = "NOT_A_STAKEHOLDER"
    ALREADY_ENDORSED = "ALREADY_ENDORSED"
    ENDORSEMENTS_MISSING = "ENDORSEMENTS_MISSING"
    INVALID_RULE = "INVALID_RULE"
    NOT_A_MEMBER = "NOT_A_MEMBER"
    MULTISIG_EXISTS = "MULTISIG_EXISTS"
    MULTISIG_NOT_FOUND = "MULTISIG_NOT_FOUND"
    MULTISIG_EXPIRED = "MULTISIG_EXPIRED"
    NOT_AN_APPROVER = "NOT_AN_APPROVER"
    ALREADY_APPROVED = "ALREADY_APPROVED"
    NOT_APPROVED = "NOT_APPROVED"
    ALREADY_EXECUTED = "ALREADY_EXECUTED"
    LOAN_EXISTS = "LOAN_EXISTS"
    LOAN_NOT_FOUND = "LOAN_NOT_FOUND"
    LOAN_NOT_PENDING = "LOAN_NOT_PENDING"
    PROPOSAL_EXISTS = "PROPOSAL_EXISTS"
    PROPOSAL_NOT_FOUND = "PROPOSAL_NOT_FOUND"
    ALREADY_VOTED = "ALREADY_VOTED"
    PROPOSAL_CLOSED = "PROPOSAL_CLOSED"
    PROPOSAL_NOT_PASSED = "PROPOSAL_NOT_PASSED"
    TREASURY_NOT_ACTIVE = "TREASURY_NOT_ACTIVE"


class Rejected(GxError):
    """A command broke a rule. Raised by these functions; `submit` reports it as an outcome."""

    def __init__(self, code: Code | str, message: str) -> None:
        super().__init__(message)
        self.code = str(code)

    def __repr__(self) -> str:
        return f"Rejected({self.code}, {self.message!r})"


class Kind(StrEnum):
    """Account kinds."""

    USER = "user"
    ORGANIZATION = "organization"
    TREASURY = "treasury"
    SYSTEM = "system"


# --------------------------------------------------------------------------------------------
# Commands allowed by the system state
# --------------------------------------------------------------------------------------------

#: Commands that still run while the system is paused: the operator's tools. Freezing and
#: unfreezing are among them because an incident is exactly when an operator pauses and freezes.
ADMIN_COMMANDS = frozenset(
    {
        CommandType.BOOTSTRAP_SYSTEM,
        CommandType.INITIALIZE_COUNTRY_DATA,
        CommandType.UPDATE_SYSTEM_PARAMETER,
        CommandType.PAUSE_SYSTEM,
        CommandType.RESUME_SYSTEM,
        CommandType.APPOINT_ADMIN,
        CommandType.ACTIVATE_TREASURY,
        CommandType.FREEZE_WALLET,
        CommandType.UNFREEZE_WALLET,
    }
)


#: Rejections by the chain's state, not by the command: the same command may commit once the
#: tenant is bootstrapped or resumed (as a new request: see gxcore.cqrs.operator).
STATE_DEPENDENT = frozenset({Code.NOT_BOOTSTRAPPED, Code.SYSTEM_PAUSED})


def check_allowed(command_type: CommandType, *, bootstrapped: bool, paused: bool) -> None:
    """Every command but BOOTSTRAP_SYSTEM needs a bootstrapped chain; a pause stops all but admin."""
    if command_type is CommandType.BOOTSTRAP_SYSTEM:
        if bootstrapped:
            raise Rejected(Code.ALREADY_BOOTSTRAPPED, "the system is already bootstrapped")
        return
    if not bootstrapped:
        raise Rejected(Code.NOT_BOOTSTRAPPED, "the system is not bootstrapped yet")
    if paused and command_type not in ADMIN_COMMANDS:
        raise Rejected(Code.SYSTEM_PAUSED, f"the system is paused; {command_type} is refused")


# --------------------------------------------------------------------------------------------
# Amounts
# --------------------------------------------------------------------------------------------


def money(value: Any) -> Decimal:
    """`value` as an exact 9-place Decimal, or INVALID_AMOUNT (floats, > 9 places, too large)."""
    try:
        return to_money(value)
    except InvalidAmount as e:
        raise Rejected(Code.INVALID_AMOUNT, e.message) from e


def positive_amount(value: Any) -> Decimal:
    amount = money(value)
    if amount <= 0:
        raise Rejected(Code.INVALID_AMOUNT, f"amount must be positive, got {amount}")
    return amount


def _quantize(value: Decimal) -> Decimal:
    return value.quantize(QUANTUM, rounding=ROUND_HALF_EVEN)


# --------------------------------------------------------------------------------------------
# Parameters
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ParameterRule:
    """A parameter the ledger keeps: its kind and the range a new value must fall in."""

    key: str
    kind: type  # int or Decimal
    initial: str  # the value a bootstrapped ledger starts with (ledger.md)
    description: str
    minimum: int | Decimal
    maximum: int | Decimal | None = None

    @property
    def default(self) -> str:
        return canonical_value(self, self.initial)


def canonical_value(rule: ParameterRule, raw: object) -> str:
    """The stored form of a parameter value (ints as digits, money with 9 places) or INVALID_VALUE."""
    text = str(raw).strip()
    try:
        if rule.kind is int:
            if isinstance(raw, bool) or not text.lstrip("-").isdigit():
                raise ValueError(f"{text!r} is not an integer")
            value: int | Decimal = int(text)
        else:
            value = to_money(text)
    except (ValueError, InvalidAmount) as e:
        raise Rejected(Code.INVALID_VALUE, f"{rule.key}: {e}") from e
    if value < rule.minimum or (rule.maximum is not None and value > rule.maximum):
        bounds = f">= {rule.minimum}"
        if rule.maximum is not None:
            bounds += f" and <= {rule.maximum}"
        raise Rejected(Code.INVALID_VALUE, f"{rule.key} must be {bounds}, got {value}")
    return str(value)


#: The parameters the ledger keeps per tenant, with the defaults of ledger.md.
PARAMETER_RULES: dict[str, ParameterRule] = {
    r.key: r
    for r in (
        ParameterRule(
            "transferFeeBps", int, "10", "transfer fee in basis points of the amount", 0, BPS
        ),
        ParameterRule(
            "transferFeeThreshold", Decimal, "3", "transfers above this amount pay the fee", 0
        ),
        ParameterRule(
            "genesisAllocation", Decimal, "500", "coins credited once per eligible user", 0
        ),
        ParameterRule(
            "genesisMinAge", int, "13", "youngest age that receives the genesis allocation", 0, 150
        ),
        ParameterRule(
            "genesisMaxAge", int, "73", "oldest age that receives the genesis allocation", 0, 150
        ),
        ParameterRule(
            "velocityTaxThreshold", Decimal, "100", "balance above which velocity tax accrues", 0
        ),
        ParameterRule(
            "velocityTaxCycleDays", int, "360", "days above the threshold before tax is due", 0
        ),
        ParameterRule(
            "velocityTaxRateBps",
            int,
            "300",
            "velocity tax rate in basis points (max 600)",
            0,
            MAX_VELOCITY_TAX_BPS,
        ),
        ParameterRule(
            "multisigApprovalTtlHours", int, "72", "hours a multi-signature request stays open", 1
        ),
        ParameterRule(
            "governanceVotingPeriodDays", int, "7", "days a proposal is open for votes", 0
        ),
    )
}


def parameter_value(key: str, raw: object) -> str:
    """Validate one new value: UNKNOWN_PARAMETER for keys the ledger does not keep."""
    rule = PARAMETER_RULES.get(key)
    if rule is None:
        known = ", ".join(sorted(PARAMETER_RULES))
        raise Rejected(Code.UNKNOWN_PARAMETER, f"unknown parameter {key!r}; known: {known}")
    return canonical_value(rule, raw)


def default_parameters() -> dict[str, str]:
    return {key: rule.default for key, rule in PARAMETER_RULES.items()}


@dataclass(frozen=True)
class Params:
    """A tenant's parameters, typed. Build with `Params.of(mapping)`; missing keys take defaults."""

    transfer_fee_bps: int
    transfer_fee_threshold: Decimal
    genesis_allocation: Decimal
    genesis_min_age: int
    genesis_max_age: int
    velocity_tax_threshold: Decimal
    velocity_tax_cycle_days: int
    velocity_tax_rate_bps: int
    multisig_approval_ttl_hours: int
    governance_voting_period_days: int

    @classmethod
    def of(cls, values: Mapping[str, str] | None = None) -> Params:
        merged = {**default_parameters(), **(values or {})}
        return cls(
            transfer_fee_bps=int(merged["transferFeeBps"]),
            transfer_fee_threshold=to_money(merged["transferFeeThreshold"]),
            genesis_allocation=to_money(merged["genesisAllocation"]),
            genesis_min_age=int(merged["genesisMinAge"]),
            genesis_max_age=int(merged["genesisMaxAge"]),
            velocity_tax_threshold=to_money(merged["velocityTaxThreshold"]),
            velocity_tax_cycle_days=int(merged["velocityTaxCycleDays"]),
            velocity_tax_rate_bps=int(merged["velocityTaxRateBps"]),
            multisig_approval_ttl_hours=int(merged["multisigApprovalTtlHours"]),
            governance_voting_period_days=int(merged["governanceVotingPeriodDays"]),
        )


def check_parameters(values: Mapping[str, str]) -> None:
    """Rules across parameters: an empty age range would make genesis unreachable by mistake."""
    p = Params.of(values)
    if p.genesis_min_age > p.genesis_max_age:
        raise Rejected(
            Code.INVALID_VALUE,
            f"genesisMinAge ({p.genesis_min_age}) must not exceed genesisMaxAge "
            f"({p.genesis_max_age})",
        )


# --------------------------------------------------------------------------------------------
# Tokenomics: transfers, genesis, velocity tax
# --------------------------------------------------------------------------------------------


class Holder(Protocol):
    """What the rules read of an account."""

    @property
    def kind(self) -> str: ...
    @property
    def balance(self) -> Decimal: ...
    @property
    def frozen(self) -> bool: ...


def transfer_fee(amount: Decimal, params: Params) -> Decimal:
    """amount × transferFeeBps / 10000 when amount > transferFeeThreshold, else 0 (half-even)."""
    if amount <= params.transfer_fee_threshold:
        return ZERO
    with localcontext(prec=WIDE_PRECISION):
        return _quantize(amount * params.transfer_fee_bps / BPS)


@dataclass(frozen=True)
class TransferPlan:
    amount: Decimal
    fee: Decimal
    sender_balance: Decimal
    receiver_balance: Decimal


#: TRANSFER_TOKENS moves value between people: an organization's account pays through a
#: multisig transaction, and system pools move only by their own commands.
USER_SENDERS = frozenset({Kind.USER})
RECEIVERS = frozenset({Kind.USER, Kind.ORGANIZATION, Kind.TREASURY})


def plan_transfer(
    sender_id: str,
    receiver_id: str,
    amount: Any,
    *,
    sender: Holder | None,
    receiver: Holder | None,
    params: Params,
    sender_kinds: frozenset[str] = USER_SENDERS,
) -> TransferPlan:
    """Checks in a fixed order (amount, self, existence, kinds, frozen, funds); the sender pays
    the fee on top of the amount."""
    value = positive_amount(amount)
    if sender_id == receiver_id:
        raise Rejected(Code.SELF_TRANSFER, "sender and receiver are the same account")
    for account_id, account in ((sender_id, sender), (receiver_id, receiver)):
        if account is None:
            raise Rejected(Code.ACCOUNT_NOT_FOUND, f"account {account_id!r} does not exist")
    assert sender is not None and receiver is not None
    if sender.kind not in sender_kinds:
        raise Rejected(Code.TRANSFER_NOT_ALLOWED, f"a {sender.kind} account cannot send this way")
    if receiver.kind not in RECEIVERS:
        raise Rejected(Code.TRANSFER_NOT_ALLOWED, f"a {receiver.kind} account cannot receive")
    for account_id, account in ((sender_id, sender), (receiver_id, receiver)):
        if account.frozen:
            raise Rejected(Code.ACCOUNT_FROZEN, f"account {account_id!r} is frozen")
    fee = transfer_fee(value, params)
    with localcontext(prec=WIDE_PRECISION):
        debit = value + fee
        if sender.balance < debit:
            raise Rejected(
                Code.INSUFFICIENT_FUNDS,
                f"balance {sender.balance} is below amount {value} + fee {fee}",
            )
        return TransferPlan(value, fee, sender.balance - debit, receiver.balance + value)


def genesis_eligible(age: int | None, params: Params) -> bool:
    return age is not None and params.genesis_min_age <= age <= params.genesis_max_age


class GenesisHolder(Holder, Protocol):
    @property
    def age(self) -> int | None: ...
    @property
    def genesis_received(self) -> bool: ...


@dataclass(frozen=True)
class GenesisPlan:
    amount: Decimal
    user_balance: Decimal
    pool_balance: Decimal


def plan_genesis(user: GenesisHolder, pool_balance: Decimal, params: Params) -> GenesisPlan:
    """Once per user; ages outside [genesisMinAge, genesisMaxAge] get nothing."""
    if user.genesis_received:
        raise Rejected(
            Code.ALREADY_DISTRIBUTED, "this user already received the genesis allocation"
        )
    if not genesis_eligible(user.age, params):
        raise Rejected(
            Code.NOT_ELIGIBLE,
            f"age {user.age} is outside {params.genesis_min_age}-{params.genesis_max_age}",
        )
    if user.frozen:
        raise Rejected(Code.ACCOUNT_FROZEN, "the user's account is frozen")
    amount = params.genesis_allocation
    if amount <= 0 or pool_balance < amount:
        raise Rejected(
            Code.POOL_EXHAUSTED, f"the genesis pool holds {pool_balance}, {amount} needed"
        )
    with localcontext(prec=WIDE_PRECISION):
        return GenesisPlan(amount, user.balance + amount, pool_balance - amount)


def threshold_since(
    since: date | None, balance: Decimal, threshold: Decimal, today: date
) -> date | None:
    """The date the balance last rose above the velocity-tax threshold (None while at or below)."""
    if balance <= threshold:
        return None
    return since or today


def split_tax(tax: Decimal) -> tuple[Decimal, Decimal]:
    """(treasury, redistribution): half each, the treasury's half rounded half-even, the rest to
    redistribution, so the two always add up to the tax exactly."""
    with localcontext(prec=WIDE_PRECISION):
        treasury = _quantize(tax / 2)
        return treasury, tax - treasury


@dataclass(frozen=True)
class TaxPlan:
    taxable: Decimal
    tax: Decimal
    treasury_share: Decimal
    redistribution_share: Decimal
    balance: Decimal


def plan_velocity_tax(balance: Decimal, since: date | None, today: date, params: Params) -> TaxPlan:
    """Rate on the amount above the threshold, due once the balance stayed above it a full cycle."""
    threshold = params.velocity_tax_threshold
    if since is None or balance <= threshold:
        raise Rejected(Code.NOT_ELIGIBLE, f"balance {balance} is not above {threshold}")
    held = (today - since).days
    if held < params.velocity_tax_cycle_days:
        raise Rejected(
            Code.NOT_ELIGIBLE,
            f"above the threshold for {held} days, {params.velocity_tax_cycle_days} needed",
        )
    with localcontext(prec=WIDE_PRECISION):
        taxable = balance - threshold
        tax = _quantize(taxable * min(params.velocity_tax_rate_bps, MAX_VELOCITY_TAX_BPS) / BPS)
        if tax <= 0:
            raise Rejected(Code.NOT_ELIGIBLE, "the tax due rounds to zero")
        treasury, redistribution = split_tax(tax)
        return TaxPlan(taxable, tax, treasury, redistribution, balance - tax)


# --------------------------------------------------------------------------------------------
# Organizations and multi-signature transfers
# --------------------------------------------------------------------------------------------


def check_stakeholders(stakeholders: Sequence[str], known: Iterable[str]) -> tuple[str, ...]:
    """2 to 20 distinct existing user accounts."""
    found = set(known)
    if not MIN_STAKEHOLDERS <= len(stakeholders) <= MAX_STAKEHOLDERS:
        raise Rejected(
            Code.INVALID_STAKEHOLDERS,
            f"{len(stakeholders)} stakeholders; {MIN_STAKEHOLDERS} to {MAX_STAKEHOLDERS} needed",
        )
    if len(set(stakeholders)) != len(stakeholders):
        raise Rejected(Code.INVALID_STAKEHOLDERS, "a stakeholder is listed twice")
    missing = [s for s in stakeholders if s not in found]
    if missing:
        raise Rejected(Code.INVALID_STAKEHOLDERS, f"not user accounts: {', '.join(missing)}")
    return tuple(stakeholders)


@dataclass(frozen=True)
class AuthRule:
    """Above `threshold`, a multisig transfer needs `required` approvals among `approvers`."""

    threshold: Decimal
    required: int
    approvers: tuple[str, ...]


def check_auth_rule(
    threshold: Any, required: int, approvers: Sequence[str], stakeholders: Sequence[str]
) -> AuthRule:
    try:
        limit = to_money(threshold)
    except InvalidAmount as e:
        raise Rejected(Code.INVALID_RULE, f"threshold: {e.message}") from e
    if limit < 0:
        raise Rejected(Code.INVALID_RULE, "the threshold must not be negative")
    if not approvers or len(set(approvers)) != len(approvers):
        raise Rejected(Code.INVALID_RULE, "approvers must be a non-empty list without repeats")
    outsiders = [a for a in approvers if a not in stakeholders]
    if outsiders:
        raise Rejected(Code.INVALID_RULE, f"approvers must be stakeholders: {', '.join(outsiders)}")
    if not 1 <= required <= len(approvers):
        raise Rejected(
            Code.INVALID_RULE, f"required approvals {required} not in 1..{len(approvers)}"
        )
    return AuthRule(limit, required, tuple(approvers))


def add_rule(rules: Sequence[AuthRule], rule: AuthRule) -> tuple[AuthRule, ...]:
    """Rules kept highest threshold first; a rule with the same threshold replaces the old one."""
    kept = [r for r in rules if r.threshold != rule.threshold]
    return tuple(sorted([*kept, rule], key=lambda r: r.threshold, reverse=True))


def applicable_rule(
    rules: Sequence[AuthRule], amount: Decimal, stakeholders: Sequence[str]
) -> AuthRule:
    """The first rule (highest threshold first) whose threshold the amount exceeds; without one,
    any single stakeholder may approve (so the initiator's own approval is enough)."""
    for rule in sorted(rules, key=lambda r: r.threshold, reverse=True):
        if amount > rule.threshold:
            return rule
    return AuthRule(ZERO, 1, tuple(stakeholders))


# --------------------------------------------------------------------------------------------
# Governance
# --------------------------------------------------------------------------------------------


def check_vote_open(status: str, voting_ends_at: datetime, now: datetime) -> None:
    if status != "OPEN" or now >= voting_ends_at:
        raise Rejected(Code.PROPOSAL_CLOSED, "voting on this proposal is closed")


def check_proposal_passed(
    votes_for: int, votes_against: int, voting_ends_at: datetime, now: datetime
) -> None:
    """Passes when votes for exceed votes against once the voting period is over."""
    if now < voting_ends_at:
        raise Rejected(
            Code.PROPOSAL_NOT_PASSED, f"voting is open until {voting_ends_at.isoformat()}"
        )
    if votes_for <= votes_against:
        raise Rejected(Code.PROPOSAL_NOT_PASSED, f"{votes_for} votes for, {votes_against} against")
