"""Enqueueing commands: atomic with the caller's transaction and idempotent on the request id."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import func, select

from gxcore.cqrs.models import OutboxCommand
from gxcore.cqrs.outbox import enqueue
from gxcore.db.tenancy import Database
from gxcore.enums import CommandType, OutboxStatus
from gxcore.errors import IdempotencyConflict, ValidationFailed

PAYLOAD = {"userId": "u-1", "nationality": "NG", "amount": "12.500000000"}


async def _count(db: Database, tenant: str) -> int:
    async with db.tenant(tenant) as session:
        return await session.scalar(select(func.count()).select_from(OutboxCommand))


async def test_same_request_twice_returns_the_first_command(db: Database, tenant: str) -> None:
    async with db.tenant(tenant) as session:
        first = await enqueue(
            session, service="identity", command_type=CommandType.CREATE_USER,
            request_id="r-1", payload=PAYLOAD,
        )  # fmt: skip
    async with db.tenant(tenant) as session:
        again = await enqueue(
            session, service="identity", command_type=CommandType.CREATE_USER,
            request_id="r-1", payload=dict(PAYLOAD),
        )  # fmt: skip
    assert again.id == first.id and again.status is OutboxStatus.PENDING
    assert await _count(db, tenant) == 1


async def test_same_request_with_another_payload_is_a_conflict(db: Database, tenant: str) -> None:
    async with db.tenant(tenant) as session:
        await enqueue(
            session, service="identity", command_type=CommandType.CREATE_USER,
            request_id="r-1", payload=PAYLOAD,
        )  # fmt: skip
    with pytest.raises(IdempotencyConflict) as raised:
        async with db.tenant(tenant) as session:
            await enqueue(
                session, service="wallet", command_type=CommandType.TRANSFER_TOKENS,
                request_id="r-1", payload={"amount": "1"},
            )  # fmt: skip
    assert raised.value.code == "IDEMPOTENCY_CONFLICT"
    assert await _count(db, tenant) == 1


async def test_the_command_rolls_back_with_the_callers_transaction(
    db: Database, tenant: str
) -> None:
    with pytest.raises(RuntimeError):
        async with db.tenant(tenant) as session:
            await enqueue(
                session, service="identity", command_type=CommandType.CREATE_USER,
                request_id="r-1", payload=PAYLOAD,
            )  # fmt: skip
            raise RuntimeError("the use case failed after enqueueing")
    assert await _count(db, tenant) == 0


async def test_request_ids_are_scoped_per_tenant(db: Database, tenant: str) -> None:
    other = f"o-{uuid.uuid4().hex[:10]}"
    for current in (tenant, other):
        async with db.tenant(current) as session:
            await enqueue(
                session, service="identity", command_type=CommandType.CREATE_USER,
                request_id="shared", payload=PAYLOAD,
            )  # fmt: skip
    assert await _count(db, tenant) == 1 and await _count(db, other) == 1


async def test_payloads_must_be_json(db: Database, tenant: str) -> None:
    with pytest.raises(ValidationFailed, match="not JSON"):
        async with db.tenant(tenant) as session:
            await enqueue(
                session, service="identity", command_type=CommandType.CREATE_USER,
                request_id="r-1", payload={"when": object()},
            )  # fmt: skip
    assert await _count(db, tenant) == 0
