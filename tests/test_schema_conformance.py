"""The migrated database conforms to the reference schema, except where gxcore departs on purpose.

`tests/schema_facts.md` lists the reference schema in Prisma's notation. This module parses it,
maps it to the PostgreSQL catalog Prisma would create (types, nullability, defaults, enum labels,
primary keys, unique and plain indexes, foreign keys with their actions), applies gxcore's
deliberate departures (`DEPARTURES`, below), and compares the result with the catalog of a
database migrated to head (the `migrated_url` fixture of conftest.py). Only schema `public` is
checked, and `alembic_version` is ignored. Any difference not listed in `DEPARTURES` fails, with
the exact differences in the message.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import pytest_asyncio

FACTS_FILE = Path(__file__).with_name("schema_facts.md")
SCHEMA = "public"
IGNORED_TABLES = frozenset({"alembic_version"})
# What the facts file holds; a parser that finds anything else is broken.
FACTS_MODEL_COUNT = 44
FACTS_ENUM_COUNT = 26
MONEY_TYPE = "numeric(36,9)"


# --------------------------------------------------------------------------------------------
# gxcore's deliberate departures from the reference (keep docs/schema.md in step with this list)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReplaceUnique:
    """The unique index over `old` becomes one over `new` (both named the Prisma way)."""

    table: str
    old: tuple[str, ...]
    new: tuple[str, ...]
    reason: str


@dataclass(frozen=True)
class DropUnique:
    table: str
    columns: tuple[str, ...]
    reason: str


@dataclass(frozen=True)
class DropIndex:
    table: str
    columns: tuple[str, ...]
    reason: str


@dataclass(frozen=True)
class AddIndex:
    table: str
    columns: tuple[str, ...]
    reason: str
    unique: bool = False
    predicate: str | None = None  # a partial index's WHERE, as pg_get_expr() prints it


@dataclass(frozen=True)
class AddColumn:
    """A column the reference lacks; `type` as format_type() spells it, `default` as SQL."""

    table: str
    column: str
    type: str
    nullable: bool
    reason: str
    default: str | None = None


@dataclass(frozen=True)
class DropNotNull:
    """A column the reference declares required is nullable."""

    table: str
    column: str
    reason: str


@dataclass(frozen=True)
class SetNotNull:
    """A column the reference declares optional is required."""

    table: str
    column: str
    reason: str


@dataclass(frozen=True)
class AddForeignKey:
    """A foreign key the reference lacks, named the Prisma way (`Table_col_fkey`)."""

    table: str
    columns: tuple[str, ...]
    ref_table: str
    ref_columns: tuple[str, ...]
    reason: str
    on_delete: str = "CASCADE"
    on_update: str = "CASCADE"


@dataclass(frozen=True)
class AddTable:
    """A table of gxcore's own, unknown to the reference: its shape is the models' (checked by
    `gx db check` in test_migrations), not compared here."""

    table: str
    reason: str


@dataclass(frozen=True)
class ReplacePrimaryKey:
    """The primary key (named `Table_pkey` either way) is over `columns` instead."""

    table: str
    columns: tuple[str, ...]
    reason: str


@dataclass(frozen=True)
class RetypeColumn:
    table: str
    column: str
    type: str
    reason: str


@dataclass(frozen=True)
class AddEnumValues:
    """Labels appended, in this order, after the reference's labels of `enum`."""

    enum: str
    values: tuple[str, ...]
    reason: str


@dataclass(frozen=True)
class AddModel:
    """A table the reference lacks, with its enums, written as `schema_facts.md` writes a model."""

    facts: str
    reason: str


@dataclass(frozen=True)
class NonNegativeMoney:
    """CHECK (<column> >= 0), named `<Table>_<column>_check`, on every column of `type`."""

    type: str
    reason: str


@dataclass(frozen=True)
class TenantKeys:
    """Keys carry the tenant, in every table with a `tenantId` column: the primary key gains
    `tenantId` in front, a unique index without it becomes `Table_tenantId_<cols>_key`, and a
    foreign key to another such table becomes `(tenantId, <col>) -> (tenantId, <key>)`, named
    `Table_tenantId_<col>_fkey`. `tables` lists exactly the tables this changes."""

    tables: tuple[str, ...]
    reason: str


Departure = (
    TenantKeys
    | ReplaceUnique
    | DropUnique
    | DropIndex
    | AddIndex
    | AddColumn
    | DropNotNull
    | SetNotNull
    | AddForeignKey
    | AddTable
    | ReplacePrimaryKey
    | RetypeColumn
    | AddEnumValues
    | AddModel
    | NonNegativeMoney
)

_TENANT_UNIQUE = (
    "a global unique in a multi-tenant table lets one tenant block or probe another's data"
)
_REDUNDANT = "the tenant-scoped unique index over the same columns serves this lookup"
_TENANT_COLUMN = "every table but Country is tenant-scoped (RLS needs the column)"
_AUDIT_CHAIN = (
    "the audit log is a per-tenant hash chain: a gapless order timestamps cannot give, and each "
    "entry's link to the one before"
)
_AUDIT_LINKER = (
    "writers commit entries unlinked (no chainSeq yet) so that one tenant's writes never queue "
    "behind each other; the linker chains them in appendSeq order"
)
_IDEMPOTENCY_KEY = (
    "a response is kept under its client's Idempotency-Key, per principal: keyed by the body, "
    "two equal requests made on purpose would be taken for one, and a key reused with another "
    "body would go unnoticed"
)
_TIMESTAMP = "timestamp(3) with time zone"
_OTP_LIMITS = (
    "OTP resends need a cooldown and a daily cap: when the last code went out and how many went "
    "out in the current 24 h window"
)
_OPTIMISTIC_LOCK = (
    "optimistic locking (lecture 10.2): every update checks and bumps the row's version, so a "
    "stale write fails (CONCURRENT_MODIFICATION) instead of overwriting; HTTP's ETag / If-Match"
)
_RELAY_DUE = (
    "the outbox relay retries with backoff and takes over expired leases: when each command is "
    "next due, and a partial index over the commands still in flight, by that time"
)
_TRACE_CONTEXT = (
    "tracing: the W3C trace context of the span that enqueued a command, so the relay, the "
    "ledger and the projector join the trace of the request that caused it"
)
_MESSAGE_QUEUE = (
    "emails and SMS leave after commit, from a queue written in the transaction that causes them "
    "and delivered by a worker with retries (never sent while a transaction or lock is open)"
)
MESSAGE_OUTBOX = """
- enum `MessageChannel`: EMAIL, SMS, PUSH
- enum `MessageStatus`: PENDING, SENT, FAILED

### MessageOutbox

| field | type | attributes |
|---|---|---|
| tenantId | String |  |
| id | String | @default(uuid()) |
| channel | MessageChannel |  |
| recipient | String |  |
| subject | String? |  |
| body | String |  |
| status | MessageStatus | @default(PENDING) |
| attempts | Int | @default(0) |
| nextAttemptAt | DateTime | @default(now()) @db.Timestamptz(3) |
| lastError | String? |  |
| createdAt | DateTime | @default(now()) @db.Timestamptz(3) |
| sentAt | DateTime? | @db.Timestamptz(3) |
| expiresAt | DateTime? | @db.Timestamptz(3) |
| notificationId | String? |  |

`@@id([tenantId, id])`
"""
_CLIENT_ID = (
    "the id is the client's choice, unique per tenant on the ledger: a global key would let one "
    "tenant squat another's ids"
)
_RISK_AT_REQUEST = (
    "a transfer is scored when it is requested, before the ledger executes it and long before "
    "the projector writes its Transaction row: the score belongs to the transfer's command"
)
_EVENT_POSITION = (
    "an event's position (block, index within it) orders events inside a block and, unique, "
    "keeps the projector from appending (applying) an event twice"
)

_PROPOSAL_TERMS = (
    "the API refuses a late vote or an early execution and shows what a proposal changes: the "
    "parameter, its new value and the end of voting, from ProposalSubmitted"
)

