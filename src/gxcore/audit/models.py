"""audit models.

`chainSeq`, `previousHash` and `appendSeq` are gxcore's additions (docs/schema.md, "Added columns"):
each tenant's entries form a hash chain in `chainSeq` order (`gxcore.audit.chain`), linked after
commit in `appendSeq` order by `gxcore.audit.linker`.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, text
from sqlalchemy.orm import Mapped, mapped_column

from gxcore.db.base import NOW, Base, Json, TenantScoped, new_uuid
from gxcore.enums import AuditEventType


class AuditLog(TenantScoped, Base):
    __tablename__ = "AuditLog"
    __table_args__ = (
        Index(None, "tenant_id", "event_type", "timestamp"),
        Index(None, "tenant_id", "actor_profile_id", "timestamp"),
        Index(None, "tenant_id", "target_profile_id", "timestamp"),
        Index(None, "tenant_id", "ip_address", "timestamp"),  # per-address rate limits
        Index(None, "tenant_id", "resource_type", "resource_id"),
        Index(None, "timestamp"),
        Index(None, "tenant_id", "chain_seq", unique=True),
        Index(None, "tenant_id", "append_seq", postgresql_where=text('"chainSeq" IS NULL')),
    )
    audit_id: Mapped[str] = mapped_column(primary_key=True, default=new_uuid)
    tenant_id: Mapped[str]
    event_type: Mapped[AuditEventType]
    actor_profile_id: Mapped[str | None]
    target_profile_id: Mapped[str | None]
    resource_type: Mapped[str | None]
    resource_id: Mapped[str | None]
    ip_address: Mapped[str | None]
    user_agent: Mapped[str | None]
    device_id: Mapped[str | None]
    session_id: Mapped[str | None]
    previous_value: Mapped[Json | None]
    new_value: Mapped[Json | None]
    meta: Mapped[Json | None] = mapped_column("metadata")
    event_hash: Mapped[str]
    #: Position in the tenant's chain: 1, 2, 3... with no gaps; NULL until linked.
    chain_seq: Mapped[int | None] = mapped_column(BigInteger)
    #: eventHash of the entry at chainSeq - 1; NULL for the first (and until linked).
    previous_hash: Mapped[str | None]
    #: Order of writing, from a sequence: the order the linker links committed entries in.
    append_seq: Mapped[int | None] = mapped_column(
        BigInteger, server_default=text("nextval('\"AuditLogAppendOrder\"'::regclass)")
    )
    timestamp: Mapped[datetime] = mapped_column(server_default=NOW)
