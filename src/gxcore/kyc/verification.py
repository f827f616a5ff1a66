"""KYC verifications: submission by the user, review by an administrator, expiry by a job.

A verification is PENDING from its first upload (gxcore.kyc.documents) and takes documents
until the user submits it: submission fixes the evidence (`evidenceHash`, a SHA-256 over the
documents' ids and hashes) and is audited KYC_SUBMITTED. An administrator then approves or
rejects it with a reason (KYC_APPROVED / KYC_REJECTED), and the user is told
(KYC_STATUS_UPDATE). Approval needs every document scanned clean and none expired: an infected
one blocks it (DOCUMENT_INFECTED). An APPROVED verification with an expired document is moved
to EXPIRED by `gx jobs kyc-expiry`. Every move goes through gxcore.db.lifecycle.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import Exists, exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from gxcore.audit import service as audit
from gxcore.db import pages
from gxcore.db.lifecycle import check, transition
from gxcore.enums import AuditEventType, DocumentType, KycStatus, NotificationType
from gxcore.errors import DocumentInfected, KycNotFound, KycNotReady
from gxcore.identity import users
from gxcore.identity.access import Principal
from gxcore.kyc.documents import documents_of, evidence, read, require_profile
from gxcore.kyc.models import KYCDocument, KYCVerification
from gxcore.kyc.scanner import ScanStatus
from gxcore.kyc.schemas import KycPage, KycRead
from gxcore.notifications.inbox import notify

EVIDENCE_MIME = "application/vnd.gx.kyc-evidence+json"


def _details(kyc: KYCVerification) -> dict[str, str]:
    try:
        found = json.loads(kyc.verifier_details or "{}")
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}


def to_read(kyc: KYCVerification, documents: Sequence[KYCDocument]) -> KycRead:
    details = _details(kyc)
    return KycRead(
        kycId=kyc.kyc_id,
        profileId=kyc.profile_id,
        status=kyc.status,
        submitted=kyc.evidence_hash is not None,
        evidenceHash=kyc.evidence_hash,
        evidenceSize=kyc.evidence_size,
        verifiedAt=kyc.verified_at,
        reviewedBy=details.get("reviewedBy"),
        reason=details.get("reason"),
        createdAt=kyc.created_at,
        updatedAt=kyc.updated_at,
        documents=[read(d) for d in documents],
    )


async def _saved(session: AsyncSession, kyc: KYCVerification) -> KycRead:
    await session.flush()
    await session.refresh(kyc, ["created_at", "updated_at"])
    return to_read(kyc, (await documents_of(session, [kyc.kyc_id]))[kyc.kyc_id])


async def get_or_raise(
    session: AsyncSession, kyc_id: str, *, lock: bool = False
) -> KYCVerification:
    kyc = await session.get(KYCVerification, kyc_id, with_for_update=lock)
    if kyc is None:
        raise KycNotFound("no such verification")
    return kyc


async def current(profile_id: str, *, session: AsyncSession, principal: Principal) -> KycRead:
    """The profile's latest verification, with its documents."""
    await require_profile(session, principal, profile_id)
    kyc = await session.scalar(
        select(KYCVerification)
        .where(KYCVerification.profile_id == profile_id)
        .order_by(KYCVerification.created_at.desc(), KYCVerification.kyc_id.desc())
        .limit(1)
    )
    if kyc is None:
        raise KycNotFound("this user has no verification yet: upload documents first")
    return to_read(kyc, (await documents_of(session, [kyc.kyc_id]))[kyc.kyc_id])


async def submit(profile_id: str, *, session: AsyncSession, principal: Principal) -> KycRead:
    """Submit the open verification for review: its documents become its evidence."""
    await require_profile(session, principal, profile_id, owner_only=True, lock=True)
    kyc = await session.scalar(
        select(KYCVerification)
        .where(
            KYCVerification.profile_id == profile_id,
            KYCVerification.status == KycStatus.PENDING,
            KYCVerification.evidence_hash.is_(None),
        )
        .with_for_update()
    )
    documents = (await documents_of(session, [kyc.kyc_id]))[kyc.kyc_id] if kyc else []
    if kyc is None or not documents:
        raise KycNotReady("nothing to submit: upload documents first")
    if any(d.virus_scan_status == ScanStatus.INFECTED for d in documents):
        raise DocumentInfected("an infected document cannot be submitted; delete it first")
    kyc.evidence_hash, kyc.evidence_size = evidence(documents)
    kyc.evidence_mime = EVIDENCE_MIME
    await audit.record(
        session,
        event_type=AuditEventType.KYC_SUBMITTED,
        resource_type="KYCVerification",
        resource_id=kyc.kyc_id,
        target_profile_id=profile_id,
        new={"evidenceHash": kyc.evidence_hash, "documents": len(documents)},
    )
    return await _saved(session, kyc)


# --------------------------------------------------------------------------------------------
# Review (administrators)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Review:
    session: AsyncSession
    admin: Principal
    now: datetime