_NATIONAL_ID = (
    "the lecture's Exercise 2 makes it required (expand, `gx db backfill national-id`, "
    "contract); unique per tenant, as every unique key of a multi-tenant table"
)
_SAME_AS_KEY = "the primary key is (tenantId, sessionId) since keys carry the tenant"
_PREFIX = (
    "a leading prefix of another index of the table (its primary key or a unique key, since "
    "keys carry the tenant): that index serves the same scans, this one only costs writes"
)
DEPARTURES: tuple[Departure, ...] = (
    # 1. Tenant-scoped uniques instead of global ones.
    ReplaceUnique("PendingRegistration", ("email",), ("tenantId", "email"), _TENANT_UNIQUE),
    ReplaceUnique("PendingRegistration", ("phoneNum",), ("tenantId", "phoneNum"), _TENANT_UNIQUE),
    DropIndex("PendingRegistration", ("tenantId", "email"), _REDUNDANT),
    DropIndex("PendingRegistration", ("tenantId", "phoneNum"), _REDUNDANT),
    ReplaceUnique("UserProfile", ("email",), ("tenantId", "email"), _TENANT_UNIQUE),
    ReplaceUnique("UserProfile", ("phoneNum",), ("tenantId", "phoneNum"), _TENANT_UNIQUE),
    ReplaceUnique("UserProfile", ("biometricHash",), ("tenantId", "biometricHash"), _TENANT_UNIQUE),
    ReplaceUnique("UserProfile", ("fabricUserId",), ("tenantId", "fabricUserId"), _TENANT_UNIQUE),
    DropIndex("UserProfile", ("tenantId", "email"), _REDUNDANT),
    DropIndex("UserProfile", ("tenantId", "phoneNum"), _REDUNDANT),
    DropUnique(
        "TrustedDevice",
        ("deviceFingerprint",),
        "the (tenantId, profileId, deviceFingerprint) unique identifies a device per user; "
        "one tablet may be shared by two users",
    ),
    ReplaceUnique("PushToken", ("token",), ("tenantId", "token"), _TENANT_UNIQUE),
    # 2. tenantId on the three tables the reference left unscoped.
    AddColumn("KYCVerification", "tenantId", "text", False, _TENANT_COLUMN),
    AddIndex("KYCVerification", ("tenantId",), _TENANT_COLUMN),
    AddColumn("LegalTenderStatus", "tenantId", "text", False, _TENANT_COLUMN),
    AddIndex("LegalTenderStatus", ("tenantId",), _TENANT_COLUMN),
    AddColumn("Collateral", "tenantId", "text", False, _TENANT_COLUMN),
    AddIndex("Collateral", ("tenantId",), _TENANT_COLUMN),
    ReplacePrimaryKey("Organization", ("tenantId", "orgId"), _CLIENT_ID),
    ReplacePrimaryKey("MultiSigTransaction", ("tenantId", "txId"), _CLIENT_ID),
    ReplacePrimaryKey("Loan", ("tenantId", "loanId"), _CLIENT_ID),
    ReplacePrimaryKey("Proposal", ("tenantId", "proposalId"), _CLIENT_ID),
    ReplacePrimaryKey(
        "HttpIdempotency",
        ("tenantId", "profileId", "method", "path", "idempotencyKey"),
        _IDEMPOTENCY_KEY,
    ),
    AddColumn("HttpIdempotency", "profileId", "text", False, _IDEMPOTENCY_KEY),
    AddColumn("HttpIdempotency", "idempotencyKey", "text", False, _IDEMPOTENCY_KEY),
    # 3. Money is never a float.
    RetypeColumn("Loan", "amount", MONEY_TYPE, "money is never a float"),
    # 4. Money is never negative.
    NonNegativeMoney(MONEY_TYPE, "no balance or amount may go below zero"),
    # 5. Columns added later for patterns (optimistic locking, backoff, ...) go here, each with
    #    its reason, e.g.
    #    AddColumn("Wallet", "version", "integer", False, "optimistic locking", default="0").
    AddColumn("AuditLog", "chainSeq", "bigint", True, _AUDIT_CHAIN),
    AddColumn("AuditLog", "previousHash", "text", True, _AUDIT_CHAIN),
    AddIndex("AuditLog", ("tenantId", "chainSeq"), _AUDIT_CHAIN, unique=True),
    AddColumn(
        "AuditLog",
        "appendSeq",
        "bigint",
        True,
        _AUDIT_LINKER,
        default="nextval('\"AuditLogAppendOrder\"'::regclass)",
    ),
    AddIndex(
        "AuditLog",
        ("tenantId", "appendSeq"),
        _AUDIT_LINKER,
        predicate='("chainSeq" IS NULL)',
    ),
    AddColumn("PendingRegistration", "emailOtpSentAt", _TIMESTAMP, True, _OTP_LIMITS),
    AddColumn("PendingRegistration", "emailOtpSends", "integer", False, _OTP_LIMITS, default="0"),
    AddColumn("PendingRegistration", "emailOtpSendsSince", _TIMESTAMP, True, _OTP_LIMITS),
    AddColumn("PendingRegistration", "phoneOtpSentAt", _TIMESTAMP, True, _OTP_LIMITS),
    AddColumn("PendingRegistration", "phoneOtpSends", "integer", False, _OTP_LIMITS, default="0"),
    AddColumn("PendingRegistration", "phoneOtpSendsSince", _TIMESTAMP, True, _OTP_LIMITS),
    AddColumn(
        "OutboxCommand", "nextAttemptAt", _TIMESTAMP, False, _RELAY_DUE, default="CURRENT_TIMESTAMP"
    ),
    AddIndex(
        "OutboxCommand",
        ("nextAttemptAt",),
        _RELAY_DUE,
        predicate="(status = ANY (ARRAY['PENDING'::\"OutboxStatus\", 'LOCKED'::\"OutboxStatus\", "
        "'SUBMITTED'::\"OutboxStatus\"]))",
    ),
    AddColumn("OutboxCommand", "traceparent", "text", True, _TRACE_CONTEXT),
    ReplaceUnique(
        "Transaction",
        ("tenantId", "onChainTxId"),
        ("tenantId", "onChainTxId", "walletId"),
        "one ledger tx writes a row per wallet it touches: a transfer's SENT and RECEIVED rows "
        "share its tx id",
    ),
    AddColumn("EventLog", "eventIndex", "integer", True, _EVENT_POSITION),
    AddIndex(
        "EventLog",
        ("tenantId", "blockNumber", "eventIndex", "channel"),
        _EVENT_POSITION,
        unique=True,
    ),
    AddColumn(
        "EventDLQ",
        "eventIndex",
        "integer",
        True,
        "with blockNumber, the refused event's position: replay re-reads the event from the "
        "ledger there instead of trusting rawPayload",
    ),
    DropIndex(
        "EventLog",
        ("tenantId", "blockNumber"),
        "the unique (tenantId, blockNumber, eventIndex, channel) index serves the same lookups",
    ),
    AddColumn(
        "UserProfile",
        "role",
        "text",
        False,
        "the reference has no notion of an administrator; USER or ADMIN, ADMIN reviews "
        "registrations",
        default="'USER'::text",
    ),
    AddModel(MESSAGE_OUTBOX, _MESSAGE_QUEUE),
    AddIndex(
        "MessageOutbox",
        ("nextAttemptAt",),
        "the message worker claims due PENDING messages by due time",
        predicate="(status = 'PENDING'::\"MessageStatus\")",
    ),
    AddColumn("TransactionRiskScore", "commandId", "text", True, _RISK_AT_REQUEST),
    AddIndex("TransactionRiskScore", ("tenantId", "commandId"), _RISK_AT_REQUEST, unique=True),
    AddForeignKey(
        "TransactionRiskScore", ("commandId",), "OutboxCommand", ("id",), _RISK_AT_REQUEST
    ),
    DropNotNull("TransactionRiskScore", "offTxId", _RISK_AT_REQUEST),
    AddColumn("Proposal", "parameterKey", "text", True, _PROPOSAL_TERMS),
    AddColumn("Proposal", "newValue", "text", True, _PROPOSAL_TERMS),
    AddColumn("Proposal", "votingEndsAt", _TIMESTAMP, True, _PROPOSAL_TERMS),
    AddIndex(
        "Proposal",
        ("tenantId", "status", "createdAt", "proposalId"),
        "active proposals are listed newest first in keyset pages per status",
    ),
    AddColumn(
        "Wallet",
        "aboveThresholdSince",
        "date",
        True,
        "the velocity tax falls due after velocityTaxCycleDays above the threshold: the "
        "projector keeps the day the balance last rose above it, as the ledger keeps its own",
    ),
    *(
        AddColumn(table, "version", "integer", False, _OPTIMISTIC_LOCK, default="1")
        for table in ("OutboxCommand", "UserProfile", "Wallet", "BusinessAccount", "SignatoryRule")
    ),
    # 6. Tables of gxcore's own that reference tables outside them, or that no tenant owns.
    AddTable(
        "Tenant",
        "the reference takes any tenant id a request names; gxcore serves only tenants created "
        "with `gx tenant create` (the shared registry, outside row-level security)",
    ),
    AddTable(
        "TreasuryAccount",
        "a country treasury's balance is read over HTTP; the reference keeps no read model of "
        "treasuries, so the projector mirrors each one as it mirrors a wallet",
    ),
    AddTable(
        "SystemState",
        "the API refuses writes while the tenant's ledger is paused and reads the switch on every "
        "request; the reference keeps no read model of it, so the projector mirrors it",
    ),
    AddTable(
        "PartnerScope",
        "the reference's PartnerGrant is a grant of money to a partner, not a permission: the "
        "operations an administrator opens to a partner's application are kept one per row",
    ),
    AddTable(
        "ProjectorClaim",
        "several projector processes feed disjoint tenant groups; which process feeds a tenant "
        "is a claim with a lease, so a second one is refused at start (revision 3e0cb13a83e2)",
    ),
    AddTable(
        "TransferHold",
        "a requested transfer reserves its amount and fee until the ledger's answer is "
        "projected, so parallel requests cannot spend one balance twice",
    ),
    AddModel(
        "- enum `ReferralStatus`: PENDING, REGISTERED, REWARDED",
        "the referral program (the lecture's Exercise 1): an invitation's status",
    ),
    AddTable(
        "Referral",
        "the referral program (the lecture's Exercise 1): one invited address per referrer, "
        "unique per (tenantId, referrerProfileId, inviteeEmail)",
    ),
    AddTable(
        "ReferralPoints",
        "the referral program's points, one counter per (tenantId, profileId); points are not "
        "coins, so they never reach the ledger",
    ),
    # 7. Enum labels the reference lacks.
    AddEnumValues(
        "AuditEventType",
        ("RECORD_CREATED", "RECORD_UPDATED", "RECORD_DELETED"),
        "every row change is audited; most have no specific event type in the reference",
    ),
    AddEnumValues(
        "OutboxStatus",
        ("HELD",),
        "a transfer whose risk score reaches riskReviewThreshold waits for an administrator's "
        "review, reserved but invisible to the relay",
    ),
    AddIndex(
        "AuditLog",
        ("tenantId", "ipAddress", "timestamp"),
        "transfers and registration changes are rate-limited per client address, counted from "
        "the audit log over a short window",
    ),
    AddEnumValues(
        "NotificationType",
        ("RELATIONSHIP_UPDATED",),
        "the other side of a relationship is told when it is removed or marked DECEASED, "
        "DIVORCED or NOT_APPLICABLE; the reference has types for invitations and answers only",
    ),
    # The lecture's Exercise 2: nationalIdNumber required, unique within a tenant.
    SetNotNull("UserProfile", "nationalIdNumber", _NATIONAL_ID),
    AddIndex("UserProfile", ("tenantId", "nationalIdNumber"), _NATIONAL_ID, unique=True),
    AddEnumValues(
        "DocumentType",
        ("RESIDENCE_PERMIT",),
        "with a national id number required, residents who are not citizens identify with a "
        "residence permit, which they could only upload as OTHER",
    ),
    # 8. Keys carry the tenant (revision 230369e7c7b6).
    TenantKeys(
        (
            "Address",
            "Application",
            "ApprovalVote",
            "AuditLog",
            "Beneficiary",
            "BusinessAccount",
            "BusinessSignatory",
            "Collateral",
            "Contact",
            "Credential",
            "EventDLQ",
            "EventLog",
            "FamilyRelationship",
            "HoardingTaxSnapshot",
            "KYCDocument",
            "KYCVerification",
            "LegalTenderStatus",
            "License",
            "LicensedPartner",
            "Notification",
            "OrganizationProfile",
            "OutboxCommand",
            "PartnerGrant",
            "PendingRegistration",
            "PushToken",
            "SignatoryRule",
            "Transaction",
            "TransactionApproval",
            "TransactionLimit",
            "TransactionRiskScore",
            "TrustScore",
            "TrustedDevice",
            "UserOrganizationLink",
            "UserProfile",
            "UserSession",
            "Wallet",
        ),
        "distributing by tenantId (Citus) needs the distribution column in every unique and "
        "foreign key between distributed tables; and the database itself then refuses a row "
        "that points into another tenant",
    ),
    # 9. No index a longer one of its table already serves (tests/test_redundant_indexes.py).
    DropUnique("UserSession", ("tenantId", "sessionId"), _SAME_AS_KEY),
    *(
        DropIndex(table, columns, _PREFIX)
        for table, columns in (
            ("Address", ("tenantId", "profileId")),
            ("BusinessAccount", ("tenantId",)),
            ("BusinessSignatory", ("tenantId", "businessAccountId")),
            ("Collateral", ("tenantId",)),
            ("Contact", ("tenantId", "ownerProfileId")),
            ("FamilyRelationship", ("tenantId", "initiatorProfileId")),
            ("KYCVerification", ("tenantId",)),
            ("LegalTenderStatus", ("tenantId",)),
            ("Organization", ("tenantId",)),
            ("Proposal", ("tenantId",)),
            ("PushToken", ("tenantId", "profileId")),
            ("SystemParameter", ("tenantId",)),
            ("TrustedDevice", ("tenantId", "profileId")),
            ("UserOrganizationLink", ("tenantId",)),
        )
    ),
)


