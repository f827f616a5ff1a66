"""DocumentType RESIDENCE_PERMIT: the identity document of residents who are not citizens.

Requiring a national id number (revisions 53f000e2d96b, 6972afdaa927) shuts out residents who
hold none: a foreign resident identifies with a residence permit (an EU residence card, a
Nigerian CERPAC, a US permanent resident card), and could only upload it as OTHER, which KYC
review cannot tell from a utility bill. The new value lets them upload it as what it is.

`ALTER TYPE ... ADD VALUE` rewrites nothing and locks only the type; PostgreSQL 12+ accepts it
in a transaction that does not use the new value. Downgrade takes the value out again with the
recreate-the-type procedure (gxcore.db.enum_evolution, docs/migrations.md), refusing while a
document still has that type.

Revision ID: 6def41e919af
Revises: 6972afdaa927
Create Date: 2026-12-07 02:19:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

from gxcore.db.enum_evolution import EnumColumn, remove_value_statements

revision: str = "6def41e919af"
down_revision: str | None = "6972afdaa927"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Rules `gx db lint` waives for this revision only, and why.
SQUAWK_IGNORE = {
    "changing-column-type": "downgrade only: moving KYCDocument.documentType back to the type "
    "without RESIDENCE_PERMIT is the one way PostgreSQL removes an enum value",
}

LOCK_TIMEOUT = "SET lock_timeout = '5s'"
VALUE = "RESIDENCE_PERMIT"
# DocumentType before this revision (static: migrations never import the models).
BEFORE = (
    "NATIONAL_ID",
    "PASSPORT",
    "DRIVERS_LICENSE",
    "PROOF_OF_ADDRESS",
    "DEATH_CERTIFICATE",
    "DIVORCE_CERTIFICATE",
    "BUSINESS_REGISTRATION",
    "TAX_REGISTRATION",
    "BANK_STATEMENT",
    "UTILITY_BILL",
    "SELFIE_PHOTO",
    "OTHER",
)


def upgrade() -> None:
    op.execute(LOCK_TIMEOUT)
    op.execute(f"ALTER TYPE \"DocumentType\" ADD VALUE IF NOT EXISTS '{VALUE}' AFTER 'OTHER'")


def downgrade() -> None:
    op.execute(LOCK_TIMEOUT)
    for statement in remove_value_statements(
        "DocumentType",
        VALUE,
        keep=BEFORE,
        columns=[EnumColumn("KYCDocument", "documentType")],
    ):
        op.execute(statement)
