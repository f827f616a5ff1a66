"""cqrs models."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, text
from sqlalchemy.orm import Mapped, mapped_column

from gxcore.db.base import NOW, Base, Json, TenantScoped, UpdatedAt, Versioned, new_cuid
from gxcore.enums import CommandType, OutboxStatus


class OutboxCommand(TenantScoped, Versioned, Base):
    __tablename__ = "OutboxCommand"
    __table_args__ = (
        Index(None, "tenant_id", "request_id", unique=True),
        Index(None, "status", "created_at"),
        Index(None, "tenant_id", "status"),
        Index(None, "fabric_tx_id"),
        # The relay's claim: commands still in flight, by due time (revision a2b3c4d5e6f7).
        Index(
            None,
            "next_attempt_at",
            postgresql_where=text("status IN ('PENDING', 'LOCKED', 'SUBMITTED')"),
        ),
    )
    id: Mapped[str] = mapped_column(primary_key=True, default=new_cuid)
    tenant_id: Mapped[str]
    service: Mapped[str]
    command_type: Mapped[CommandType]
    request_id: Mapped[str]
    payload: Mapped[Json]
    status: Mapped[OutboxStatus] = mapped_column(server_default="PENDING")
    attempts: Mapped[int] = mapped_column(server_default=text("0"))
    locked_by: Mapped[str | None]
    locked_at: Mapped[datetime | None]
    submitted_at: Mapped[datetime | None]
    fabric_tx_id: Mapped[str | None]
    commit_block: Mapped[int | None] = mapped_column(BigInteger)
    error_code: Mapped[str | None]
    error: Mapped[str | None]
    created_at: Mapped[datetime] = mapped_column(server_default=NOW)
    updated_at: Mapped[UpdatedAt]
    #: When the relay may (re)try it: the backoff's end for PENDING, the lease's end for LOCKED.
    next_attempt_at: Mapped[datetime] = mapped_column(server_default=NOW)
    #: W3C trace context of the span that enqueued it (gxcore.tracing); NULL with tracing off.
    traceparent: Mapped[str | None]


class ProjectorState(TenantScoped, Base):
    __tablename__ = "ProjectorState"
    tenant_id: Mapped[str] = mapped_column(primary_key=True)
    projector_name: Mapped[str] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(primary_key=True)
    last_block: Mapped[int] = mapped_column(BigInteger)
    last_event_index: Mapped[int]
    updated_at: Mapped[UpdatedAt]


class ProjectorClaim(TenantScoped, Base):
    """Which projector process feeds a tenant's read models on a channel: one owner at a time,
    for as long as it renews its lease (gxcore.cqrs.claims)."""

    __tablename__ = "ProjectorClaim"
    tenant_id: Mapped[str] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(primary_key=True)
    projector_name: Mapped[str]
    owner_id: Mapped[str]
    claimed_at: Mapped[datetime] = mapped_column(server_default=NOW)
    heartbeat_at: Mapped[datetime] = mapped_column(server_default=NOW)
    expires_at: Mapped[datetime]


class HttpIdempotency(TenantScoped, Base):
    """A response kept under its client's Idempotency-Key (`gxcore.cqrs.idempotency`)."""

    __tablename__ = "HttpIdempotency"
    __table_args__ = (Index(None, "ttl_expires_at"),)
    tenant_id: Mapped[str] = mapped_column(primary_key=True)
    #: Whose key it is: keys are the client's choice, so one user's never answers another's.
    profile_id: Mapped[str] = mapped_column(primary_key=True)
    method: Mapped[str] = mapped_column(primary_key=True)
    path: Mapped[str] = mapped_column(primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(primary_key=True)
    body_hash: Mapped[str]
    response_body: Mapped[Json]
    response_headers: Mapped[Json | None]
    status_code: Mapped[int]
    created_at: Mapped[datetime] = mapped_column(server_default=NOW)
    ttl_expires_at: Mapped[datetime | None]


class EventLog(TenantScoped, Base):
    __tablename__ = "EventLog"
    __table_args__ = (
        Index(None, "fabric_tx_id"),
        Index(None, "tenant_id", "event_name"),
        # An event's position, once: the projector can never append (apply) it twice. It also
        # serves the reference's (tenantId, blockNumber) lookups, whose index it replaces.
        Index(None, "tenant_id", "block_number", "event_index", "channel", unique=True),
    )
    id: Mapped[str] = mapped_column(primary_key=True, default=new_cuid)
    tenant_id: Mapped[str]
    fabric_tx_id: Mapped[str]
    block_number: Mapped[int] = mapped_column(BigInteger)
    # gxcore's addition (revision b4c5d6e7f8a9): the index within the block; NULL on older rows.
    event_index: Mapped[int | None]
    channel: Mapped[str]
    chaincode: Mapped[str]
    event_name: Mapped[str]
    event_version: Mapped[str]
    payload: Mapped[Json]
    tx_timestamp: Mapped[datetime]
    ingested_at: Mapped[datetime] = mapped_column(server_default=NOW)


class EventDLQ(TenantScoped, Base):
    __tablename__ = "EventDLQ"
    __table_args__ = (Index(None, "tenant_id", "created_at"),)
    id: Mapped[str] = mapped_column(primary_key=True, default=new_cuid)
    tenant_id: Mapped[str]
    reason: Mapped[str]
    raw_payload: Mapped[Json]
    fabric_tx_id: Mapped[str | None]
    block_number: Mapped[int | None] = mapped_column(BigInteger)
    # gxcore's addition (revision d1a2b3c4e5f6): with blockNumber, the event's position on the
    # ledger, which replay reads it from; NULL on rows of a database built from the reference.
    event_index: Mapped[int | None]
    channel: Mapped[str | None]
    chaincode: Mapped[str | None]
    created_at: Mapped[datetime] = mapped_column(server_default=NOW)
