"""Keys carry the tenant: primary, unique and foreign keys of tenant tables include tenantId.

Toward distributing the schema by `tenantId` (Citus requires the distribution column in every
unique and foreign key between distributed tables), and so that the database itself refuses a
row pointing into another tenant (until now only the application and row-level security did):

- every primary key of a tenant table that was `(<id>)` becomes `("tenantId", <id>)`, still
  named `Table_pkey`;
- the five unique indexes without `tenantId` are replaced by `Table_tenantId_<col>_key`;
- every foreign key between tenant tables becomes `("tenantId", <col>) REFERENCES
  T ("tenantId", <id>)`, named `Table_tenantId_<col>_fkey`; `ON DELETE SET NULL` names its
  own column (`SET NULL ("<col>")`, PostgreSQL 15+), or deleting the parent would null
  `tenantId` too. Foreign keys to `Country` (a reference table) stay as they are.

Online, in three steps, as a live database needs it:

1. the new unique indexes (the future primary keys as `Table_pkey_new`) are built
   CONCURRENTLY: reads and writes go on;
2. one short transaction swaps the keys: the old foreign keys are dropped, each primary key is
   replaced by `ADD CONSTRAINT ... PRIMARY KEY USING INDEX` (no scan: tenantId is NOT NULL
   already), and the composite foreign keys are added `NOT VALID` (no scan). Every statement
   is metadata only; lock_timeout makes the whole transaction fail fast rather than queue
   behind a long transaction (rerun it: every step is safe to repeat);
3. each foreign key is validated in its own transaction (a scan that blocks no writes), and
   the replaced unique indexes are dropped CONCURRENTLY.

Downgrade mirrors it; it fails (and changes nothing) if two tenants hold the same id, which
the one-column keys cannot express.

Revision ID: 230369e7c7b6
Revises: 7376e5530022
Create Date: 2026-12-07 05:26:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "230369e7c7b6"
down_revision: str | None = "7376e5530022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Rules `gx db lint` waives for this revision only, and why.
SQUAWK_IGNORE = {
    "ban-drop-constraint": "each constraint dropped is replaced in the same transaction by one "
    "that enforces more (the same key with tenantId); none is lost",
}

LOCK_TIMEOUT = "SET lock_timeout = '5s'"
TENANT = "tenantId"

#: Tables whose primary key gains tenantId in front of its one column.
PRIMARY_KEYS: tuple[tuple[str, str], ...] = (
    ("Address", "addressId"),
    ("Application", "appId"),
    ("ApprovalVote", "voteId"),
    ("AuditLog", "auditId"),
    ("Beneficiary", "beneficiaryId"),
    ("BusinessAccount", "businessAccountId"),
    ("BusinessSignatory", "signatoryId"),
    ("Collateral", "collateralId"),
    ("Contact", "contactId"),
    ("Credential", "credentialId"),
    ("EventDLQ", "id"),
    ("EventLog", "id"),
    ("FamilyRelationship", "relationshipId"),
    ("HoardingTaxSnapshot", "snapshotId"),
    ("KYCDocument", "documentId"),
    ("KYCVerification", "kycId"),
    ("LegalTenderStatus", "statusId"),
    ("License", "licenseId"),
    ("LicensedPartner", "partnerId"),
    ("Notification", "notificationId"),
    ("OrganizationProfile", "orgProfileId"),
    ("OutboxCommand", "id"),
    ("PartnerGrant", "grantId"),
    ("PartnerScope", "scopeId"),
    ("PendingRegistration", "id"),
    ("PushToken", "tokenId"),
    ("Referral", "referralId"),
    ("SignatoryRule", "ruleId"),
    ("Transaction", "offTxId"),
    ("TransactionApproval", "approvalId"),
    ("TransactionLimit", "limitId"),
    ("TransactionRiskScore", "riskId"),
    ("TrustScore", "profileId"),
    ("TrustedDevice", "deviceId"),
    ("UserOrganizationLink", "id"),
    ("UserProfile", "profileId"),
    ("UserSession", "sessionId"),
    ("Wallet", "walletId"),
)

#: Unique indexes over one column that become unique per tenant.
UNIQUES: tuple[tuple[str, str], ...] = (
    ("BusinessAccount", "walletId"),
    ("Collateral", "onChainLoanId"),
    ("PendingRegistration", "migratedToProfileId"),
    ("TransactionRiskScore", "offTxId"),
    ("UserSession", "refreshToken"),
)

#: Foreign keys between tenant tables: (table, column, referenced table, its key, ON DELETE).
#: All are ON UPDATE CASCADE, as Prisma declares them.
FOREIGN_KEYS: tuple[tuple[str, str, str, str, str], ...] = (
    ("Address", "profileId", "UserProfile", "profileId", "CASCADE"),
    ("Application", "partnerId", "LicensedPartner", "partnerId", "CASCADE"),
    ("ApprovalVote", "approvalId", "TransactionApproval", "approvalId", "CASCADE"),
    ("ApprovalVote", "signatoryId", "BusinessSignatory", "signatoryId", "CASCADE"),
    ("Beneficiary", "ownerProfileId", "UserProfile", "profileId", "CASCADE"),
    ("BusinessAccount", "orgProfileId", "OrganizationProfile", "orgProfileId", "CASCADE"),
    ("BusinessAccount", "walletId", "Wallet", "walletId", "RESTRICT"),
    ("BusinessSignatory", "businessAccountId", "BusinessAccount", "businessAccountId", "CASCADE"),
    ("BusinessSignatory", "profileId", "UserProfile", "profileId", "CASCADE"),
    ("Contact", "contactProfileId", "UserProfile", "profileId", "SET NULL"),
    ("Contact", "ownerProfileId", "UserProfile", "profileId", "CASCADE"),
    ("Credential", "licenseId", "License", "licenseId", "CASCADE"),
    ("FamilyRelationship", "initiatorProfileId", "UserProfile", "profileId", "CASCADE"),
    ("FamilyRelationship", "relatedProfileId", "UserProfile", "profileId", "CASCADE"),
    ("HoardingTaxSnapshot", "walletId", "Wallet", "walletId", "CASCADE"),
    ("KYCDocument", "kycId", "KYCVerification", "kycId", "CASCADE"),
    ("KYCVerification", "profileId", "UserProfile", "profileId", "CASCADE"),
    ("License", "appId", "Application", "appId", "CASCADE"),
    ("Notification", "recipientId", "UserProfile", "profileId", "CASCADE"),
    ("PartnerGrant", "partnerId", "LicensedPartner", "partnerId", "CASCADE"),
    ("PartnerScope", "appId", "Application", "appId", "CASCADE"),
    ("PushToken", "profileId", "UserProfile", "profileId", "CASCADE"),
    ("Referral", "inviteeProfileId", "UserProfile", "profileId", "SET NULL"),
    ("Referral", "referrerProfileId", "UserProfile", "profileId", "CASCADE"),
    ("ReferralPoints", "profileId", "UserProfile", "profileId", "CASCADE"),
    ("SignatoryRule", "businessAccountId", "BusinessAccount", "businessAccountId", "CASCADE"),
    ("Transaction", "walletId", "Wallet", "walletId", "CASCADE"),
    (
        "TransactionApproval",
        "businessAccountId",
        "BusinessAccount",
        "businessAccountId",
        "CASCADE",
    ),
    ("TransactionApproval", "outboxCommandId", "OutboxCommand", "id", "CASCADE"),
    ("TransactionLimit", "profileId", "UserProfile", "profileId", "CASCADE"),
    ("TransactionRiskScore", "commandId", "OutboxCommand", "id", "CASCADE"),
    ("TransactionRiskScore", "offTxId", "Transaction", "offTxId", "CASCADE"),
    ("TransferHold", "commandId", "OutboxCommand", "id", "CASCADE"),
    ("TrustScore", "profileId", "UserProfile", "profileId", "CASCADE"),
    ("TrustedDevice", "profileId", "UserProfile", "profileId", "CASCADE"),
    ("UserOrganizationLink", "orgProfileId", "OrganizationProfile", "orgProfileId", "CASCADE"),
    ("UserOrganizationLink", "userProfileId", "UserProfile", "profileId", "CASCADE"),
    ("UserSession", "profileId", "UserProfile", "profileId", "CASCADE"),
    ("Wallet", "profileId", "UserProfile", "profileId", "CASCADE"),
)


def _name(table: str, columns: Sequence[str], suffix: str) -> str:
    """Prisma's constraint name, cut to 63 characters the way gxcore.db.base cuts it."""
    stem = "_".join([table, *columns])
    return f"{stem[: 63 - len(suffix) - 1]}_{suffix}"


