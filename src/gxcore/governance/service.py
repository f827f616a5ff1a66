"""svc-governance: proposals to change a ledger parameter, one vote per account, execution.

Proposals belong to the tenant: every member may read them and vote. Writes never touch the
`Proposal` read model (the projector's): each use case checks what the read model already
makes certain, enqueues its ledger command in the caller's transaction and answers 202; the
ledger decides (its rejection code becomes the command's `errorCode`) and the projector reports.

Request ids carry what makes a command unique: `proposal:<id>` (ids are server-made),
`vote:<proposal>:<profile>` (one vote per member: a second one is refused while the first is not
FAILED) and `execute-proposal:<proposal>` (asked twice, the same command answers). A command that
FAILED may be sent again under a successor id (`gxcore.cqrs.outbox.latest`).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from gxcore.audit import service as audit
from gxcore.cqrs.models import EventLog, OutboxCommand
from gxcore.cqrs.outbox import enqueue, latest
from gxcore.db import pages
from gxcore.db.base import new_uuid
from gxcore.enums import AuditEventType, CommandType, OutboxStatus
from gxcore.errors import (
    AlreadyVoted,
    IdempotencyConflict,
    InvalidParameterValue,
    NoLedgerAccount,
    ProposalClosed,
    ProposalExecuted,
    ProposalNotFound,
    ProposalNotPassed,
    ProposalPending,
    UnknownParameter,
)
from gxcore.governance.handlers import EXECUTED, OPEN, PARAMETER_CHANGE
from gxcore.governance.models import Proposal
from gxcore.governance.schemas import (
    CommandProgress,
    MyVote,
    ProposalAccepted,
    ProposalCreate,
    ProposalPage,
    ProposalRead,
    VoteIn,
    Voter,
)
from gxcore.identity.access import Principal
from gxcore.identity.models import UserProfile
from gxcore.ledger.contract import Code, Rejected, parameter_value
from gxcore.wallet.schemas import CommandAccepted

SERVICE = "svc-governance"
PENDING, REJECTED = "PENDING", "REJECTED"


async def _account_or_none(session: AsyncSession, principal: Principal) -> str | None:
    return await session.scalar(
        select(UserProfile.fabric_user_id).where(UserProfile.profile_id == principal.profile_id)
    )


async def ledger_account(session: AsyncSession, principal: Principal) -> str:
    """The caller's ledger account (the projector records it when the ledger opens it)."""
    account = await _account_or_none(session, principal)
    if account is None:
        raise NoLedgerAccount("this needs an account on the ledger: the user is not approved yet")
    return account


def _submit_id(proposal_id: str) -> str:
    return f"proposal:{proposal_id}"


def _vote_id(proposal_id: str, profile_id: str) -> str:
    return f"vote:{proposal_id}:{profile_id}"


def _execute_id(proposal_id: str) -> str:
    return f"execute-proposal:{proposal_id}"


async def _find(session: AsyncSession, proposal_id: str) -> Proposal | None:
    return await session.scalar(select(Proposal).where(Proposal.proposal_id == proposal_id))


async def _projected(session: AsyncSession, proposal_id: str) -> Proposal:
    """The proposal as projected; PROPOSAL_PENDING while its submission is on its way."""
    proposal = await _find(session, proposal_id)
    if proposal is not None:
        return proposal
    sent = await latest(session, _submit_id(proposal_id))
    if sent is not None and sent.status is not OutboxStatus.FAILED:
        raise ProposalPending(
            f"proposal {proposal_id!r} is not on the ledger yet", proposalId=proposal_id
        )
    raise ProposalNotFound(f"no proposal {proposal_id!r}", proposalId=proposal_id)


def _is_open(proposal: Proposal, now: datetime) -> bool:
    ends = proposal.voting_ends_at
    return proposal.status == OPEN and (ends is None or now < ends)


def _passed(proposal: Proposal, now: datetime) -> bool | None:
    ends = proposal.voting_ends_at
    if proposal.status == EXECUTED:
        return True
    if ends is None or now < ends:
        return None
    return proposal.votes_for > proposal.votes_against


def _read(proposal: Proposal, now: datetime) -> ProposalRead:
    return ProposalRead(
        proposalId=proposal.proposal_id,
        title=proposal.title,
        description=proposal.description,
        proposerId=proposal.proposer_id,
        proposalType=proposal.proposal_type,
        status=proposal.status,
        parameterKey=proposal.parameter_key,
        newValue=proposal.new_value,
        votesFor=proposal.votes_for,
        votesAgainst=proposal.votes_against,
        voters=[Voter(voterId=v["voterId"], support=v["support"]) for v in proposal.voters or []],
        votingEndsAt=proposal.voting_ends_at,
        votingOpen=_is_open(proposal, now),
        passed=_passed(proposal, now),
        executedAt=proposal.executed_at,
        createdAt=proposal.created_at,
        updatedAt=proposal.updated_at,
    )


