"""Drop the indexes another index of the same table already serves.

Each index dropped here is a leading prefix of another B-tree index of its table (most of them
since the keys carry the tenant: `X_tenantId_idx` is the start of `X_pkey ("tenantId", id)`),
and `UserSession_tenantId_sessionId_key` is the primary key itself under another name. A scan
by the prefix uses the longer index just as well; the shorter one only costs every insert, every
update that changes its columns, and disk. `tests/test_redundant_indexes.py` keeps any table from
growing one again.

Online: each index is dropped CONCURRENTLY (no lock that stops reads or writes); the downgrade
builds them again CONCURRENTLY.

Revision ID: 5e1f0c2a9b7d
Revises: 230369e7c7b6
Create Date: 2026-12-07 11:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "5e1f0c2a9b7d"
down_revision: str | None = "230369e7c7b6"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SQUAWK_IGNORE: dict[str, str] = {}

LOCK_TIMEOUT = "SET lock_timeout = '5s'"

#: (table, index, key columns, unique) of each index dropped.
REDUNDANT: tuple[tuple[str, str, tuple[str, ...], bool], ...] = (
    ("Address", "Address_tenantId_profileId_idx", ("tenantId", "profileId"), False),
    ("BusinessAccount", "BusinessAccount_tenantId_idx", ("tenantId",), False),
    (
        "BusinessSignatory",
        "BusinessSignatory_tenantId_businessAccountId_idx",
        ("tenantId", "businessAccountId"),
        False,
    ),
    ("Collateral", "Collateral_tenantId_idx", ("tenantId",), False),
    ("Contact", "Contact_tenantId_ownerProfileId_idx", ("tenantId", "ownerProfileId"), False),
    (
        "FamilyRelationship",
        "FamilyRelationship_tenantId_initiatorProfileId_idx",
        ("tenantId", "initiatorProfileId"),
        False,
    ),
    ("KYCVerification", "KYCVerification_tenantId_idx", ("tenantId",), False),
    ("LegalTenderStatus", "LegalTenderStatus_tenantId_idx", ("tenantId",), False),
    ("Organization", "Organization_tenantId_idx", ("tenantId",), False),
    ("Proposal", "Proposal_tenantId_idx", ("tenantId",), False),
    ("PushToken", "PushToken_tenantId_profileId_idx", ("tenantId", "profileId"), False),
    ("SystemParameter", "SystemParameter_tenantId_idx", ("tenantId",), False),
    ("TrustedDevice", "TrustedDevice_tenantId_profileId_idx", ("tenantId", "profileId"), False),
    ("UserOrganizationLink", "UserOrganizationLink_tenantId_idx", ("tenantId",), False),
    ("UserSession", "UserSession_tenantId_sessionId_key", ("tenantId", "sessionId"), True),
)


def upgrade() -> None:
    op.execute(LOCK_TIMEOUT)
    with op.get_context().autocommit_block():
        for _, index, _, _ in REDUNDANT:
            op.execute(f'DROP INDEX CONCURRENTLY IF EXISTS "{index}"')


def downgrade() -> None:
    op.execute(LOCK_TIMEOUT)
    with op.get_context().autocommit_block():
        for table, index, columns, unique in REDUNDANT:
            # A build that failed leaves an invalid index behind, which IF NOT EXISTS would keep.
            op.execute(f'DROP INDEX CONCURRENTLY IF EXISTS "{index}"')
            keys = ", ".join(f'"{c}"' for c in columns)
            op.execute(
                f"CREATE {'UNIQUE ' if unique else ''}INDEX CONCURRENTLY IF NOT EXISTS "
                f'"{index}" ON "{table}" ({keys})'
            )