def _q(*names: str) -> str:
    return ", ".join(f'"{n}"' for n in names)


def _build_unique(index: str, table: str, columns: Sequence[str]) -> None:
    # A build that failed leaves an invalid index that IF NOT EXISTS would keep.
    op.execute(f'DROP INDEX CONCURRENTLY IF EXISTS "{index}"')
    op.execute(
        f'CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS "{index}" ON "{table}" ({_q(*columns)})'
    )


def _swap_primary_key(table: str, index: str) -> None:
    op.execute(
        f'ALTER TABLE "{table}" DROP CONSTRAINT IF EXISTS "{table}_pkey", '
        f'ADD CONSTRAINT "{table}_pkey" PRIMARY KEY USING INDEX "{index}"'
    )


def _add_foreign_key(
    table: str, columns: Sequence[str], target: str, keys: Sequence[str], on_delete: str
) -> str:
    name = _name(table, columns, "fkey")
    op.execute(
        f'ALTER TABLE "{table}" ADD CONSTRAINT "{name}" FOREIGN KEY ({_q(*columns)}) '
        f'REFERENCES "{target}" ({_q(*keys)}) ON DELETE {on_delete} ON UPDATE CASCADE NOT VALID'
    )
    return name


def _drop_foreign_key(table: str, columns: Sequence[str]) -> None:
    op.execute(f'ALTER TABLE "{table}" DROP CONSTRAINT IF EXISTS "{_name(table, columns, "fkey")}"')