# --------------------------------------------------------------------------------------------
# The data model both sides are reduced to
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # as format_type() spells it, enum names unquoted
    nullable: bool
    default: str | None  # SQL expression, compared through normalize_default()


@dataclass(frozen=True)
class Index:
    name: str
    columns: tuple[str, ...]
    unique: bool
    method: str = "btree"
    predicate: str | None = None
    include: tuple[str, ...] = ()
    nulls_not_distinct: bool = False
    is_constraint: bool = False  # backed by a UNIQUE/EXCLUDE constraint rather than a bare index

    def describe(self) -> str:
        text = f"{self.name} ({', '.join(self.columns)})"
        if self.method != "btree":
            text += f" USING {self.method}"
        if self.include:
            text += f" INCLUDE ({', '.join(self.include)})"
        if self.nulls_not_distinct:
            text += " NULLS NOT DISTINCT"
        if self.predicate:
            text += f" WHERE {self.predicate}"
        if self.is_constraint:
            text += " [a constraint, not a bare index]"
        return text


@dataclass(frozen=True)
class PrimaryKey:
    name: str
    columns: tuple[str, ...]

    def describe(self) -> str:
        return f"{self.name} ({', '.join(self.columns)})"


@dataclass(frozen=True)
class ForeignKey:
    name: str
    columns: tuple[str, ...]
    ref_table: str
    ref_columns: tuple[str, ...]
    on_delete: str
    on_update: str
    deferrable: bool = False

    def describe(self) -> str:
        text = (
            f"{self.name} ({', '.join(self.columns)}) REFERENCES {self.ref_table} "
            f"({', '.join(self.ref_columns)}) ON DELETE {self.on_delete} ON UPDATE {self.on_update}"
        )
        return text + (" DEFERRABLE" if self.deferrable else "")


