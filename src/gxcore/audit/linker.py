"""The audit linker: chains the entries writers committed unlinked, tenant by tenant.

Writers never wait for each other (`gxcore.audit.service`); the chain's order is decided here.
For each tenant with unlinked entries, under a transaction-scoped advisory lock that only
linkers take (a tenant another linker holds is skipped: it is being linked), `link` reads the
chain's last entry and the committed unlinked ones in `appendSeq` order, and gives each its
`chainSeq`, the previous entry's `eventHash` as `previousHash`, and its own `eventHash` over the
linked entry, one UPDATE per batch. Entries committing meanwhile are linked on the next pass, so
the chain's order is the order entries were found committed.

An entry is chained, so its removal or change detectable, from the moment it is linked; until
then its own hash covers only accidents. `gx api` runs an `AuditLinker` (a pass a second) and
`gx audit verify` links before it verifies, so the window stays short.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence

import asyncpg
from sqlalchemy import select, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from gxcore.audit.chain import entry_hash
from gxcore.audit.models import AuditLog
from gxcore.audit.service import STORED
from gxcore.db.arrays import packed, unpack
from gxcore.db.tenancy import Database

log = logging.getLogger(__name__)

# Advisory locks are one namespace per database; this first key keeps the linker's apart.
_LOCK_CLASS = 0x61756469  # "audi"
_TRY_LOCK = text("SELECT pg_try_advisory_xact_lock(:lock_class, hashtext(:tenant))")
_LINK = text(
    'UPDATE "AuditLog" AS a SET "chainSeq" = u.seq, "previousHash" = u.prev, "eventHash" = u.hash '
    f"FROM unnest({unpack('id')}, {unpack('seq', 'bigint')}, {unpack('prev')}, "
    f"{unpack('hash')}) AS u(id, seq, prev, hash) "
    'WHERE a."tenantId" = :tenant AND a."auditId" = u.id AND a."chainSeq" IS NULL'
)
_NAMES = [name for name, _ in STORED]


async def link(
    session: AsyncSession, tenant_id: str | None = None, *, batch_size: int = 1000
) -> int:
    """Link the committed unlinked entries of `tenant_id` (or of every tenant the session sees:
    the system scope, or the owner), in the session's transaction; returns how many."""
    if tenant_id is None:
        tenants: Sequence[str] = (
            await session.scalars(
                select(AuditLog.tenant_id).where(AuditLog.chain_seq.is_(None)).distinct()
            )
        ).all()
    else:
        tenants = [tenant_id]
    linked = 0
    for tenant in tenants:
        if await session.scalar(_TRY_LOCK, {"lock_class": _LOCK_CLASS, "tenant": tenant}):
            linked += await _link_tenant(session, tenant, batch_size)
    return linked


async def _link_tenant(session: AsyncSession, tenant: str, batch_size: int) -> int:
    last = (
        await session.execute(
            select(AuditLog.chain_seq, AuditLog.event_hash)
            .where(AuditLog.tenant_id == tenant, AuditLog.chain_seq.is_not(None))
            .order_by(AuditLog.chain_seq.desc())
            .limit(1)
        )
    ).first()
    seq, previous = (last.chain_seq, last.event_hash) if last else (0, None)
    linked = 0
    while True:
        rows = (
            await session.execute(
                select(*(column for _, column in STORED))
                .where(AuditLog.tenant_id == tenant, AuditLog.chain_seq.is_(None))
                .order_by(AuditLog.append_seq, AuditLog.audit_id)
                .limit(batch_size)
            )
        ).all()
        ids, seqs, links, hashes = [], [], [], []
        for row in rows:
            entry = dict(zip(_NAMES, row, strict=True))
            seq += 1
            entry["chainSeq"] = seq  # hashed as the entry will be stored
            event_hash = entry_hash(entry, previous)
            ids.append(entry["auditId"])
            seqs.append(str(seq))
            links.append(previous)
            hashes.append(event_hash)
            previous = event_hash
        if rows:
            await session.execute(
                _LINK, {"tenant": tenant, **packed(id=ids, seq=seqs, prev=links, hash=hashes)}
            )
            linked += len(rows)
        if len(rows) < batch_size:
            return linked


class AuditLinker:
    """Links every tenant's new entries every `interval` seconds until `stop()`."""

    def __init__(self, db: Database, *, interval: float = 1.0, batch_size: int = 1000) -> None:
        self.db = db
        self.interval = interval
        self.batch_size = batch_size
        self.linked = 0
        self._stop = asyncio.Event()

    async def run_once(self) -> int:
        async with self.db.system(reason="audit linker") as session:
            done = await link(session, batch_size=self.batch_size)
        self.linked += done
        return done

    async def run(self) -> int:
        """Link until `stop()`, then once more: what the last requests wrote is linked too."""
        while True:
            try:
                await self.run_once()
            except (SQLAlchemyError, OSError, asyncpg.PostgresError) as e:
                log.warning("audit linker: database error, retrying: %s", e)
            if self._stop.is_set():
                return self.linked
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), timeout=self.interval)

    def stop(self) -> None:
        self._stop.set()