def upgrade() -> None:
    op.execute(LOCK_TIMEOUT)
    with op.get_context().autocommit_block():
        for table, key in PRIMARY_KEYS:
            _build_unique(f"{table}_pkey_new", table, (TENANT, key))
        for table, column in UNIQUES:
            _build_unique(_name(table, (TENANT, column), "key"), table, (TENANT, column))
    # One short transaction of metadata changes: no key is missing at any moment others see.
    for table, column, *_ in FOREIGN_KEYS:
        _drop_foreign_key(table, (column,))
        _drop_foreign_key(table, (TENANT, column))  # left by an earlier, interrupted run
    for table, _key in PRIMARY_KEYS:
        _swap_primary_key(table, f"{table}_pkey_new")
    added = []
    for table, column, target, key, on_delete in FOREIGN_KEYS:
        if on_delete == "SET NULL":  # null the reference only, never tenantId
            on_delete = f'SET NULL ("{column}")'
        added.append(
            (table, _add_foreign_key(table, (TENANT, column), target, (TENANT, key), on_delete))
        )
    with op.get_context().autocommit_block():
        for table, name in added:
            op.execute(f'ALTER TABLE "{table}" VALIDATE CONSTRAINT "{name}"')
        for table, column in UNIQUES:
            op.execute(f'DROP INDEX CONCURRENTLY IF EXISTS "{_name(table, (column,), "key")}"')


def downgrade() -> None:
    op.execute(LOCK_TIMEOUT)
    with op.get_context().autocommit_block():
        for table, key in PRIMARY_KEYS:
            _build_unique(f"{table}_pkey_old", table, (key,))
        for table, column in UNIQUES:
            _build_unique(_name(table, (column,), "key"), table, (column,))
    for table, column, *_ in FOREIGN_KEYS:
        _drop_foreign_key(table, (TENANT, column))
        _drop_foreign_key(table, (column,))
    for table, _key in PRIMARY_KEYS:
        _swap_primary_key(table, f"{table}_pkey_old")
    added = [
        (table, _add_foreign_key(table, (column,), target, (key,), on_delete))
        for table, column, target, key, on_delete in FOREIGN_KEYS
    ]
    with op.get_context().autocommit_block():
        for table, name in added:
            op.execute(f'ALTER TABLE "{table}" VALIDATE CONSTRAINT "{name}"')
        for table, column in UNIQUES:
            op.execute(
                f'DROP INDEX CONCURRENTLY IF EXISTS "{_name(table, (TENANT, column), "key")}"'
            )