@dataclass(frozen=True)
class Check:
    name: str
    columns: tuple[str, ...]
    definition: str  # pg_get_constraintdef(); for expected checks, "<column> >= 0"

    def is_non_negative(self, column: str) -> bool:
        # Loose on purpose: "CHECK ((\"amount\" >= (0)::numeric))", "CHECK (amount >= 0)", ...
        names = {column, f'"{column}"'}
        m = re.search(r'("?[\w]+"?)\s*>=\s*\(*\s*0(?:\.0*)?\s*\)*(?:::\w+)?', self.definition)
        return self.columns == (column,) and m is not None and m.group(1) in names


@dataclass
class Table:
    name: str
    columns: dict[str, Column] = field(default_factory=dict)
    primary_key: PrimaryKey | None = None
    indexes: dict[str, Index] = field(default_factory=dict)  # unique and not, primary key excluded
    foreign_keys: dict[str, ForeignKey] = field(default_factory=dict)
    checks: dict[str, Check] = field(default_factory=dict)


@dataclass(repr=False)
class Schema:
    enums: dict[str, tuple[str, ...]] = field(default_factory=dict)
    tables: dict[str, Table] = field(default_factory=dict)

    def __repr__(self) -> str:  # short: pytest prints fixture values in tracebacks
        return f"Schema({len(self.tables)} tables, {len(self.enums)} enums)"


# --------------------------------------------------------------------------------------------
# Prisma's physical names (prisma-engines, ConstraintNames): names are cut to fit 63 bytes
# --------------------------------------------------------------------------------------------

PG_MAX_IDENTIFIER = 63


def _fit(base: str, suffix: str) -> str:
    if len(base.encode()) >= PG_MAX_IDENTIFIER - len(suffix):
        base = base.encode()[: PG_MAX_IDENTIFIER - len(suffix)].decode(errors="ignore")
    return base + suffix


def pk_name(table: str) -> str:
    return _fit(table, "_pkey")


def index_name(table: str, columns: Iterable[str], unique: bool) -> str:
    return _fit(f"{table}_{'_'.join(columns)}", "_key" if unique else "_idx")


def fk_name(table: str, columns: Iterable[str]) -> str:
    return _fit(f"{table}_{'_'.join(columns)}", "_fkey")


def check_name(table: str, column: str) -> str:
    # PostgreSQL's own default name for a column check; it cuts at 63 bytes like any identifier.
    return f"{table}_{column}_check".encode()[:PG_MAX_IDENTIFIER].decode(errors="ignore")


# --------------------------------------------------------------------------------------------
# Parser of tests/schema_facts.md
# --------------------------------------------------------------------------------------------

_ENUM_LINE = re.compile(r"^- enum `(\w+)`: (.+)$")
_MODEL_HEADING = re.compile(r"^### (\w+)\s*$")
_FIELD_ROW = re.compile(r"^\|\s*(\w+)\s*\|\s*([\w\[\]?]+)\s*\|\s*(.*?)\s*\|\s*$")
_ATTR_NAME = re.compile(r"@[\w.]+")
_BLOCK_ATTR = re.compile(r"^`(@@\w+)\((.*)\)`\s*$")

_SCALAR_TYPES = {
    "String": "text",
    "Int": "integer",
    "BigInt": "bigint",
    "Boolean": "boolean",
    "Float": "double precision",
    "Decimal": "numeric(65,30)",
    "DateTime": "timestamp(3) without time zone",
    "Json": "jsonb",
}
_NATIVE_TYPES = {
    "Char": lambda a: f"character({a[0]})",
    "VarChar": lambda a: f"character varying({a[0]})",
    "Text": lambda a: "text",
    "Decimal": lambda a: f"numeric({a[0]},{a[1]})",
    "Timestamptz": lambda a: f"timestamp({a[0] if a else 6}) with time zone",
    "Timestamp": lambda a: f"timestamp({a[0] if a else 6}) without time zone",
    "Date": lambda a: "date",
    "Integer": lambda a: "integer",
    "SmallInt": lambda a: "smallint",
    "BigInt": lambda a: "bigint",
    "DoublePrecision": lambda a: "double precision",
    "JsonB": lambda a: "jsonb",
    "Uuid": lambda a: "uuid",
}
_REFERENTIAL_ACTIONS = {
    "Cascade": "CASCADE",
    "Restrict": "RESTRICT",
    "NoAction": "NO ACTION",
    "SetNull": "SET NULL",
    "SetDefault": "SET DEFAULT",
}


@dataclass(frozen=True)
class FactField:
    name: str
    type: str  # without ? or []
    optional: bool
    is_list: bool
    attributes: tuple[tuple[str, str | None], ...]  # ("@default", "now()"), ("@id", None), ...

    def attr(self, name: str) -> str | None:
        return next((arg or "" for key, arg in self.attributes if key == name), None)

    def has(self, name: str) -> bool:
        return any(key == name for key, _ in self.attributes)


@dataclass
class FactModel:
    name: str
    fields: list[FactField] = field(default_factory=list)
    block_attributes: list[tuple[str, str]] = field(default_factory=list)  # ("@@index", "[a, b]")


@dataclass
class Facts:
    enums: dict[str, tuple[str, ...]]
    models: dict[str, FactModel]


def _split_attributes(text: str) -> tuple[tuple[str, str | None], ...]:
    """'@id @default(uuid()) @db.Char(2)' -> (('@id', None), ('@default', 'uuid()'), ...)."""
    attrs: list[tuple[str, str | None]] = []
    i = 0
    while i < len(text):
        if text[i].isspace():
            i += 1
            continue
        m = _ATTR_NAME.match(text, i)
        if not m:
            raise ValueError(f"cannot parse attributes {text!r} at {text[i:]!r}")
        name, i = m.group(0), m.end()
        arg = None
        if i < len(text) and text[i] == "(":
            depth, start, in_string = 0, i + 1, False
            while True:
                ch = text[i]
                if ch == '"':
                    in_string = not in_string
                elif not in_string and ch == "(":
                    depth += 1
                elif not in_string and ch == ")":
                    depth -= 1
                    if depth == 0:
                        break
                i += 1
                if i >= len(text):
                    raise ValueError(f"unbalanced parentheses in {text!r}")
            arg, i = text[start:i], i + 1
        attrs.append((name, arg))
    return tuple(attrs)


def parse_facts(text: str) -> Facts:
    enums: dict[str, tuple[str, ...]] = {}
    models: dict[str, FactModel] = {}
    model: FactModel | None = None
    for lineno, line in enumerate(text.splitlines(), 1):
        line = line.rstrip()
        if m := _ENUM_LINE.match(line):
            if m.group(1) in enums:
                raise ValueError(f"line {lineno}: enum {m.group(1)} listed twice")
            enums[m.group(1)] = tuple(label.strip() for label in m.group(2).split(","))
        elif m := _MODEL_HEADING.match(line):
            if m.group(1) in models:
                raise ValueError(f"line {lineno}: model {m.group(1)} listed twice")
            model = models[m.group(1)] = FactModel(m.group(1))
        elif line.startswith("#"):
            model = None
        elif model is not None and (m := _FIELD_ROW.match(line)):
            name, ftype, attributes = m.groups()
            if name == "field" or set(name) <= {"-"}:
                continue  # header row
            model.fields.append(
                FactField(
                    name=name,
                    type=ftype.rstrip("?").removesuffix("[]"),
                    optional=ftype.endswith("?"),
                    is_list=ftype.endswith("[]"),
                    attributes=_split_attributes(attributes),
                )
            )
        elif model is not None and (m := _BLOCK_ATTR.match(line)):
            model.block_attributes.append((m.group(1), m.group(2)))
        elif model is not None and line.startswith("|") and not line.startswith("|---"):
            raise ValueError(f"line {lineno}: unparsed table row {line!r}")
        elif model is not None and line.startswith("`"):
            raise ValueError(f"line {lineno}: unparsed constraint line {line!r}")
    return Facts(enums, models)


def _field_list(arg: str) -> tuple[tuple[str, ...], dict[str, str]]:
    """'[a, b], map: "x"' -> (('a', 'b'), {'map': 'x'})."""
    m = re.match(r"\s*(?:fields:\s*)?\[([^\]]*)\]\s*(.*)$", arg)
    if not m:
        raise ValueError(f"expected a field list in {arg!r}")
    columns = tuple(c.strip() for c in m.group(1).split(",") if c.strip())
    options = {k: v.strip('"') for k, v in re.findall(r"(\w+):\s*(\"[^\"]*\"|\w+)", m.group(2))}
    return columns, options


