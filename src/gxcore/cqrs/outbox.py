"""The transactional outbox: commands for the ledger, written in the caller's transaction.

A service that changes state and needs the ledger to act calls `enqueue` before its unit of work
commits, so the state change and the command commit or vanish together; the relay delivers the
command later. `(tenantId, requestId)` is the idempotency key: the same key with the same command
returns the first row; with a different command it is an `IdempotencyConflict`.

A command sent again after a failure goes under a successor of its request id,
`<request id>:<suffix>` (the ledger keeps the first outcome of each id); `latest` finds the newest
of a request id and its successors.

With tracing on, `enqueue` runs in an `outbox.enqueue` span (a child of the request's) and
stores that span's W3C `traceparent` with the command: the relay, the ledger and the projector
continue the trace from it (gxcore.tracing).
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import func, literal, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from gxcore import logs, tracing
from gxcore.cqrs.models import OutboxCommand
from gxcore.db.base import new_cuid
from gxcore.db.scope import tenant_of
from gxcore.enums import CommandType
from gxcore.errors import IdempotencyConflict, ValidationFailed

#: Channel the relay LISTENs on; a notification only wakes it early, polling still finds work.
NOTIFY_CHANNEL = "gx_outbox"

#: A subquery locking the commands whose ids `{ids}` (a text[] expression) names, of the tenants
#: `{tenants}` (another), in id order. Every statement that updates in-flight commands in bulk
#: (the relay's record, the projector's COMMITTED marks) joins it on ("tenantId", "id"), so
#: their row locks are all taken in one order and cannot deadlock: PostgreSQL locks the rows as
#: the sorted subquery yields them, before the update reaches them. The tenants let both reach
#: the rows through the primary key, ("tenantId", "id").
LOCK_IN_ID_ORDER = (
    'SELECT "tenantId", "id" FROM "OutboxCommand" '
    'WHERE "tenantId" = ANY({tenants}) AND "id" = ANY({ids}) ORDER BY "id", "tenantId" FOR UPDATE'
)


async def enqueue(
    session: AsyncSession,
    *,
    service: str,
    command_type: CommandType,
    request_id: str,
    payload: dict[str, Any],
    tenant_id: str | None = None,
) -> OutboxCommand:
    """Add a PENDING command for the scope's tenant (or `tenant_id` in the system scope)."""
    tenant_id = tenant_id or tenant_of(
        session, "enqueue needs a tenant scope, or an explicit tenant_id"
    )
    if not request_id:
        raise ValidationFailed("a command needs a request id (its idempotency key)")
    try:
        # Round-trip through JSON: what jsonb will store, and a clear error for what it cannot.
        payload = json.loads(json.dumps(payload))
    except (TypeError, ValueError) as e:
        raise ValidationFailed(f"command payload is not JSON: {e}") from e
    if not tracing.enabled():
        return await _insert(session, tenant_id, service, command_type, request_id, payload, {})

    command_id = new_cuid()  # known before the insert, so the span names it from the start
    with tracing.tracer().start_as_current_span(
        f"outbox.enqueue {command_type.value}",
        kind=tracing.SpanKind.PRODUCER,
        attributes={
            tracing.COMMAND_ID: command_id,
            tracing.TENANT: tenant_id,
            "gx.command_type": command_type.value,
            "gx.request_id": request_id,
        },
    ) as span:
        traced = {"id": command_id, "traceparent": tracing.traceparent(span)}
        row = await _insert(session, tenant_id, service, command_type, request_id, payload, traced)
        if row.id != command_id:  # the request id was used before: the first command stands
            span.set_attribute(tracing.COMMAND_ID, row.id)
            span.set_attribute("gx.replayed", True)
        return row


async def _insert(
    session: AsyncSession,
    tenant_id: str,
    service: str,
    command_type: CommandType,
    request_id: str,
    payload: dict[str, Any],
    traced: dict[str, Any],
) -> OutboxCommand:
    """The command's row: a new one, or the one already under `request_id` if it is the same
    command. `traced` adds the id and trace context chosen by a traced `enqueue`."""
    # The relay's wake-up rides on the insert's RETURNING: no round trip of its own, and none
    # when the request id was used before (nothing new to deliver).
    inserted = await session.scalar(
        insert(OutboxCommand)
        .values(
            tenant_id=tenant_id,
            service=service,
            command_type=command_type,
            request_id=request_id,
            payload=payload,
            **traced,
        )
        .on_conflict_do_nothing(index_elements=["tenantId", "requestId"])
        .returning(OutboxCommand, _notify(OutboxCommand.tenant_id))
    )
    if inserted is not None:
        logs.note(command_id=inserted.id)
        return inserted

    existing = await session.scalar(
        select(OutboxCommand).where(
            OutboxCommand.tenant_id == tenant_id, OutboxCommand.request_id == request_id
        )
    )
    assert existing is not None  # the conflicting row is visible: same tenant, committed or ours
    if (existing.service, existing.command_type, existing.payload) != (
        service,
        command_type,
        payload,
    ):
        raise IdempotencyConflict(
            f"request {request_id!r} was already used for another command "
            f"({existing.command_type.value} {existing.id})",
            command_id=existing.id,
        )
    logs.note(command_id=existing.id)
    return existing


def _notify(tenant_id: Any) -> Any:
    """`pg_notify` of `tenant_id` (a value or a column) on the relay's channel: delivered to
    listening relays once the transaction commits."""
    return func.pg_notify(literal(NOTIFY_CHANNEL), tenant_id)


async def wake_relay(session: AsyncSession, tenant_id: str) -> None:
    """Tell listening relays, once the transaction commits, that `tenant_id` has work due."""
    await session.execute(select(_notify(tenant_id)))


async def latest(session: AsyncSession, request_id: str) -> OutboxCommand | None:
    """The scope's newest command under `request_id` or one of its successors."""
    return await session.scalar(
        select(OutboxCommand)
        .where(
            (OutboxCommand.request_id == request_id)
            | OutboxCommand.request_id.startswith(f"{request_id}:", autoescape=True)
        )
        .order_by(OutboxCommand.created_at.desc(), OutboxCommand.id.desc())
        .limit(1)
    )