def _unsent(proposal_id: str, command: OutboxCommand) -> ProposalRead:
    """A proposal only its submission knows of: on its way, or refused by the ledger."""
    p = command.payload
    return ProposalRead(
        proposalId=proposal_id,
        title=p.get("title") or f"Set {p['parameterKey']} to {p['newValue']}",
        description=None,
        proposerId=p["proposerId"],
        proposalType=PARAMETER_CHANGE,
        status=REJECTED if command.status is OutboxStatus.FAILED else PENDING,
        parameterKey=p["parameterKey"],
        newValue=p["newValue"],
        votesFor=0,
        votesAgainst=0,
        voters=[],
        votingEndsAt=None,
        votingOpen=False,
        passed=None,
        createdAt=command.created_at,
        submission=CommandProgress.of(command),
    )


# --------------------------------------------------------------------------------------------
# Reads
# --------------------------------------------------------------------------------------------


async def get(
    proposal_id: str, *, session: AsyncSession, principal: Principal, now: datetime
) -> ProposalRead:
    """A proposal with its tallies, the caller's vote and the execution's progress. Before the
    ledger's answer is projected only its proposer (or an administrator) sees it."""
    proposal = await _find(session, proposal_id)
    submission = await latest(session, _submit_id(proposal_id))
    if proposal is None:
        if submission is None or not (
            principal.is_admin
            or submission.payload.get("proposerId") == await _account_or_none(session, principal)
        ):
            raise ProposalNotFound(f"no proposal {proposal_id!r}", proposalId=proposal_id)
        return _unsent(proposal_id, submission)
    view = _read(proposal, now)
    view.submission = CommandProgress.of(submission)
    vote = await latest(session, _vote_id(proposal_id, principal.profile_id))
    if vote is not None:
        progress = CommandProgress.of(vote)
        assert progress is not None
        view.myVote = MyVote(support=bool(vote.payload["support"]), command=progress)
    view.execution = CommandProgress.of(await latest(session, _execute_id(proposal_id)))
    return view


async def list_page(
    *,
    session: AsyncSession,
    now: datetime,
    status: str = OPEN,
    paging: pages.PageRequest,
) -> ProposalPage:
    """Proposals of one status (OPEN by default: not executed yet), newest first, in pages on
    (createdAt, proposalId)."""
    query = select(Proposal).where(Proposal.status == status)
    order = pages.Order.newest_first(Proposal.created_at, Proposal.proposal_id)
    found = await pages.fetch_scalars(session, query, order, paging)
    return ProposalPage.of(found, [_read(p, now) for p in found.rows])


# --------------------------------------------------------------------------------------------
# Writes
# --------------------------------------------------------------------------------------------


def checked_value(key: str, raw: str) -> str:
    """The ledger's own check of a parameter change, answered as a 422 naming the field."""
    try:
        return parameter_value(key, raw)
    except Rejected as e:
        if e.code == Code.UNKNOWN_PARAMETER:
            raise UnknownParameter(e.message, field="parameterKey") from e
        raise InvalidParameterValue(e.message, field="newValue") from e


async def submit(
    body: ProposalCreate, *, session: AsyncSession, principal: Principal
) -> ProposalAccepted:
    """SUBMIT_PROPOSAL: any member with a ledger account proposes a new parameter value."""
    value = checked_value(body.parameterKey, body.newValue)
    account = await ledger_account(session, principal)
    proposal_id = new_uuid()
    payload: dict[str, object] = {
        "proposalId": proposal_id,
        "proposerId": account,
        "parameterKey": body.parameterKey,
        "newValue": value,
    }
    if body.title is not None:
        payload["title"] = body.title
    command = await enqueue(
        session,
        service=SERVICE,
        command_type=CommandType.SUBMIT_PROPOSAL,
        request_id=_submit_id(proposal_id),
        payload=payload,
    )
    await audit.record(
        session,
        event_type=AuditEventType.RECORD_CREATED,
        resource_type="Proposal",
        resource_id=proposal_id,
        target_profile_id=principal.profile_id,
        new={"parameterKey": body.parameterKey, "newValue": value, "commandId": command.id},
    )
    return ProposalAccepted(commandId=command.id, status=command.status, proposalId=proposal_id)