def _column_type(f: FactField, enums: dict[str, tuple[str, ...]]) -> str:
    native = [(k, a) for k, a in f.attributes if k.startswith("@db.")]
    if native:
        ((key, arg),) = native
        args = [a.strip() for a in (arg or "").split(",") if a.strip()]
        return _NATIVE_TYPES[key.removeprefix("@db.")](args)
    if f.type in enums:
        return f.type
    return _SCALAR_TYPES[f.type]


def _column_default(f: FactField, enums: dict[str, tuple[str, ...]]) -> str | None:
    arg = f.attr("@default")
    if arg is None or f.has("@updatedAt"):
        return None
    arg = arg.strip()
    if arg in ("uuid()", "cuid()", "nanoid()", "ulid()"):
        return None  # generated by the client
    if arg == "now()":
        return "CURRENT_TIMESTAMP"
    if arg.startswith('"'):
        return "'" + arg[1:-1].replace("'", "''") + "'::text"
    if f.type in enums:
        if arg not in enums[f.type]:
            raise ValueError(f"default {arg} of {f.name} is not a label of {f.type}")
        return f"'{arg}'::\"{f.type}\""
    if f.type == "Boolean" and arg in ("true", "false"):
        return arg
    if f.type in ("Int", "BigInt", "Float", "Decimal") and re.fullmatch(r"-?\d+(\.\d+)?", arg):
        return arg
    raise ValueError(f"unsupported default @default({arg}) on {f.name}")


def reference_schema(facts: Facts) -> Schema:
    """The catalog Prisma would create from the facts."""
    schema = Schema(enums=dict(facts.enums))
    for model in facts.models.values():
        table = schema.tables[model.name] = Table(model.name)
        id_fields = [f.name for f in model.fields if f.has("@id")]
        for f in model.fields:
            if f.type in facts.models:  # relation field: navigation only
                rel = f.attr("@relation")
                if rel is None or "fields:" not in rel:
                    continue
                columns = _field_list(rel[rel.index("fields:") :])[0]
                ref_columns = _field_list(rel[rel.index("references:") + len("references:") :])[0]
                on_delete = re.search(r"onDelete:\s*(\w+)", rel)
                on_update = re.search(r"onUpdate:\s*(\w+)", rel)
                fk = ForeignKey(
                    name=fk_name(model.name, columns),
                    columns=columns,
                    ref_table=f.type,
                    ref_columns=ref_columns,
                    on_delete=_REFERENTIAL_ACTIONS[on_delete.group(1)]
                    if on_delete
                    else ("SET NULL" if f.optional else "RESTRICT"),
                    on_update=_REFERENTIAL_ACTIONS[on_update.group(1)] if on_update else "CASCADE",
                )
                table.foreign_keys[fk.name] = fk
                continue
            if f.is_list:
                raise ValueError(f"{model.name}.{f.name}: scalar lists are not supported")
            table.columns[f.name] = Column(
                f.name, _column_type(f, facts.enums), f.optional, _column_default(f, facts.enums)
            )
            if f.has("@unique"):
                ix = Index(index_name(model.name, [f.name], True), (f.name,), True)
                table.indexes[ix.name] = ix
        for kind, arg in model.block_attributes:
            columns, options = _field_list(arg)
            missing = [c for c in columns if c not in table.columns]
            if missing:
                raise ValueError(f"{model.name} {kind}: unknown columns {missing}")
            if kind == "@@id":
                id_fields = list(columns)
            elif kind in ("@@unique", "@@index"):
                unique = kind == "@@unique"
                ix = Index(
                    options.get("map") or index_name(model.name, columns, unique), columns, unique
                )
                if ix.name in table.indexes:
                    raise ValueError(f"{model.name}: index {ix.name} declared twice")
                table.indexes[ix.name] = ix
            else:
                raise ValueError(f"{model.name}: unsupported block attribute {kind}")
        if id_fields:
            table.primary_key = PrimaryKey(pk_name(model.name), tuple(id_fields))
    for table in schema.tables.values():
        for fk in table.foreign_keys.values():
            target = schema.tables[fk.ref_table]
            for cols, where in ((fk.columns, table), (fk.ref_columns, target)):
                if any(c not in where.columns for c in cols):
                    raise ValueError(f"{fk.name}: unknown columns {cols} on {where.name}")
    return schema


# --------------------------------------------------------------------------------------------
# Applying the departures
# --------------------------------------------------------------------------------------------


def _take_index(table: Table, columns: tuple[str, ...], unique: bool, why: Departure) -> None:
    name = index_name(table.name, columns, unique)
    ix = table.indexes.get(name)
    if ix is None or ix.columns != columns or ix.unique != unique:
        raise ValueError(f"departure does not apply, the reference has no index {name}: {why}")
    del table.indexes[name]


def _put_index(
    table: Table,
    columns: tuple[str, ...],
    unique: bool,
    why: Departure,
    predicate: str | None = None,
) -> None:
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise ValueError(f"departure names unknown columns {missing}: {why}")
    ix = Index(index_name(table.name, columns, unique), columns, unique, predicate=predicate)
    if ix.name in table.indexes:
        raise ValueError(f"departure adds an index the reference already has: {why}")
    table.indexes[ix.name] = ix


def _key_by_tenant(schema: Schema) -> set[str]:
    """TenantKeys on `schema`, in place; the names of the tables it changed."""
    tenant = "tenantId"
    changed: set[str] = set()
    for table in schema.tables.values():
        if tenant not in table.columns:
            continue
        pk = table.primary_key
        if pk is not None and tenant not in pk.columns:
            table.primary_key = replace(pk, columns=(tenant, *pk.columns))
            changed.add(table.name)
        for name, ix in list(table.indexes.items()):
            if ix.unique and tenant not in ix.columns:
                del table.indexes[name]
                columns = (tenant, *ix.columns)
                new = replace(ix, name=index_name(table.name, columns, True), columns=columns)
                table.indexes[new.name] = new
                changed.add(table.name)
        for name, fk in list(table.foreign_keys.items()):
            target = schema.tables[fk.ref_table]
            if tenant in fk.columns or tenant not in target.columns:
                continue
            del table.foreign_keys[name]
            columns = (tenant, *fk.columns)
            new_fk = replace(
                fk,
                name=fk_name(table.name, columns),
                columns=columns,
                ref_columns=(tenant, *fk.ref_columns),
            )
            table.foreign_keys[new_fk.name] = new_fk
            changed.add(table.name)
    return changed


