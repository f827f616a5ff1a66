"""The embedded ledger's state rows: one dataclass per table of schema `ledger`.

Field names are the column names. `KEY` is the primary key (text columns, the tenant first);
`TYPES` gives each column's SQL type, used to bind whole batches with `unnest`. Sequence
columns are tuples, so a row can be snapshotted with a shallow copy and restored on rejection.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from datetime import date, datetime
from decimal import Decimal
from functools import cache
from operator import attrgetter
from typing import Any, ClassVar

from gxcore.ledger.contract import ZERO, Kind

#: Account kinds the velocity tax applies to (and whose time above the threshold is tracked).
TAXABLE = frozenset({Kind.USER, Kind.ORGANIZATION})

GENESIS_POOL = "system:genesis-pool"
FEE_POOL = "system:fee-pool"
REDISTRIBUTION_POOL = "system:redistribution-pool"
LOAN_POOL = "system:loan-pool"
SYSTEM_ACCOUNTS = (GENESIS_POOL, FEE_POOL, REDISTRIBUTION_POOL, LOAN_POOL)
RESERVED_PREFIXES = ("system:", "treasury:")


def treasury_id(country_code: str) -> str:
    return f"treasury:{country_code}"


class Row:
    TABLE: ClassVar[str]
    KEY: ClassVar[tuple[str, ...]]
    TYPES: ClassVar[dict[str, str]]
    #: Columns an update of an existing row writes; the others are fixed when the row is
    #: created. None: every column but the key and `created_block`.
    MUTABLE: ClassVar[tuple[str, ...] | None] = None

    created_block: int
    updated_block: int

    @classmethod
    def columns(cls) -> tuple[str, ...]:
        return _columns(cls)  # type: ignore[arg-type]  # a class is hashable (mypy#11470)

    @classmethod
    def mutable_columns(cls) -> tuple[str, ...]:
        return cls.MUTABLE or tuple(
            c for c in cls.columns() if c not in cls.KEY and c != "created_block"
        )

    @classmethod
    def from_record(cls, record: Any) -> Any:
        """A row from a record of `columns()`, in that order."""
        if not _sequence_columns(cls):  # type: ignore[arg-type]
            return cls(*record)
        values = dict(record)
        # Arrays (and jsonb lists) become tuples: rows must be safe to snapshot shallowly.
        for name in _sequence_columns(cls):  # type: ignore[arg-type]
            if isinstance(values[name], list):
                values[name] = tuple(values[name])
        return cls(**values)

    @property
    def primary_key(self) -> tuple[Any, ...]:
        return _key_getter(type(self))(self)  # type: ignore[arg-type]


@cache
def _columns(cls: type[Row]) -> tuple[str, ...]:
    return tuple(f.name for f in fields(cls))  # type: ignore[arg-type]  # subclasses are dataclasses


@cache
def _key_getter(cls: type[Row]) -> Callable[[Row], tuple[Any, ...]]:
    get = attrgetter(*cls.KEY)
    if len(cls.KEY) > 1:
        return get  # attrgetter of several names returns a tuple
    return lambda row: (get(row),)


@cache
def _sequence_columns(cls: type[Row]) -> tuple[str, ...]:
    return tuple(n for n, t in cls.TYPES.items() if t.endswith("[]") or t == "jsonb")


@dataclass(eq=False)
class Account(Row):
    TABLE: ClassVar[str] = "accounts"
    KEY: ClassVar[tuple[str, ...]] = ("tenant_id", "account_id")
    TYPES: ClassVar[dict[str, str]] = {
        "tenant_id": "text", "account_id": "text", "kind": "text", "balance": "numeric",
        "frozen": "boolean", "is_admin": "boolean", "above_threshold_since": "date",
        "country": "text", "age": "bigint", "biometric_hash": "text", "profile_id": "text",
        "genesis_received": "boolean", "created_block": "bigint", "updated_block": "bigint",
    }  # fmt: skip
    # kind, country, age, biometric_hash and profile_id never change once the account exists.
    MUTABLE: ClassVar[tuple[str, ...] | None] = (
        "balance", "frozen", "is_admin", "above_threshold_since", "genesis_received",
        "updated_block",
    )  # fmt: skip

    tenant_id: str
    account_id: str
    kind: str
    balance: Decimal = ZERO
    frozen: bool = False
    is_admin: bool = False
    above_threshold_since: date | None = None
    country: str | None = None  # a user's nationality, a treasury's or organization's country
    age: int | None = None
    biometric_hash: str | None = None
    profile_id: str | None = None
    genesis_received: bool = False
    created_block: int = 0
    updated_block: int = 0


@dataclass(eq=False)
class Chain(Row):
    """A tenant's chain: present once bootstrapped."""

    TABLE: ClassVar[str] = "chains"
    KEY: ClassVar[tuple[str, ...]] = ("tenant_id",)
    TYPES: ClassVar[dict[str, str]] = {
        "tenant_id": "text", "paused": "boolean", "genesis_supply": "numeric",
        "loan_pool_supply": "numeric", "created_block": "bigint", "updated_block": "bigint",
    }  # fmt: skip

    tenant_id: str
    paused: bool = False
    genesis_supply: Decimal = ZERO
    loan_pool_supply: Decimal = ZERO
    created_block: int = 0
    updated_block: int = 0


