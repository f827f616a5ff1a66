"""KYC maintenance across tenants: expiry of verifications, scans still pending, stored files
no document names.

Each finds its work in the system scope, then acts on each row in its own tenant's scope
(notifications and audit entries are written in a tenant scope), one short transaction per row.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from gxcore.db.tenancy import Database
from gxcore.kyc import documents, verification
from gxcore.kyc.models import KYCDocument
from gxcore.kyc.scanner import ScanStatus
from gxcore.kyc.vault import Vault


async def expire_due(database: Database, *, now: datetime, batch: int) -> int:
    """Move every APPROVED verification holding an expired document to EXPIRED; how many."""
    today, moved = now.date(), 0
    while True:
        async with database.system(reason="job: kyc expiry") as session:
            due = await verification.due_for_expiry(session, today=today, limit=batch)
        for tenant, kyc_id in due:
            async with database.tenant(tenant) as session:
                moved += await verification.expire(session, kyc_id, today=today)
        if len(due) < batch:
            return moved


async def scan_pending(
    database: Database, vault: Vault, *, now: datetime, batch: int
) -> dict[str, int]:
    """Ask the scanner again about each document still `pending`; counts by outcome."""
    counts: dict[str, int] = {}
    async with database.system(reason="job: kyc scans pending") as session:
        rows = await session.execute(
            select(KYCDocument.tenant_id, KYCDocument.document_id)
            .where(KYCDocument.virus_scan_status == ScanStatus.PENDING)
            .order_by(KYCDocument.uploaded_at)
            .limit(batch)
        )
        pending = [(t, d) for t, d in rows.all()]
    for tenant, document_id in pending:
        async with database.tenant(tenant) as session:
            status = await documents.rescan(session, document_id, vault=vault, now=now)
        if status is not None:
            counts[status] = counts.get(status, 0) + 1
    return counts


async def remove_orphans(
    database: Database, vault: Vault, *, before: datetime, batch: int = 500
) -> int:
    """Remove stored files written before `before` that no document names (an upload whose
    transaction never committed, in a process that died before it could clean up), and
    abandoned partial uploads; how many. `before` leaves uploads in flight alone."""
    removed = vault.store.remove_abandoned_uploads(before)
    chunk: list[str] = []
    for address, written in vault.store.blobs():
        if written < before:
            chunk.append(address)
        if len(chunk) == batch:
            removed += await _remove_unnamed(database, vault, chunk)
            chunk = []
    return removed + await _remove_unnamed(database, vault, chunk)


async def _remove_unnamed(database: Database, vault: Vault, addresses: list[str]) -> int:
    if not addresses:
        return 0
    async with database.system(reason="job: kyc orphaned files") as session:
        named = set(
            await session.scalars(
                select(KYCDocument.storage_url).where(KYCDocument.storage_url.in_(addresses))
            )
        )
    unnamed = [a for a in addresses if a not in named]
    for address in unnamed:
        vault.store.delete(address)
    return len(unnamed)