def apply_departures(reference: Schema, departures: Iterable[Departure]) -> Schema:
    """The reference with gxcore's departures applied; a departure that does not apply raises."""
    schema = Schema(
        enums=dict(reference.enums),
        tables={
            name: replace(
                t,
                columns=dict(t.columns),
                indexes=dict(t.indexes),
                foreign_keys=dict(t.foreign_keys),
                checks=dict(t.checks),
            )
            for name, t in reference.tables.items()
        },
    )
    money_rules: list[NonNegativeMoney] = []
    key_rules: list[TenantKeys] = []
    for d in departures:
        if isinstance(d, NonNegativeMoney):
            money_rules.append(d)  # applied last, to the columns as they end up
            continue
        if isinstance(d, TenantKeys):
            key_rules.append(d)  # applied last, to the keys as they end up
            continue
        if isinstance(d, AddEnumValues):
            labels = schema.enums.get(d.enum)
            if labels is None or set(d.values) & set(labels):
                raise ValueError(f"departure does not apply: {d}")
            schema.enums[d.enum] = (*labels, *d.values)
            continue
        if isinstance(d, AddTable):
            if d.table in schema.tables:
                raise ValueError(f"departure adds a table the reference already has: {d}")
            continue
        if isinstance(d, AddModel):
            added = parse_facts(d.facts)
            if set(added.enums) & set(schema.enums) or set(added.models) & set(schema.tables):
                raise ValueError(f"departure adds what the reference already has: {d.reason}")
            schema.enums.update(added.enums)
            # Built alone: its foreign keys, if any, may name only the tables it adds.
            schema.tables.update(reference_schema(Facts(schema.enums, added.models)).tables)
            continue
        if d.table not in schema.tables:
            raise ValueError(f"departure names an unknown table: {d}")
        table = schema.tables[d.table]
        if isinstance(d, ReplaceUnique):
            _take_index(table, d.old, True, d)
            _put_index(table, d.new, True, d)
        elif isinstance(d, DropUnique):
            _take_index(table, d.columns, True, d)
        elif isinstance(d, DropIndex):
            _take_index(table, d.columns, False, d)
        elif isinstance(d, AddIndex):
            _put_index(table, d.columns, d.unique, d, d.predicate)
        elif isinstance(d, AddColumn):
            if d.column in table.columns:
                raise ValueError(f"departure adds a column the reference already has: {d}")
            table.columns[d.column] = Column(d.column, d.type, d.nullable, d.default)
        elif isinstance(d, DropNotNull):
            old = table.columns.get(d.column)
            if old is None or old.nullable:
                raise ValueError(f"departure does not apply: {d}")
            table.columns[d.column] = replace(old, nullable=True)
        elif isinstance(d, SetNotNull):
            old = table.columns.get(d.column)
            if old is None or not old.nullable:
                raise ValueError(f"departure does not apply: {d}")
            table.columns[d.column] = replace(old, nullable=False)
        elif isinstance(d, AddForeignKey):
            fk = ForeignKey(
                fk_name(table.name, d.columns),
                d.columns,
                d.ref_table,
                d.ref_columns,
                d.on_delete,
                d.on_update,
            )
            if fk.name in table.foreign_keys or any(c not in table.columns for c in d.columns):
                raise ValueError(f"departure does not apply: {d}")
            table.foreign_keys[fk.name] = fk
        elif isinstance(d, ReplacePrimaryKey):
            if table.primary_key is None or table.primary_key.columns == d.columns:
                raise ValueError(f"departure does not apply: {d}")
            table.primary_key = replace(table.primary_key, columns=d.columns)
        elif isinstance(d, RetypeColumn):
            old = table.columns.get(d.column)
            if old is None or old.type == d.type:
                raise ValueError(f"departure does not apply: {d}")
            table.columns[d.column] = replace(old, type=d.type)
        else:
            raise TypeError(f"unknown departure {d!r}")
    for key_rule in key_rules:
        changed = _key_by_tenant(schema)
        if changed != set(key_rule.tables):
            raise ValueError(
                f"departure lists {sorted(set(key_rule.tables) - changed)} it does not change "
                f"and misses {sorted(changed - set(key_rule.tables))}: {key_rule.reason}"
            )
    for rule in money_rules:
        for table in schema.tables.values():
            for col in table.columns.values():
                if col.type == rule.type:
                    ck = Check(check_name(table.name, col.name), (col.name,), f"{col.name} >= 0")
                    table.checks[ck.name] = ck
    return schema


# --------------------------------------------------------------------------------------------
# Defaults, compared by meaning
# --------------------------------------------------------------------------------------------

_NOW = re.compile(r"(?i)^(now\(\)|current_timestamp(\(\d\))?|transaction_timestamp\(\))$")
_NUMERIC_TYPES = re.compile(r"^(smallint|integer|bigint|real|double precision|numeric(\(.*\))?)$")
_CAST = re.compile(
    r'::\s*(?:"[^"]+"|[a-z_][\w ]*?(?:\(\d+(?:,\s*\d+)?\))?)(?:\[\])?\s*$', re.IGNORECASE
)


def _strip_parens(expr: str) -> str:
    expr = expr.strip()
    while expr.startswith("(") and expr.endswith(")"):
        depth = 0
        for i, ch in enumerate(expr):
            depth += ch == "("
            depth -= ch == ")"
            if depth == 0 and i < len(expr) - 1:
                return expr  # the first "(" closes before the end: not one wrapping pair
        expr = expr[1:-1].strip()
    return expr


def normalize_default(expr: str | None, column_type: str) -> Any:
    """A comparable value for a default expression: casts, quotes and number formats ignored."""
    if expr is None:
        return None
    expr = _strip_parens(expr)
    if expr.startswith("'"):
        m = re.match(r"'((?:[^']|'')*)'", expr)
        rest = expr[m.end() :] if m else None
        if m and (
            not rest or re.fullmatch(r"(\s*::\s*(\"[^\"]+\"|[\w ]+(\(\d+(,\s*\d+)?\))?))+", rest)
        ):
            value: str = m.group(1).replace("''", "'")
        else:
            return ("expr", " ".join(expr.split()))
    else:
        while _CAST.search(expr):
            expr = _strip_parens(_CAST.sub("", expr))
        value = expr
    if _NOW.match(value.strip()):
        return ("now",)
    base_type = column_type.strip('"')
    if _NUMERIC_TYPES.match(base_type):
        try:
            return ("number", Decimal(_strip_parens(value).replace(" ", "")))
        except InvalidOperation:
            pass
    if base_type == "boolean" and value.lower() in ("t", "true", "f", "false"):
        return ("boolean", value.lower().startswith("t"))
    if expr.startswith("'"):
        return ("string", value)
    return ("expr", " ".join(value.split()))


# --------------------------------------------------------------------------------------------
# The migrated database's catalog
# --------------------------------------------------------------------------------------------

_ACTION_CODES = {
    "a": "NO ACTION",
    "r": "RESTRICT",
    "c": "CASCADE",
    "n": "SET NULL",
    "d": "SET DEFAULT",
}

_Q_TABLES = """
SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = $1 AND c.relkind IN ('r', 'p')
"""
_Q_COLUMNS = """
SELECT c.relname AS table, a.attname AS column, format_type(a.atttypid, a.atttypmod) AS type,
       a.attnotnull AS not_null, pg_get_expr(d.adbin, d.adrelid) AS default,
       NULLIF(a.attidentity::text, '') AS identity, NULLIF(a.attgenerated::text, '') AS generated
FROM pg_attribute a
JOIN pg_class c ON c.oid = a.attrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped
"""
_Q_ENUMS = """
SELECT t.typname AS name,
       array_remove(array_agg(e.enumlabel::text ORDER BY e.enumsortorder), NULL) AS labels
FROM pg_type t
JOIN pg_namespace n ON n.oid = t.typnamespace
LEFT JOIN pg_enum e ON e.enumtypid = t.oid
WHERE n.nspname = $1 AND t.typtype = 'e'
GROUP BY t.typname
"""
_Q_INDEXES = """
SELECT t.relname AS table, i.relname AS name, x.indisunique AS unique, x.indisprimary AS primary,
       am.amname AS method, pg_get_expr(x.indpred, x.indrelid) AS predicate,
       {nulls_not_distinct} AS nulls_not_distinct,
       EXISTS (SELECT 1 FROM pg_constraint k
               WHERE k.conindid = x.indexrelid AND k.conrelid = x.indrelid
                 AND k.contype IN ('u', 'x')) AS is_constraint,
       ARRAY(SELECT CASE WHEN k.attnum = 0 THEN pg_get_indexdef(x.indexrelid, k.ord::int, true)
                         ELSE a.attname::text END
                    || CASE WHEN k.ord <= x.indnkeyatts
                                 AND (x.indoption::int2[])[k.ord - 1] & 1 = 1
                            THEN ' DESC' ELSE '' END
             FROM unnest(x.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
             LEFT JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = k.attnum
             ORDER BY k.ord) AS columns,
       x.indnkeyatts AS key_count
FROM pg_index x
JOIN pg_class i ON i.oid = x.indexrelid
JOIN pg_class t ON t.oid = x.indrelid
JOIN pg_namespace n ON n.oid = t.relnamespace
JOIN pg_am am ON am.oid = i.relam
WHERE n.nspname = $1 AND t.relkind IN ('r', 'p')
"""
_Q_CONSTRAINTS = """
SELECT t.relname AS table, k.conname AS name, k.contype::text AS type,
       ARRAY(SELECT a.attname::text FROM unnest(k.conkey) WITH ORDINALITY AS c(attnum, ord)
             JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = c.attnum
             ORDER BY c.ord) AS columns,
       CASE WHEN rn.nspname = $1 THEN r.relname::text ELSE rn.nspname || '.' || r.relname END
           AS ref_table,
       ARRAY(SELECT a.attname::text FROM unnest(k.confkey) WITH ORDINALITY AS c(attnum, ord)
             JOIN pg_attribute a ON a.attrelid = k.confrelid AND a.attnum = c.attnum
             ORDER BY c.ord) AS ref_columns,
       k.confdeltype::text AS on_delete, k.confupdtype::text AS on_update,
       k.condeferrable AS deferrable,
       pg_get_constraintdef(k.oid) AS definition
FROM pg_constraint k
JOIN pg_class t ON t.oid = k.conrelid
JOIN pg_namespace n ON n.oid = t.relnamespace
LEFT JOIN pg_class r ON r.oid = k.confrelid
LEFT JOIN pg_namespace rn ON rn.oid = r.relnamespace
WHERE n.nspname = $1 AND t.relkind IN ('r', 'p') AND k.contype IN ('p', 'f', 'c')
"""


