"""System administration of a tenant: bootstrap, pause and resume, parameters, counters.

Every change is a command of the ledger's admin contract put in the outbox in the caller's
transaction, and audited there; nothing here writes a read model. The projector reflects what
the ledger did: `SystemState` (bootstrapped, paused), `SystemParameter`. Reads answer from
those read models, so a change shows once the ledger has taken it and the projector applied it.

- bootstrap: the tenant's BOOTSTRAP_SYSTEM is queued when the tenant is created (request id
  `bootstrap-system`); asking again answers that command, or sends it again under a successor
  id once it FAILED. ALREADY_BOOTSTRAPPED (409) once the projector has seen the tenant opened.
- pause, resume: PAUSE_SYSTEM / RESUME_SYSTEM, each a new command. ALREADY_PAUSED and
  NOT_PAUSED (409) are judged on the projected state; the ledger judges again, so two racing
  requests cannot both take effect.
- parameters: only those the ledger keeps (`PARAMETER_RULES`) are changed here, validated as
  the ledger will (range, kind, the age range) so a bad value is a 422 now, not a FAILED
  command later.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from gxcore.admin.models import LegalTenderStatus, SystemParameter, SystemState
from gxcore.admin.parameters import PARAMETERS
from gxcore.admin.schemas import Counters, ParameterRead, PendingCommand, SystemStatus
from gxcore.admin.service import BOOTSTRAP_REQUEST_ID, SERVICE
from gxcore.audit import service as audit
from gxcore.cqrs.models import EventDLQ, OutboxCommand
from gxcore.cqrs.outbox import enqueue, latest
from gxcore.db.base import new_uuid
from gxcore.db.scope import tenant_of
from gxcore.enums import AuditEventType, CommandType, OutboxStatus
from gxcore.errors import (
    AlreadyBootstrapped,
    AlreadyPaused,
    NotBootstrapped,
    NotPaused,
    ParameterNotFound,
    ValidationFailed,
)
from gxcore.identity.models import UserProfile
from gxcore.ledger.contract import PARAMETER_RULES, Rejected, check_parameters, parameter_value
from gxcore.wallet.models import Transaction, TreasuryAccount, Wallet
from gxcore.wallet.schemas import CommandAccepted

C = CommandType
#: The administration commands whose progress the status shows until the ledger answers.
_SYSTEM_COMMANDS = (C.BOOTSTRAP_SYSTEM, C.PAUSE_SYSTEM, C.RESUME_SYSTEM)
_IN_FLIGHT = (OutboxStatus.PENDING, OutboxStatus.LOCKED, OutboxStatus.SUBMITTED)
_BY_KEY = {p.key: p for p in PARAMETERS}


async def send(
    session: AsyncSession, command_type: CommandType, request_id: str, payload: dict[str, Any]
) -> CommandAccepted:
    """Queue an admin command (audited); a request id whose last command FAILED is sent again
    under a successor id, since the ledger keeps the first outcome of each id."""
    sent = await latest(session, request_id)
    if sent is not None and sent.status is OutboxStatus.FAILED:
        request_id = f"{request_id}:{sent.id}"
    command = await enqueue(
        session, service=SERVICE, command_type=command_type, request_id=request_id, payload=payload
    )
    await audit.record(
        session,
        event_type=AuditEventType.RECORD_CREATED,
        resource_type="OutboxCommand",
        resource_id=command.id,
        new={"commandType": command_type.value, "payload": payload},
    )
    return CommandAccepted(commandId=command.id, status=command.status)


async def state(session: AsyncSession) -> SystemState | None:
    return await session.get(SystemState, tenant_of(session, "the system state is a tenant's"))


# --------------------------------------------------------------------------------------------
# Bootstrap, pause, resume, status
# --------------------------------------------------------------------------------------------


async def bootstrap(session: AsyncSession) -> CommandAccepted:
    current = await state(session)
    if current is not None and current.bootstrapped:
        raise AlreadyBootstrapped("this tenant's ledger is already bootstrapped")
    return await send(session, C.BOOTSTRAP_SYSTEM, BOOTSTRAP_REQUEST_ID, {})


async def require_bootstrapped(session: AsyncSession) -> None:
    current = await state(session)
    if current is None or not current.bootstrapped:
        raise NotBootstrapped("bootstrap the tenant's ledger first (POST /admin/bootstrap)")


async def pause(session: AsyncSession, reason: str | None) -> CommandAccepted:
    await require_bootstrapped(session)
    current = await state(session)
    if current is not None and current.paused:
        raise AlreadyPaused("the system is already paused")
    payload = {"reason": reason} if reason else {}
    return await send(session, C.PAUSE_SYSTEM, f"pause-system:{new_uuid()}", payload)


async def resume(session: AsyncSession) -> CommandAccepted:
    current = await state(session)
    if current is None or not current.paused:
        raise NotPaused("the system is not paused")
    return await send(session, C.RESUME_SYSTEM, f"resume-system:{new_uuid()}", {})


async def status(session: AsyncSession) -> SystemStatus:
    current = await state(session)
    pending = (
        await session.scalars(
            select(OutboxCommand)
            .where(
                OutboxCommand.command_type.in_(_SYSTEM_COMMANDS),
                OutboxCommand.status.in_(_IN_FLIGHT),
            )
            .order_by(OutboxCommand.created_at, OutboxCommand.id)
            .limit(20)
        )
    ).all()
    return SystemStatus(
        bootstrapped=current is not None and current.bootstrapped,
        paused=current is not None and current.paused,
        pauseReason=current.pause_reason if current is not None else None,
        changedAt=current.changed_at if current is not None else None,
        pending=[
            PendingCommand(
                commandId=c.id, type=c.command_type, status=c.status, createdAt=c.created_at
            )
            for c in pending
        ],
    )


# --------------------------------------------------------------------------------------------
# Parameters
# --------------------------------------------------------------------------------------------


async def update_parameter(session: AsyncSession, key: str, raw: str) -> CommandAccepted:
    if key not in PARAMETER_RULES:
        why = (
            "is kept off the ledger and not changed here"
            if key in _BY_KEY
            else f"is unknown; the ledger keeps {', '.join(sorted(PARAMETER_RULES))}"
        )
        raise ValidationFailed(f"parameter {key!r} {why}", field="paramKey")
    rows = await session.execute(
        select(SystemParameter.param_key, SystemParameter.param_value).where(
            SystemParameter.param_key.in_(PARAMETER_RULES)
        )
    )
    current = {k: rule.default for k, rule in PARAMETER_RULES.items()} | {
        k: v for k, v in rows.all()
    }
    try:
        value = parameter_value(key, raw)
        check_parameters({**current, key: value})
    except Rejected as e:
        raise ValidationFailed(str(e), field="paramValue") from e
    payload = {"key": key, "value": value}
    return await send(session, C.UPDATE_SYSTEM_PARAMETER, f"parameter:{key}:{new_uuid()}", payload)


async def read_parameter(session: AsyncSession, key: str) -> ParameterRead:
    known = _BY_KEY.get(key)
    if known is None:
        raise ParameterNotFound(f"no parameter {key!r}", paramKey=key)
    row = await session.get(SystemParameter, (tenant_of(session, "parameters are a tenant's"), key))
    rule = PARAMETER_RULES.get(key)
    return ParameterRead(
        paramKey=key,
        paramValue=row.param_value if row is not None else known.default,
        default=rule.default if rule is not None else known.default,
        description=known.description,
        keptBy="ledger" if rule is not None else "gxcore",
        updatedAt=row.updated_at if row is not None else None,
    )


# --------------------------------------------------------------------------------------------
# Counters
# --------------------------------------------------------------------------------------------


async def _count(session: AsyncSession, model: Any) -> int:
    return await session.scalar(select(func.count()).select_from(model)) or 0


async def _grouped(session: AsyncSession, column: Any) -> dict[str, int]:
    rows = await session.execute(select(column, func.count()).group_by(column))
    return {getattr(k, "value", str(k)): n for k, n in rows.all()}


async def counters(session: AsyncSession) -> Counters:
    """Counts of the tenant's rows: one scan each, for a dashboard, not for a hot path."""
    return Counters(
        users=await _grouped(session, UserProfile.status),
        wallets=await _count(session, Wallet),
        transactions=await _count(session, Transaction),
        treasuries=await _count(session, TreasuryAccount),
        countries=await session.scalar(
            select(func.count(func.distinct(LegalTenderStatus.country_code)))
        )
        or 0,
        outbox=await _grouped(session, OutboxCommand.status),
        deadLetters=await _count(session, EventDLQ),
    )
