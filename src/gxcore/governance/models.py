"""governance models."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, PrimaryKeyConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from gxcore.db.base import NOW, Base, Json, TenantScoped, UpdatedAt


class Proposal(TenantScoped, Base):
    __tablename__ = "Proposal"
    __table_args__ = (
        # The ledger's id, chosen by the client: unique per tenant only (revision d1a2b3c4e5f6).
        PrimaryKeyConstraint("tenant_id", "proposal_id"),
        Index(None, "status"),
        Index(None, "proposer_id"),
        # Active proposals, newest first, in keyset pages (revision 01f4e2e6fcb3).
        Index(None, "tenant_id", "status", "created_at", "proposal_id"),
    )
    proposal_id: Mapped[str]
    tenant_id: Mapped[str]
    title: Mapped[str]
    description: Mapped[str]
    proposer_id: Mapped[str]
    proposal_type: Mapped[str]
    status: Mapped[str]
    votes_for: Mapped[int] = mapped_column(server_default=text("0"))
    votes_against: Mapped[int] = mapped_column(server_default=text("0"))
    voters: Mapped[Json | None]
    executed_at: Mapped[datetime | None]
    # gxcore's additions (revision 01f4e2e6fcb3): what the proposal changes, and until when
    # it takes votes, as ProposalSubmitted says.
    parameter_key: Mapped[str | None]
    new_value: Mapped[str | None]
    voting_ends_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(server_default=NOW)
    updated_at: Mapped[UpdatedAt]