async def read_catalog(conn: asyncpg.Connection, schema_name: str = SCHEMA) -> Schema:
    """The schema of `schema_name` as the same data model the reference is reduced to."""
    schema = Schema()
    for r in await conn.fetch(_Q_TABLES, schema_name):
        if r["relname"] not in IGNORED_TABLES:
            schema.tables[r["relname"]] = Table(r["relname"])
    for r in await conn.fetch(_Q_COLUMNS, schema_name):
        if (table := schema.tables.get(r["table"])) is None:
            continue
        default = r["default"]
        if r["identity"]:
            default = f"GENERATED {'ALWAYS' if r['identity'] == 'a' else 'BY DEFAULT'} AS IDENTITY"
        elif r["generated"]:
            default = f"GENERATED ALWAYS AS ({default}) STORED"
        table.columns[r["column"]] = Column(
            r["column"], r["type"].replace('"', ""), not r["not_null"], default
        )
    for r in await conn.fetch(_Q_ENUMS, schema_name):
        schema.enums[r["name"]] = tuple(r["labels"])
    pg_version = conn.get_server_version().major
    query = _Q_INDEXES.format(
        nulls_not_distinct="x.indnullsnotdistinct" if pg_version >= 15 else "false"
    )
    for r in await conn.fetch(query, schema_name):
        if (table := schema.tables.get(r["table"])) is None or r["primary"]:
            continue
        cols = tuple(r["columns"])
        ix = Index(
            name=r["name"],
            columns=cols[: r["key_count"]],
            unique=r["unique"],
            method=r["method"],
            predicate=r["predicate"],
            include=cols[r["key_count"] :],
            nulls_not_distinct=r["nulls_not_distinct"],
            is_constraint=r["is_constraint"],
        )
        table.indexes[ix.name] = ix
    for r in await conn.fetch(_Q_CONSTRAINTS, schema_name):
        if (table := schema.tables.get(r["table"])) is None:
            continue
        if r["type"] == "p":
            table.primary_key = PrimaryKey(r["name"], tuple(r["columns"]))
        elif r["type"] == "f":
            table.foreign_keys[r["name"]] = ForeignKey(
                name=r["name"],
                columns=tuple(r["columns"]),
                ref_table=r["ref_table"],
                ref_columns=tuple(r["ref_columns"]),
                on_delete=_ACTION_CODES[r["on_delete"]],
                on_update=_ACTION_CODES[r["on_update"]],
                deferrable=r["deferrable"],
            )
        else:
            table.checks[r["name"]] = Check(r["name"], tuple(r["columns"]), r["definition"])
    return schema


# --------------------------------------------------------------------------------------------
# Comparison helpers: every failure lists the exact differences
# --------------------------------------------------------------------------------------------


def diff_sets(what: str, expected: Iterable[str], actual: Iterable[str]) -> list[str]:
    expected, actual = set(expected), set(actual)
    out = [f"missing {what}: {item}" for item in sorted(expected - actual)]
    out += [f"unexpected {what}: {item}" for item in sorted(actual - expected)]
    return out


def report(title: str, differences: list[str]) -> str:
    return f"{title}: {len(differences)} difference(s)\n  " + "\n  ".join(differences)


# --------------------------------------------------------------------------------------------
# Expected model (built at import so tests can be parametrised per table and enum)
# --------------------------------------------------------------------------------------------

FACTS = parse_facts(FACTS_FILE.read_text(encoding="utf-8"))
REFERENCE = reference_schema(FACTS)
EXPECTED = apply_departures(REFERENCE, DEPARTURES)
TABLES = sorted(EXPECTED.tables)
ENUMS = sorted(EXPECTED.enums)


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def actual(migrated_url: str) -> Schema:
    """The catalog of the migrated database, read once per session."""
    conn = await asyncpg.connect(migrated_url)
    try:
        return await read_catalog(conn)
    finally:
        await conn.close()


def _table(actual: Schema, name: str) -> Table:
    if name not in actual.tables:
        pytest.fail(f"table {name} does not exist in schema {SCHEMA} (see test_tables)")
    return actual.tables[name]


# --------------------------------------------------------------------------------------------
# Tests that need no database: the parser and the departures
# --------------------------------------------------------------------------------------------


def test_parser_finds_every_model_and_enum() -> None:
    assert len(FACTS.models) == FACTS_MODEL_COUNT, sorted(FACTS.models)
    assert len(FACTS.enums) == FACTS_ENUM_COUNT, sorted(FACTS.enums)
    text = FACTS_FILE.read_text(encoding="utf-8")
    rows = (
        len(re.findall(r"^\| \w+ \| [\w\[\]?]+ \|", text, re.MULTILINE)) - FACTS_MODEL_COUNT
    )  # headers
    assert sum(len(m.fields) for m in FACTS.models.values()) == rows
    blocks = len(re.findall(r"^`@@", text, re.MULTILINE))
    assert sum(len(m.block_attributes) for m in FACTS.models.values()) == blocks


def test_parser_maps_fields_the_prisma_way() -> None:
    pr = REFERENCE.tables["PendingRegistration"]
    assert pr.columns["id"] == Column("id", "text", False, None)
    assert pr.columns["tenantId"] == Column("tenantId", "text", False, "'default'::text")
    assert pr.columns["countryCode"] == Column("countryCode", "character(2)", True, None)
    assert pr.columns["dateOfBirth"].type == "date"
    assert pr.columns["gender"] == Column("gender", "Gender", True, None)
    assert pr.columns["currentStep"].default == "'EMAIL_PENDING'::\"RegistrationStep\""
    assert pr.columns["createdAt"] == Column(
        "createdAt", "timestamp(3) with time zone", False, "CURRENT_TIMESTAMP"
    )
    assert pr.columns["updatedAt"].default is None
    assert REFERENCE.tables["TrustScore"].columns["familyWeight"] == Column(
        "familyWeight", "numeric(5,2)", False, "0.80"
    )
    assert REFERENCE.tables["Loan"].columns["amount"].type == "double precision"
    assert "country" not in REFERENCE.tables["LegalTenderStatus"].columns  # relation field
    assert REFERENCE.tables["ProjectorState"].primary_key == PrimaryKey(
        "ProjectorState_pkey", ("tenantId", "projectorName", "channel")
    )
    fks = REFERENCE.tables["Contact"].foreign_keys
    assert fks["Contact_contactProfileId_fkey"] == ForeignKey(
        "Contact_contactProfileId_fkey",
        ("contactProfileId",),
        "UserProfile",
        ("profileId",),
        "SET NULL",
        "CASCADE",
    )
    assert (
        REFERENCE.tables["BusinessAccount"].foreign_keys["BusinessAccount_walletId_fkey"].on_delete
        == "RESTRICT"
    )
    assert (
        REFERENCE.tables["KYCDocument"].foreign_keys["KYCDocument_issuingCountry_fkey"].on_delete
        == "SET NULL"
    )
    # Prisma cuts long names to 63 bytes before the suffix.
    assert "FamilyRelationship_tenantId_initiatorProfileId_relatedProfi_key" in (
        REFERENCE.tables["FamilyRelationship"].indexes
    )