@dataclass(eq=False)
class Parameter(Row):
    TABLE: ClassVar[str] = "parameters"
    KEY: ClassVar[tuple[str, ...]] = ("tenant_id", "key")
    TYPES: ClassVar[dict[str, str]] = {
        "tenant_id": "text", "key": "text", "value": "text",
        "created_block": "bigint", "updated_block": "bigint",
    }  # fmt: skip

    tenant_id: str
    key: str
    value: str
    created_block: int = 0
    updated_block: int = 0


@dataclass(eq=False)
class Country(Row):
    TABLE: ClassVar[str] = "countries"
    KEY: ClassVar[tuple[str, ...]] = ("tenant_id", "code")
    TYPES: ClassVar[dict[str, str]] = {
        "tenant_id": "text", "code": "text", "name": "text", "population_share": "numeric",
        "treasury_active": "boolean", "created_block": "bigint", "updated_block": "bigint",
    }  # fmt: skip

    tenant_id: str
    code: str
    name: str
    population_share: Decimal
    treasury_active: bool = False
    created_block: int = 0
    updated_block: int = 0


@dataclass(eq=False)
class Organization(Row):
    TABLE: ClassVar[str] = "organizations"
    KEY: ClassVar[tuple[str, ...]] = ("tenant_id", "organization_id")
    TYPES: ClassVar[dict[str, str]] = {
        "tenant_id": "text", "organization_id": "text", "name": "text", "country": "text",
        "status": "text", "stakeholders": "text[]", "endorsements": "text[]",
        "auth_rules": "jsonb", "created_block": "bigint", "updated_block": "bigint",
    }  # fmt: skip

    tenant_id: str
    organization_id: str
    name: str
    country: str | None
    status: str  # PROPOSED, ACTIVE
    stakeholders: tuple[str, ...]
    endorsements: tuple[str, ...] = ()
    # [{"threshold": "100.000000000", "required": 2, "approvers": [...]}], highest first
    auth_rules: tuple[dict[str, Any], ...] = ()
    created_block: int = 0
    updated_block: int = 0


@dataclass(eq=False)
class MultisigTx(Row):
    TABLE: ClassVar[str] = "multisig_txs"
    KEY: ClassVar[tuple[str, ...]] = ("tenant_id", "multisig_tx_id")
    TYPES: ClassVar[dict[str, str]] = {
        "tenant_id": "text", "multisig_tx_id": "text", "organization_id": "text",
        "initiator_id": "text", "receiver_id": "text", "amount": "numeric",
        "required_approvals": "bigint", "approvers": "text[]", "approvals": "text[]",
        "status": "text", "expires_at": "timestamptz", "created_block": "bigint",
        "updated_block": "bigint",
    }  # fmt: skip

    tenant_id: str
    multisig_tx_id: str
    organization_id: str
    initiator_id: str
    receiver_id: str
    amount: Decimal
    required_approvals: int
    approvers: tuple[str, ...]  # who may approve (the applicable rule's group)
    approvals: tuple[str, ...]  # who approved, in order
    status: str  # PENDING, APPROVED, EXECUTED
    expires_at: datetime
    created_block: int = 0
    updated_block: int = 0


@dataclass(eq=False)
class Loan(Row):
    TABLE: ClassVar[str] = "loans"
    KEY: ClassVar[tuple[str, ...]] = ("tenant_id", "loan_id")
    TYPES: ClassVar[dict[str, str]] = {
        "tenant_id": "text", "loan_id": "text", "borrower_id": "text", "amount": "numeric",
        "collateral_hash": "text", "purpose": "text", "status": "text",
        "created_block": "bigint", "updated_block": "bigint",
    }  # fmt: skip

    tenant_id: str
    loan_id: str
    borrower_id: str
    amount: Decimal
    collateral_hash: str | None
    purpose: str | None
    status: str  # APPLIED, APPROVED
    created_block: int = 0
    updated_block: int = 0


@dataclass(eq=False)
class Proposal(Row):
    TABLE: ClassVar[str] = "proposals"
    KEY: ClassVar[tuple[str, ...]] = ("tenant_id", "proposal_id")
    TYPES: ClassVar[dict[str, str]] = {
        "tenant_id": "text", "proposal_id": "text", "proposer_id": "text",
        "parameter_key": "text", "new_value": "text", "title": "text",
        "voting_ends_at": "timestamptz", "votes_for": "bigint", "votes_against": "bigint",
        "status": "text", "created_block": "bigint", "updated_block": "bigint",
    }  # fmt: skip

    tenant_id: str
    proposal_id: str
    proposer_id: str
    parameter_key: str
    new_value: str
    title: str | None
    voting_ends_at: datetime
    votes_for: int = 0
    votes_against: int = 0
    status: str = "OPEN"  # OPEN, EXECUTED
    created_block: int = 0
    updated_block: int = 0


@dataclass(eq=False)
class Vote(Row):
    TABLE: ClassVar[str] = "votes"
    KEY: ClassVar[tuple[str, ...]] = ("tenant_id", "proposal_id", "voter_id")
    TYPES: ClassVar[dict[str, str]] = {
        "tenant_id": "text", "proposal_id": "text", "voter_id": "text", "support": "boolean",
        "created_block": "bigint", "updated_block": "bigint",
    }  # fmt: skip

    tenant_id: str
    proposal_id: str
    voter_id: str
    support: bool
    created_block: int = 0
    updated_block: int = 0


ROW_TYPES: tuple[type[Row], ...] = (
    Chain, Parameter, Country, Account, Organization, MultisigTx, Loan, Proposal, Vote
)  # fmt: skip
