"""Operator tooling for the outbox: see commands across tenants, inspect one, re-queue dead letters.

Every function takes a session of the system scope (`Database.system(reason=...)`), whose opening
is logged with its reason; the caller owns the transaction. Re-queueing is FAILED -> PENDING
through `gxcore.db.lifecycle`: attempts start again from zero, the error is cleared, and the
command is due at once. Re-queueing is for commands that ran out of attempts while the ledger
was unavailable, and for those the ledger rejected because of its state (not bootstrapped yet,
paused: `contract.STATE_DEPENDENT`). The ledger answers a request id it knows with its first
outcome, so such a command goes back under a new one, `<request id>:retry-<block of the
rejection>` (unique per rejection). A command rejected for any other reason is refused: the
same command would only be rejected again; what the operator wants then is a new command.
"""

from __future__ import annotations

import logging
from collections.abc import Collection

from sqlalchemy import Text, and_, cast, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from gxcore.cqrs.models import OutboxCommand
from gxcore.db import lifecycle, pages
from gxcore.enums import OutboxStatus
from gxcore.errors import Conflict, InvalidTransition, NotFound
from gxcore.ledger.contract import STATE_DEPENDENT

log = logging.getLogger(__name__)


class OutboxCommandNotFound(NotFound):
    code = "OUTBOX_COMMAND_NOT_FOUND"


class RejectedByLedger(Conflict):
    """The ledger rejected this command; resubmitting its request id returns that rejection."""

    code = "REJECTED_BY_LEDGER"


class RefusedInReview(Conflict):
    """The application refused this command before sending it (a transfer rejected in review)."""

    code = "REFUSED_IN_REVIEW"


#: What `gx outbox list` binds its cursors to (gxcore.db.pages).
LIST = "gx outbox list"
NEWEST_FIRST = pages.Order.newest_first(OutboxCommand.created_at, OutboxCommand.id)


async def list_page(
    session: AsyncSession,
    paging: pages.PageRequest,
    *,
    status: OutboxStatus | None = None,
    tenant_id: str | None = None,
) -> pages.Slice[OutboxCommand]:
    """Commands newest first, optionally of one status and one tenant, in pages."""
    query = select(OutboxCommand)
    if status is not None:
        query = query.where(OutboxCommand.status == status)
    if tenant_id is not None:
        query = query.where(OutboxCommand.tenant_id == tenant_id)
    return await pages.fetch_scalars(session, query, NEWEST_FIRST, paging)


async def counts(
    session: AsyncSession,
    *,
    tenant_id: str | None = None,
    statuses: Collection[OutboxStatus] = tuple(OutboxStatus),
) -> dict[OutboxStatus, int]:
    """Commands per status (every status asked for present, zero included)."""
    query = select(OutboxCommand.status, func.count()).group_by(OutboxCommand.status)
    if tenant_id is not None:
        query = query.where(OutboxCommand.tenant_id == tenant_id)
    if set(statuses) != set(OutboxStatus):
        query = query.where(OutboxCommand.status.in_(statuses))
    found: dict[OutboxStatus, int] = {s: n for s, n in (await session.execute(query)).all()}
    return {s: found.get(s, 0) for s in statuses}


async def get_or_raise(
    session: AsyncSession, command_id: str, *, lock: bool = False
) -> OutboxCommand:
    query = select(OutboxCommand).where(OutboxCommand.id == command_id)
    if lock:
        query = query.with_for_update()
    command = await session.scalar(query)
    if command is None:
        raise OutboxCommandNotFound(f"no outbox command {command_id!r}", command_id=command_id)
    return command


#: What re-queueing sets besides the status, one command or many: attempts from zero, due at
#: once, the last error, claim and ledger answer cleared; a command the ledger rejected for its
#: state gets a new request id (the rejected one keeps its outcome on the ledger).
_REQUEUED = {
    "request_id": func.coalesce(
        func.regexp_replace(OutboxCommand.request_id, ":retry-[0-9]+$", "")
        + ":retry-"
        + cast(OutboxCommand.commit_block, Text),
        OutboxCommand.request_id,
    ),
    "attempts": 0,
    "next_attempt_at": func.now(),
    "error_code": None,
    "error": None,
    "locked_by": None,
    "locked_at": None,
    "submitted_at": None,
    "fabric_tx_id": None,
    "commit_block": None,
    "updated_at": func.now(),
    # Set-based: the ORM's version check sees only its own unit-of-work updates.
    "version": OutboxCommand.version + 1,
}

#: FAILED commands worth sending again: never answered by the ledger, or rejected for its state.
#: A command never attempted (attempts 0: a transfer rejected in review) is not the operator's
#: to send.
_RETRYABLE = and_(
    OutboxCommand.attempts > 0,
    or_(
        OutboxCommand.fabric_tx_id.is_(None),
        OutboxCommand.error_code.in_(sorted(STATE_DEPENDENT)),
    ),
)


async def retry(session: AsyncSession, command_id: str) -> OutboxCommand:
    """Re-queue one FAILED command; any other status is an InvalidTransition (a HELD command is
    released by its review, not here), a command the ledger rejected for good is
    RejectedByLedger, one refused before it was ever sent is RefusedInReview."""
    command = await get_or_raise(session, command_id, lock=True)
    lifecycle.check(command.status, OutboxStatus.PENDING, what="OutboxCommand")
    if command.status is not OutboxStatus.FAILED:
        raise InvalidTransition(
            f"outbox command {command_id} is {command.status.value}; only FAILED commands are "
            "re-queued",
            current=command.status.value,
            target=OutboxStatus.PENDING.value,
        )
    if command.attempts == 0:
        raise RefusedInReview(
            f"outbox command {command_id} was refused before it was sent ({command.error_code}: "
            f"{command.error}); enqueue a new command if it should go after all",
            command_id=command_id,
        )
    previous = (command.error_code, command.error)
    requeued = await session.scalar(
        update(OutboxCommand)
        .where(OutboxCommand.id == command_id, _RETRYABLE)
        .values(status=OutboxStatus.PENDING, **_REQUEUED)
        .returning(OutboxCommand)
        .execution_options(populate_existing=True)
    )
    if requeued is None:
        raise RejectedByLedger(
            f"outbox command {command_id} was rejected by the ledger ({command.error_code}: "
            f"{command.error}); the ledger returns that outcome for its request id "
            f"{command.request_id!r} again, so enqueue a new command instead",
            command_id=command_id,
        )
    log.info("outbox command %s re-queued (was FAILED: %s %s)", command_id, *previous)
    return requeued


async def retry_all_failed(session: AsyncSession, *, tenant_id: str | None = None) -> list[str]:
    """Re-queue every FAILED command worth sending again (of one tenant, or all); returns their
    ids. Those the ledger rejected for good stay FAILED."""
    lifecycle.check(OutboxStatus.FAILED, OutboxStatus.PENDING, what="OutboxCommand")
    statement = (
        update(OutboxCommand)
        .where(OutboxCommand.status == OutboxStatus.FAILED, _RETRYABLE)
        .values(status=OutboxStatus.PENDING, **_REQUEUED)
        .returning(OutboxCommand.id)
        .execution_options(synchronize_session=False)
    )
    if tenant_id is not None:
        statement = statement.where(OutboxCommand.tenant_id == tenant_id)
    ids = list((await session.scalars(statement)).all())
    log.info("%d failed outbox command(s) re-queued: %s", len(ids), ", ".join(ids))
    return ids