def test_departures_apply_to_the_reference() -> None:
    for d in DEPARTURES:
        assert d.reason.strip(), f"departure without a reason: {d}"
    ur = EXPECTED.tables["UserProfile"].indexes
    assert ur["UserProfile_tenantId_email_key"].columns == ("tenantId", "email")
    assert "UserProfile_email_key" not in ur and "UserProfile_tenantId_email_idx" not in ur
    assert "UserProfile_fabricUserId_idx" in ur
    assert "TrustedDevice_deviceFingerprint_key" not in EXPECTED.tables["TrustedDevice"].indexes
    assert EXPECTED.tables["Collateral"].columns["tenantId"] == Column(
        "tenantId", "text", False, None
    )
    assert EXPECTED.tables["Loan"].columns["amount"].type == MONEY_TYPE
    assert "Loan_amount_check" in EXPECTED.tables["Loan"].checks
    assert len([c for t in EXPECTED.tables.values() for c in t.checks]) == 13
    assert EXPECTED.enums["AuditEventType"][-4:] == (
        "DEVICE_UNTRUSTED",
        "RECORD_CREATED",
        "RECORD_UPDATED",
        "RECORD_DELETED",
    )
    assert EXPECTED.tables["AuditLog"].columns["chainSeq"] == Column(
        "chainSeq", "bigint", True, None
    )
    with pytest.raises(ValueError):
        apply_departures(REFERENCE, [DropIndex("UserProfile", ("nope",), "x")])
    with pytest.raises(ValueError):
        apply_departures(REFERENCE, [AddEnumValues("AuditEventType", ("USER_LOGIN",), "x")])


@pytest.mark.parametrize(
    ("expr", "column_type", "expected"),
    [
        ("'default'::text", "text", "'default'::text"),
        ("'default'::character varying", "text", "'default'::text"),
        ("CURRENT_TIMESTAMP", "timestamp(3) with time zone", "now()"),
        ("0.8", "numeric(5,2)", "0.80"),
        ("'0.80'::numeric", "numeric(5,2)", "0.80"),
        ("0", "numeric(36,9)", "0.000000000"),
        ("(0)::numeric", "numeric(36,9)", "0"),
        ("'f'::boolean", "boolean", "false"),
        (
            "'REGISTERED'::\"UserProfileStatus\"",
            "UserProfileStatus",
            "'REGISTERED'::\"UserProfileStatus\"",
        ),
    ],
)
def test_default_normalisation_ignores_spelling(expr: str, column_type: str, expected: str) -> None:
    assert normalize_default(expr, column_type) == normalize_default(expected, column_type)


def test_default_normalisation_keeps_meaning() -> None:
    assert normalize_default("0", "integer") != normalize_default("1", "integer")
    assert normalize_default("'1.0'::text", "text") != normalize_default("'1'::text", "text")
    assert normalize_default("true", "boolean") != normalize_default("false", "boolean")
    assert normalize_default("clock_timestamp()", "timestamp(3) with time zone") != ("now",)
    assert normalize_default(None, "text") != normalize_default("''::text", "text")


# --------------------------------------------------------------------------------------------
# Conformance of the migrated database, one aspect per test
# --------------------------------------------------------------------------------------------


OWN_TABLES = frozenset(d.table for d in DEPARTURES if isinstance(d, AddTable))


def test_tables(actual: Schema) -> None:
    assert OWN_TABLES <= set(actual.tables), "a table listed as gxcore's own does not exist"
    theirs = {name: t for name, t in actual.tables.items() if name not in OWN_TABLES}
    differences = diff_sets("table", EXPECTED.tables, theirs)
    assert not differences, report(f"tables of schema {SCHEMA}", differences)


def test_enum_types(actual: Schema) -> None:
    differences = diff_sets("enum type", EXPECTED.enums, actual.enums)
    assert not differences, report(f"enum types of schema {SCHEMA}", differences)


@pytest.mark.parametrize("enum", ENUMS)
def test_enum_labels(actual: Schema, enum: str) -> None:
    if enum not in actual.enums:
        pytest.fail(f"enum type {enum} does not exist (see test_enum_types)")
    expected, found = EXPECTED.enums[enum], actual.enums[enum]
    differences = diff_sets("label", expected, found)
    if not differences and expected != found:
        differences = [f"labels in the wrong order: expected {list(expected)}, found {list(found)}"]
    assert not differences, report(f"enum {enum}", differences)


@pytest.mark.parametrize("table", TABLES)
def test_columns_types_and_nullability(actual: Schema, table: str) -> None:
    want, have = EXPECTED.tables[table].columns, _table(actual, table).columns
    differences = diff_sets("column", want, have)
    for name in sorted(want.keys() & have.keys()):
        w, h = want[name], have[name]
        if w.type != h.type:
            differences.append(f"column {name}: type {h.type}, expected {w.type}")
        if w.nullable != h.nullable:
            expected = "nullable" if w.nullable else "NOT NULL"
            found = "nullable" if h.nullable else "NOT NULL"
            differences.append(f"column {name}: {found}, expected {expected}")
    assert not differences, report(f"columns of {table}", differences)


@pytest.mark.parametrize("table", TABLES)
def test_column_defaults(actual: Schema, table: str) -> None:
    want, have = EXPECTED.tables[table].columns, _table(actual, table).columns
    differences = []
    for name in sorted(want.keys() & have.keys()):
        w, h = want[name], have[name]
        if normalize_default(w.default, w.type) != normalize_default(h.default, h.type):
            differences.append(f"column {name}: default {h.default!r}, expected {w.default!r}")
    assert not differences, report(f"defaults of {table}", differences)


@pytest.mark.parametrize("table", TABLES)
def test_primary_key(actual: Schema, table: str) -> None:
    want, have = EXPECTED.tables[table].primary_key, _table(actual, table).primary_key
    differences = diff_sets(
        "primary key", [want.describe()] if want else [], [have.describe()] if have else []
    )
    assert not differences, report(f"primary key of {table}", differences)


@pytest.mark.parametrize("table", TABLES)
def test_unique_indexes(actual: Schema, table: str) -> None:
    differences = diff_sets(
        "unique index",
        (ix.describe() for ix in EXPECTED.tables[table].indexes.values() if ix.unique),
        (ix.describe() for ix in _table(actual, table).indexes.values() if ix.unique),
    )
    assert not differences, report(f"unique indexes of {table}", differences)


@pytest.mark.parametrize("table", TABLES)
def test_non_unique_indexes(actual: Schema, table: str) -> None:
    differences = diff_sets(
        "index",
        (ix.describe() for ix in EXPECTED.tables[table].indexes.values() if not ix.unique),
        (ix.describe() for ix in _table(actual, table).indexes.values() if not ix.unique),
    )
    assert not differences, report(f"non-unique indexes of {table}", differences)


@pytest.mark.parametrize("table", TABLES)
def test_foreign_keys(actual: Schema, table: str) -> None:
    differences = diff_sets(
        "foreign key",
        (fk.describe() for fk in EXPECTED.tables[table].foreign_keys.values()),
        (fk.describe() for fk in _table(actual, table).foreign_keys.values()),
    )
    assert not differences, report(f"foreign keys of {table}", differences)


@pytest.mark.parametrize("table", TABLES)
def test_money_checks(actual: Schema, table: str) -> None:
    """CHECK (<column> >= 0) on every money column, and no other check constraint."""
    want, have = EXPECTED.tables[table].checks, _table(actual, table).checks
    differences = [
        f"missing check: {ck.name} CHECK ({ck.definition})"
        for name, ck in sorted(want.items())
        if name not in have
    ]
    differences += [
        f"unexpected check: {ck.name} {ck.definition}"
        for name, ck in sorted(have.items())
        if name not in want
    ]
    differences += [
        f"check {name} is not `{want[name].definition}`: {ck.definition} on {list(ck.columns)}"
        for name, ck in sorted(have.items())
        if name in want and not ck.is_non_negative(want[name].columns[0])
    ]
    assert not differences, report(f"check constraints of {table}", differences)
