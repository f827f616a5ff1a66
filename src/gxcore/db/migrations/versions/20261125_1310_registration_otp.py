"""Registration OTP sending limits: last send time and sends per 24 h window, per channel.

Adds to `PendingRegistration`, for email and phone alike: `<channel>OtpSentAt` (when the last
code went out, for the resend cooldown), `<channel>OtpSends` and `<channel>OtpSendsSince` (codes
sent in the current 24 h window and when it began, for the daily cap). See gxcore.identity.otp.

Nullable columns and a constant default: PostgreSQL adds them without rewriting the table.

Revision ID: f1d4b5c6e7a8
Revises: d8b2f3e4a5c6
Create Date: 2026-11-25 13:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "f1d4b5c6e7a8"
down_revision: str | None = "d8b2f3e4a5c6"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Rules `gx db lint` waives for this revision only, and why.
SQUAWK_IGNORE = {
    "gx-lock-timeout": "written before revisions set lock_timeout themselves; env.py's "
    "run-wide lock_timeout (5s) was in force for every statement",
    "prefer-bigint-over-int": "a send counter bounded by otpDailySendCap, an integer like the "
    "reference's OTP attempt counters beside it",
}

CHANNELS = ("email", "phone")


def upgrade() -> None:
    for channel in CHANNELS:
        op.add_column(
            "PendingRegistration",
            sa.Column(
                f"{channel}OtpSentAt",
                postgresql.TIMESTAMP(timezone=True, precision=3),
                nullable=True,
            ),
        )
        op.add_column(
            "PendingRegistration",
            sa.Column(
                f"{channel}OtpSends", sa.Integer(), server_default=sa.text("0"), nullable=False
            ),
        )
        op.add_column(
            "PendingRegistration",
            sa.Column(
                f"{channel}OtpSendsSince",
                postgresql.TIMESTAMP(timezone=True, precision=3),
                nullable=True,
            ),
        )


def downgrade() -> None:
    for channel in reversed(CHANNELS):
        for suffix in ("SendsSince", "Sends", "SentAt"):
            op.drop_column("PendingRegistration", f"{channel}Otp{suffix}")