async def list_page(
    session: AsyncSession,
    paging: pages.PageRequest,
    *,
    statuses: list[KycStatus] | None = None,
    submitted: bool | None = None,
) -> KycPage:
    """Oldest first (the review queue's order), in pages on (createdAt, kycId)."""
    stmt = select(KYCVerification)
    if statuses:
        stmt = stmt.where(KYCVerification.status.in_(statuses))
    if submitted is not None:
        col = KYCVerification.evidence_hash
        stmt = stmt.where(col.is_not(None) if submitted else col.is_(None))
    order = pages.Order.oldest_first(KYCVerification.created_at, KYCVerification.kyc_id)
    found = await pages.fetch_scalars(session, stmt, order, paging)
    docs = await documents_of(session, [k.kyc_id for k in found.rows])
    return KycPage.of(found, [to_read(k, docs[k.kyc_id]) for k in found.rows])


async def get(kyc_id: str, *, session: AsyncSession) -> KycRead:
    kyc = await get_or_raise(session, kyc_id)
    return to_read(kyc, (await documents_of(session, [kyc_id]))[kyc_id])


def _ready(kyc: KYCVerification, documents: Sequence[KYCDocument], today: date) -> None:
    if kyc.evidence_hash is None:
        raise KycNotReady("the user has not submitted this verification yet")
    if any(d.virus_scan_status == ScanStatus.INFECTED for d in documents):
        raise DocumentInfected("an infected document blocks approval")
    if any(d.virus_scan_status != ScanStatus.CLEAN for d in documents):
        raise KycNotReady("a document has not been scanned clean yet")
    if any(d.expiry_date is not None and d.expiry_date <= today for d in documents):
        raise KycNotReady("a document has expired")


async def approve(kyc_id: str, *, review: Review) -> KycRead:
    kyc = await get_or_raise(review.session, kyc_id, lock=True)
    check(kyc.status, KycStatus.APPROVED, what="KYCVerification")
    documents = (await documents_of(review.session, [kyc_id]))[kyc_id]
    _ready(kyc, documents, review.now.date())
    return await _decide(kyc, KycStatus.APPROVED, None, documents, review=review)


async def reject(kyc_id: str, reason: str, *, review: Review) -> KycRead:
    kyc = await get_or_raise(review.session, kyc_id, lock=True)
    documents = (await documents_of(review.session, [kyc_id]))[kyc_id]
    return await _decide(kyc, KycStatus.REJECTED, reason, documents, review=review)


async def _decide(
    kyc: KYCVerification,
    target: KycStatus,
    reason: str | None,
    documents: Sequence[KYCDocument],
    *,
    review: Review,
) -> KycRead:
    previous = kyc.status
    transition(kyc, target)
    kyc.verified_at = review.now
    details = {"reviewedBy": review.admin.profile_id} | ({"reason": reason} if reason else {})
    kyc.verifier_details = json.dumps(details)
    if target is KycStatus.APPROVED:
        for d in documents:
            d.verified_at, d.verified_by = review.now, review.admin.profile_id
            if d.document_type is DocumentType.NATIONAL_ID and d.document_number:
                await users.record_national_id(review.session, kyc.profile_id, d.document_number)
    approved = target is KycStatus.APPROVED
    await audit.record(
        review.session,
        event_type=AuditEventType.KYC_APPROVED if approved else AuditEventType.KYC_REJECTED,
        resource_type="KYCVerification",
        resource_id=kyc.kyc_id,
        target_profile_id=kyc.profile_id,
        previous={"status": previous.value},
        new={"status": target.value},
        metadata={"reason": reason} if reason else None,
    )
    await notify(
        review.session,
        profile_id=kyc.profile_id,
        type=NotificationType.KYC_STATUS_UPDATE,
        title="Identity verification approved" if approved else "Identity verification rejected",
        message="Your documents were verified."
        if approved
        else f"Your documents were not accepted: {reason}",
        resource_type="KYCVerification",
        resource_id=kyc.kyc_id,
    )
    return await _saved(review.session, kyc)


# --------------------------------------------------------------------------------------------
# Expiry (gx jobs kyc-expiry)
# --------------------------------------------------------------------------------------------


def _has_expired_document(today: date) -> Exists:
    return exists().where(
        KYCDocument.kyc_id == KYCVerification.kyc_id,
        KYCDocument.expiry_date <= today,
    )


async def due_for_expiry(
    session: AsyncSession, *, today: date, limit: int
) -> list[tuple[str, str]]:
    """(tenant, kycId) of APPROVED verifications holding an expired document, any tenant."""
    rows = await session.execute(
        select(KYCVerification.tenant_id, KYCVerification.kyc_id)
        .where(KYCVerification.status == KycStatus.APPROVED, _has_expired_document(today))
        .order_by(KYCVerification.tenant_id, KYCVerification.kyc_id)
        .limit(limit)
    )
    return [(t, k) for t, k in rows.all()]


async def expire(session: AsyncSession, kyc_id: str, *, today: date) -> bool:
    """Move one verification to EXPIRED (in its tenant's scope) and tell its user; False when
    it no longer qualifies (decided again meanwhile)."""
    kyc = await session.scalar(
        select(KYCVerification)
        .where(
            KYCVerification.kyc_id == kyc_id,
            KYCVerification.status == KycStatus.APPROVED,
            _has_expired_document(today),
        )
        .with_for_update()
    )
    if kyc is None:
        return False
    transition(kyc, KycStatus.EXPIRED)
    await notify(
        session,
        profile_id=kyc.profile_id,
        type=NotificationType.KYC_STATUS_UPDATE,
        title="Identity verification expired",
        message="A document of your verification has expired: upload a current one.",
        resource_type="KYCVerification",
        resource_id=kyc.kyc_id,
    )
    await session.flush()
    return True
