"""${message}

Revision ID: ${up_revision}
Revises: ${down_revision | comma,n}
Create Date: ${create_date}
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql
${imports if imports else ""}
revision: str = ${repr(up_revision)}
down_revision: str | None = ${repr(down_revision)}
branch_labels: str | Sequence[str] | None = ${repr(branch_labels)}
depends_on: str | Sequence[str] | None = ${repr(depends_on)}

# `gx db lint` holds every revision to these (docs/migrations.md says why):
# - LOCK_TIMEOUT first, in upgrade() and downgrade(): no statement waits long for a lock.
# - CREATE INDEX on an existing table only CONCURRENTLY, inside
#   `with op.get_context().autocommit_block():` (drop a failed, invalid build first).
# - A new column on an existing table is nullable or has a default, never NOT NULL bare.
# - NOT NULL on an existing column in steps: ADD CONSTRAINT ... CHECK (col IS NOT NULL)
#   NOT VALID; commit; VALIDATE CONSTRAINT; SET NOT NULL; drop the check.
# A rule this revision must break is waived here, with the reason: {rule: reason}.
SQUAWK_IGNORE: dict[str, str] = {}

LOCK_TIMEOUT = "SET lock_timeout = '5s'"


def upgrade() -> None:
    op.execute(LOCK_TIMEOUT)
    ${upgrades if upgrades else "pass"}


def downgrade() -> None:
    op.execute(LOCK_TIMEOUT)
    ${downgrades if downgrades else "pass"}
