"""Requests and responses of svc-governance, with the reference API's field names (camelCase)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints

from gxcore.bodies import RequestBody
from gxcore.cqrs.models import OutboxCommand
from gxcore.db.pages import Page
from gxcore.enums import CommandType, OutboxStatus
from gxcore.wallet.schemas import CommandAccepted


class ProposalCreate(RequestBody):
    parameterKey: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    newValue: Annotated[str, StringConstraints(min_length=1, max_length=64)] = Field(
        description="the parameter's new value, as text (an integer, or a decimal amount)"
    )
    title: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = None


class VoteIn(RequestBody):
    support: bool = Field(description="true: for the proposal; false: against")


class ProposalAccepted(CommandAccepted):
    proposalId: str


class CommandProgress(BaseModel):
    """One ledger command's progress; `errorCode` is the ledger's rejection code once FAILED."""

    commandId: str
    type: CommandType
    status: OutboxStatus
    errorCode: str | None = None
    txId: str | None = None

    @classmethod
    def of(cls, command: OutboxCommand | None) -> CommandProgress | None:
        if command is None:
            return None
        return cls(
            commandId=command.id,
            type=command.command_type,
            status=command.status,
            errorCode=command.error_code,
            txId=command.fabric_tx_id,
        )


class Voter(BaseModel):
    voterId: str
    support: bool


class MyVote(BaseModel):
    """The caller's vote as sent; counted once its command is COMMITTED and projected."""

    support: bool
    command: CommandProgress


class ProposalRead(BaseModel):
    proposalId: str
    title: str
    description: str | None
    proposerId: str
    proposalType: str
    status: str = Field(
        description="PENDING (not on the ledger yet), REJECTED (refused by it: see "
        "`submission.errorCode`), OPEN or EXECUTED"
    )
    parameterKey: str | None
    newValue: str | None
    votesFor: int
    votesAgainst: int
    voters: list[Voter]
    votingEndsAt: datetime | None
    votingOpen: bool
    passed: bool | None = Field(
        description="once voting has ended: whether votes for exceed votes against"
    )
    executedAt: datetime | None = None
    createdAt: datetime | None = None
    updatedAt: datetime | None = None
    submission: CommandProgress | None = None
    myVote: MyVote | None = None
    execution: CommandProgress | None = None


class ProposalPage(Page[ProposalRead]):
    pass