async def vote(
    proposal_id: str,
    body: VoteIn,
    *,
    session: AsyncSession,
    principal: Principal,
    now: datetime,
) -> CommandAccepted:
    """CAST_VOTE for the caller's account: once per member, while voting is open."""
    proposal = await _projected(session, proposal_id)
    account = await ledger_account(session, principal)
    if not _is_open(proposal, now):
        raise ProposalClosed(f"voting on proposal {proposal_id!r} is closed")
    if any(v.get("voterId") == account for v in proposal.voters or []):
        raise AlreadyVoted(f"you already voted on proposal {proposal_id!r}")
    request_id = _vote_id(proposal_id, principal.profile_id)
    sent = await latest(session, request_id)
    if sent is not None:
        if sent.status is not OutboxStatus.FAILED:
            raise AlreadyVoted(f"you already voted on proposal {proposal_id!r}", commandId=sent.id)
        request_id = f"{request_id}:{sent.id}"
    try:
        command = await enqueue(
            session,
            service=SERVICE,
            command_type=CommandType.CAST_VOTE,
            request_id=request_id,
            payload={"proposalId": proposal_id, "voterId": account, "support": body.support},
        )
    except IdempotencyConflict as e:
        # A parallel request of the same member won the request id with the other choice.
        raise AlreadyVoted(f"you already voted on proposal {proposal_id!r}") from e
    await audit.record(
        session,
        event_type=AuditEventType.RECORD_UPDATED,
        resource_type="Proposal",
        resource_id=proposal_id,
        target_profile_id=principal.profile_id,
        new={"vote": "FOR" if body.support else "AGAINST", "commandId": command.id},
    )
    return CommandAccepted(commandId=command.id, status=command.status)


async def _votes_in_flight(session: AsyncSession, proposal_id: str) -> bool:
    """Whether a vote on the proposal is sent but not yet in the tallies (nor refused)."""
    projected = exists().where(
        EventLog.fabric_tx_id == OutboxCommand.fabric_tx_id,
        EventLog.tenant_id == OutboxCommand.tenant_id,
    )
    found = await session.scalar(
        select(
            exists().where(
                OutboxCommand.command_type == CommandType.CAST_VOTE,
                OutboxCommand.request_id.startswith(f"vote:{proposal_id}:", autoescape=True),
                OutboxCommand.status != OutboxStatus.FAILED,
                ~projected,
            )
        )
    )
    return bool(found)


async def execute(
    proposal_id: str, *, session: AsyncSession, principal: Principal, now: datetime
) -> CommandAccepted:
    """EXECUTE_PROPOSAL once voting has ended with more votes for than against.

    Anyone of the tenant may ask (the ledger's rule names no executor); asked again, the command
    already sent answers. Refused here when the read model makes the ledger's refusal certain:
    executed already, voting still open, or not passed with every vote counted.
    """
    proposal = await _projected(session, proposal_id)
    if proposal.status == EXECUTED:
        raise ProposalExecuted(f"proposal {proposal_id!r} was already executed")
    ends = proposal.voting_ends_at
    if ends is not None and now < ends:
        raise ProposalNotPassed(
            f"voting on proposal {proposal_id!r} is open until {ends.isoformat()}",
            votingEndsAt=ends.isoformat(),
        )
    request_id = _execute_id(proposal_id)
    sent = await latest(session, request_id)
    if sent is not None:
        if sent.status is not OutboxStatus.FAILED:
            return CommandAccepted(commandId=sent.id, status=sent.status)
        request_id = f"{request_id}:{sent.id}"
    if proposal.votes_for <= proposal.votes_against and not await _votes_in_flight(
        session, proposal_id
    ):
        raise ProposalNotPassed(
            f"proposal {proposal_id!r} did not pass: {proposal.votes_for} for, "
            f"{proposal.votes_against} against",
            votesFor=proposal.votes_for,
            votesAgainst=proposal.votes_against,
        )
    command = await enqueue(
        session,
        service=SERVICE,
        command_type=CommandType.EXECUTE_PROPOSAL,
        request_id=request_id,
        payload={"proposalId": proposal_id},
    )
    await audit.record(
        session,
        event_type=AuditEventType.RECORD_UPDATED,
        resource_type="Proposal",
        resource_id=proposal_id,
        target_profile_id=principal.profile_id,
        new={"execute": True, "commandId": command.id},
    )
    return CommandAccepted(commandId=command.id, status=command.status)
