"""Projector handlers for governance: proposals, votes, execution (`Proposal`).

`Proposal` mirrors the ledger's proposal to change one parameter (OPEN, then EXECUTED); the
executed change itself reaches `SystemParameter` through the admin handlers. `voters` lists each
vote as {voterId, support}. Keyed like the ledger's, by (tenant, proposal id).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gxcore.admin.handlers import set_parameter
from gxcore.errors import ProjectionRejected
from gxcore.governance.models import Proposal
from gxcore.ledger import events as ev
from gxcore.ledger.port import LedgerEvent

if TYPE_CHECKING:
    from gxcore.cqrs.projection import Batch

OPEN, EXECUTED = "OPEN", "EXECUTED"
PARAMETER_CHANGE = "PARAMETER_CHANGE"


async def _proposal(batch: Batch, event: LedgerEvent, proposal_id: str) -> Proposal | None:
    return await batch.session.get(Proposal, (event.tenant_id, proposal_id))


async def _require(batch: Batch, event: LedgerEvent, proposal_id: str) -> Proposal:
    proposal = await _proposal(batch, event, proposal_id)
    if proposal is None:
        raise ProjectionRejected(
            "NOT_FOUND", f"no proposal {proposal_id!r}: its submission was not applied"
        )
    return proposal


async def submitted(batch: Batch, event: LedgerEvent, p: ev.ProposalSubmitted) -> None:
    proposal = await _proposal(batch, event, p.proposal_id)
    if proposal is None:
        proposal = Proposal(
            proposal_id=p.proposal_id, tenant_id=event.tenant_id, created_at=event.timestamp
        )
        batch.session.add(proposal)
    change = f"{p.parameter_key} to {p.new_value}"
    proposal.title = p.title or f"Set {change}"
    proposal.description = f"set {change}; voting ends {p.voting_ends_at.isoformat()}"
    proposal.proposer_id = p.proposer_id
    proposal.proposal_type = PARAMETER_CHANGE
    proposal.parameter_key = p.parameter_key
    proposal.new_value = p.new_value
    proposal.voting_ends_at = p.voting_ends_at
    proposal.status = OPEN
    proposal.votes_for = 0
    proposal.votes_against = 0
    proposal.voters = []


async def vote_cast(batch: Batch, event: LedgerEvent, p: ev.VoteCast) -> None:
    proposal = await _require(batch, event, p.proposal_id)
    voters = [v for v in proposal.voters or [] if v.get("voterId") != p.voter_id]
    proposal.voters = [*voters, {"voterId": p.voter_id, "support": p.support}]
    proposal.votes_for = p.votes_for
    proposal.votes_against = p.votes_against


async def executed(batch: Batch, event: LedgerEvent, p: ev.ProposalExecuted) -> None:
    proposal = await _require(batch, event, p.proposal_id)
    proposal.status = EXECUTED
    proposal.executed_at = event.timestamp
    proposal.votes_for = p.votes_for
    proposal.votes_against = p.votes_against
    await set_parameter(batch, event.tenant_id, p.parameter_key, p.new_value)
