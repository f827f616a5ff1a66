"""Governance: proposals to change a parameter, one vote per account, execution once passed."""

from __future__ import annotations

from datetime import timedelta

from gxcore.enums import CommandType as C
from gxcore.ledger import commands as cmd
from gxcore.ledger import events as ev
from gxcore.ledger.contract import (
    Code,
    Kind,
    Rejected,
    check_proposal_passed,
    check_vote_open,
    parameter_value,
)
from gxcore.ledger.handlers.admin import set_checked_parameter
from gxcore.ledger.handlers.registry import handles
from gxcore.ledger.rows import Proposal, Vote
from gxcore.ledger.state import Tx

OPEN, EXECUTED = "OPEN", "EXECUTED"
#: Accounts that vote: people and organizations, not pools or treasuries.
VOTERS = (Kind.USER, Kind.ORGANIZATION)


async def _proposal(tx: Tx, proposal_id: str) -> Proposal:
    proposal = await tx.get(Proposal, proposal_id)
    if proposal is None:
        raise Rejected(Code.PROPOSAL_NOT_FOUND, f"no proposal {proposal_id!r}")
    return proposal


@handles(C.SUBMIT_PROPOSAL, accounts=lambda p: (p.proposer_id,))
async def submit(tx: Tx, p: cmd.SubmitProposal) -> None:
    proposal_id = p.proposal_id or tx.derived_id("PROP")
    if await tx.get(Proposal, proposal_id) is not None:
        raise Rejected(Code.PROPOSAL_EXISTS, f"proposal {proposal_id!r} already exists")
    value = parameter_value(p.parameter_key, p.new_value)
    await tx.require(p.proposer_id, Kind.USER)
    ends = tx.now + timedelta(days=tx.params.governance_voting_period_days)
    tx.add(
        Proposal(tx.tenant_id, proposal_id, p.proposer_id, p.parameter_key, value, p.title, ends)
    )
    tx.emit(
        ev.ProposalSubmitted(
            proposal_id=proposal_id,
            proposer_id=p.proposer_id,
            parameter_key=p.parameter_key,
            new_value=value,
            title=p.title,
            voting_ends_at=ends,
        )
    )


@handles(C.CAST_VOTE, accounts=lambda p: (p.voter_id,))
async def cast_vote(tx: Tx, p: cmd.CastVote) -> None:
    proposal = await _proposal(tx, p.proposal_id)
    check_vote_open(proposal.status, proposal.voting_ends_at, tx.now)
    await tx.require(p.voter_id, *VOTERS)
    if await tx.get(Vote, p.proposal_id, p.voter_id) is not None:
        raise Rejected(Code.ALREADY_VOTED, f"{p.voter_id!r} already voted on {p.proposal_id!r}")
    tx.add(Vote(tx.tenant_id, p.proposal_id, p.voter_id, p.support))
    tx.change(proposal)
    if p.support:
        proposal.votes_for += 1
    else:
        proposal.votes_against += 1
    tx.emit(
        ev.VoteCast(
            proposal_id=p.proposal_id,
            voter_id=p.voter_id,
            support=p.support,
            votes_for=proposal.votes_for,
            votes_against=proposal.votes_against,
        )
    )


@handles(C.EXECUTE_PROPOSAL)
async def execute(tx: Tx, p: cmd.ExecuteProposal) -> None:
    proposal = await _proposal(tx, p.proposal_id)
    if proposal.status == EXECUTED:
        raise Rejected(Code.ALREADY_EXECUTED, f"proposal {p.proposal_id!r} was already executed")
    check_proposal_passed(
        proposal.votes_for, proposal.votes_against, proposal.voting_ends_at, tx.now
    )
    # Checked again against today's other parameters (INVALID_VALUE if they moved meanwhile).
    old = set_checked_parameter(tx, proposal.parameter_key, proposal.new_value)
    tx.change(proposal).status = EXECUTED
    tx.emit(
        ev.ProposalExecuted(
            proposal_id=proposal.proposal_id,
            parameter_key=proposal.parameter_key,
            old_value=old,
            new_value=proposal.new_value,
            votes_for=proposal.votes_for,
            votes_against=proposal.votes_against,
        )
    )
