"""A user's KYC documents: upload, list, signed download links, delete.

- upload: the owner only. The documents join the user's open verification (PENDING, not yet
  submitted), opened here when there is none; each is sealed into the store as it streams in
  (gxcore.kyc.upload), scanned, and recorded with its hash, size, detected type, wrapped key and
  scan status. If the transaction does not commit, the blobs written are removed.
- A document that names `replacesDocumentId` is the next version of that one (same type, same
  owner, each version replaced once).
- link: a signed URL to `GET /documents/{id}/content`, for the owner or an administrator, of
  a document scanned clean; the download checks the signature, then the bytes end to end.
- delete: the owner, while the verification is open; its blob goes when the deletion commits.
Another user's or tenant's document is, for the caller, one that does not exist (404).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import datetime, timedelta

from pydantic import ValidationError as PydanticError
from sqlalchemy import event, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from gxcore.admin.models import Country
from gxcore.db import pages
from gxcore.db.scope import tenant_of
from gxcore.enums import DocumentType, KycStatus
from gxcore.errors import (
    Conflict,
    DocumentInfected,
    DocumentLocked,
    DocumentNotFound,
    DocumentUnavailable,
    Forbidden,
    NationalIdInUse,
    ScannerUnavailable,
    UserNotFound,
    ValidationFailed,
)
from gxcore.identity.access import Principal
from gxcore.identity.users import get_or_raise
from gxcore.kyc import national_id
from gxcore.kyc.models import KYCDocument, KYCVerification
from gxcore.kyc.scanner import ScanStatus
from gxcore.kyc.schemas import DocumentFields, DocumentPage, DocumentRead
from gxcore.kyc.upload import Received
from gxcore.kyc.vault import StoredRef, Vault


def read(d: KYCDocument) -> DocumentRead:
    return DocumentRead(
        documentId=d.document_id,
        kycId=d.kyc_id,
        documentType=d.document_type,
        documentNumber=d.document_number,
        issuingCountry=d.issuing_country,
        issuedDate=d.issued_date,
        expiryDate=d.expiry_date,
        fileHash=d.file_hash,
        fileSize=d.file_size,
        mimeType=d.mime_type,
        virusScanStatus=d.virus_scan_status,
        virusScanDate=d.virus_scan_date,
        version=d.version,
        replacesDocumentId=d.replaces_document_id,
        uploadedAt=d.uploaded_at,
        verifiedAt=d.verified_at,
    )


def ref(d: KYCDocument) -> StoredRef:
    if d.encryption_key is None:
        raise DocumentUnavailable("this document has no key to open it with")
    return StoredRef(d.tenant_id, d.document_id, d.storage_url, d.encryption_key, d.file_hash)


async def require_profile(
    session: AsyncSession,
    principal: Principal,
    profile_id: str,
    *,
    owner_only: bool = False,
    lock: bool = False,
) -> None:
    """404 for a profile the caller may not see (or that this tenant has not); 403 for an
    administrator doing what only the owner may. `lock` holds the profile's row to the end of
    the transaction: one owner's writes to their verification go one at a time."""
    if not principal.may_see(profile_id):
        raise UserNotFound("no such user")
    await get_or_raise(session, profile_id, lock=lock)
    if owner_only and principal.profile_id != profile_id:
        raise Forbidden("only the user may do this with their documents")


def after(session: AsyncSession, outcome: str, action: Callable[[], None]) -> None:
    """Run `action` once the session's transaction ends in `outcome` (commit or rollback)."""

    def run(_: Session) -> None:
        action()

    event.listen(session.sync_session, f"after_{outcome}", run, once=True)


# --------------------------------------------------------------------------------------------
# Upload
# --------------------------------------------------------------------------------------------


async def open_verification(session: AsyncSession, profile_id: str) -> KYCVerification:
    """The user's verification still taking documents, opened when there is none (callers hold
    the profile's lock, so two uploads never open two)."""
    found = await session.scalar(
        select(KYCVerification)
        .where(
            KYCVerification.profile_id == profile_id,
            KYCVerification.status == KycStatus.PENDING,
            KYCVerification.evidence_hash.is_(None),
        )
        .order_by(KYCVerification.created_at.desc())
        .limit(1)
        .with_for_update()
    )
    if found is None:
        found = KYCVerification(profile_id=profile_id, status=KycStatus.PENDING)
        session.add(found)
        await session.flush()
    return found


def fields_per_file(received: Received) -> list[DocumentFields]:
    """Each form field is given once (for every file) or once per file, in the files' order."""
    count = len(received.files)
    per_file: list[dict[str, str]] = [{} for _ in range(count)]
    for name, values in received.fields.items():
        if len(values) not in (1, count):
            raise ValidationFailed(
                f"form field {name!r} is given {len(values)} times for {count} files",
                field=name,
            )
        for i in range(count):
            per_file[i][name] = values[0] if len(values) == 1 else values[i]
    try:
        return [DocumentFields.model_validate(values) for values in per_file]
    except PydanticError as e:
        first = e.errors()[0]
        name = ".".join(str(p) for p in first["loc"]) or "body"
        raise ValidationFailed(f"form field {name}: {first['msg']}", field=name) from e


async def _number_for(session: AsyncSession, profile_id: str, meta: DocumentFields) -> str | None:
    if meta.issuingCountry is not None and await session.get(Country, meta.issuingCountry) is None:
        raise ValidationFailed(f"unknown country {meta.issuingCountry}", field="issuingCountry")
    if meta.documentType is not DocumentType.NATIONAL_ID:
        return meta.documentNumber
    if meta.issuingCountry is None or meta.documentNumber is None:
        raise ValidationFailed(
            "a national id needs its issuingCountry and documentNumber", field="documentNumber"
        )
    checked = national_id.check_format(meta.issuingCountry, meta.documentNumber)
    await national_id.lock(session, checked)  # two users uploading one number: one waits
    holder = await national_id.holder(session, checked)
    if holder is not None and holder != profile_id:
        raise NationalIdInUse("this national id belongs to another user")
    return checked.number


async def _replaced(
    session: AsyncSession, profile_id: str, meta: DocumentFields
) -> KYCDocument | None:
    if meta.replacesDocumentId is None:
        return None
    old = await _document(session, meta.replacesDocumentId, lock=True)
    if old is None or old[1] != profile_id:
        raise DocumentNotFound("no such document to replace")
    document = old[0]
    if document.document_type is not meta.documentType:
        raise ValidationFailed(
            f"a {document.document_type.value} is replaced by another, not by a "
            f"{meta.documentType.value}",
            field="documentType",
        )
    newer = await session.scalar(
        select(KYCDocument.document_id).where(
            KYCDocument.replaces_document_id == document.document_id
        )
    )
    if newer is not None:
        raise Conflict("this document was replaced already; replace its newest version")
    return document


async def upload(
    profile_id: str,
    received: Received,
    *,
    session: AsyncSession,
    vault: Vault,
    now: datetime,
) -> list[DocumentRead]:
    """Record the documents `received` (already sealed into the store) for the profile; the
    caller checked the owner with `require_profile(owner_only=True)` before reading the body,
    and removes the blobs if this transaction does not commit."""
    tenant = tenant_of(session, "documents are uploaded in a tenant scope")
    await get_or_raise(session, profile_id, lock=True)  # taken after the body streamed in
    kyc = await open_verification(session, profile_id)
    rows = []
    for got, meta in zip(received.files, fields_per_file(received), strict=True):
        if meta.expiryDate is not None and meta.expiryDate <= now.date():
            raise ValidationFailed("this document has expired", field="expiryDate")
        number = await _number_for(session, profile_id, meta)
        old = await _replaced(session, profile_id, meta)
        intake = got.intake
        assert intake.address is not None
        stored = StoredRef(tenant, intake.document_id, intake.address, intake.wrapped_key,
                           intake.file_hash)  # fmt: skip
        status, scanned_at = await _scan(vault, stored, now)
        row = KYCDocument(
            document_id=intake.document_id,
            kyc_id=kyc.kyc_id,
            document_type=meta.documentType,
            document_number=number,
            issuing_country=meta.issuingCountry,
            issued_date=meta.issuedDate,
            expiry_date=meta.expiryDate,
            storage_url=intake.address,
            file_hash=intake.file_hash,
            file_size=intake.size,
            mime_type=got.mime_type,
            encryption_key=intake.wrapped_key,
            virus_scan_status=status,
            virus_scan_date=scanned_at,
            version=old.version + 1 if old else 1,
            replaces_document_id=old.document_id if old else None,
        )
        session.add(row)
        await session.flush()  # the next file's replacement may name this one
        rows.append(row)
    for row in rows:
        await session.refresh(row, ["uploaded_at"])
    return [read(r) for r in rows]


async def _scan(vault: Vault, stored: StoredRef, now: datetime) -> tuple[str, datetime | None]:
    try:
        verdict = await vault.scan(stored)
    except ScannerUnavailable:
        return ScanStatus.PENDING, None  # `gx jobs kyc-scan` asks again
    return verdict.status, now


async def rescan(
    session: AsyncSession, document_id: str, *, vault: Vault, now: datetime
) -> str | None:
    """Scan a pending document again (`gx jobs kyc-scan`): its status, or None when gone."""
    found = await _document(session, document_id, lock=True)
    if found is None:
        return None
    document = found[0]
    if document.virus_scan_status == ScanStatus.PENDING:
        document.virus_scan_status, document.virus_scan_date = await _scan(
            vault, ref(document), now
        )
    return document.virus_scan_status


# --------------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------------


async def _document(
    session: AsyncSession, document_id: str, *, lock: bool = False
) -> tuple[KYCDocument, str] | None:
    """The document and its owner's profile id."""
    stmt = (
        select(KYCDocument, KYCVerification.profile_id)
        .join(KYCVerification, KYCVerification.kyc_id == KYCDocument.kyc_id)
        .where(KYCDocument.document_id == document_id)
    )
    if lock:
        stmt = stmt.with_for_update(of=KYCDocument).execution_options(populate_existing=True)
    found = (await session.execute(stmt)).first()
    return None if found is None else (found[0], found[1])


async def get_visible(
    session: AsyncSession, principal: Principal, document_id: str, *, lock: bool = False
) -> tuple[KYCDocument, str]:
    found = await _document(session, document_id, lock=lock)
    if found is None or not principal.may_see(found[1]):
        raise DocumentNotFound("no such document")
    return found


async def documents_of(session: AsyncSession, kyc_ids: list[str]) -> dict[str, list[KYCDocument]]:
    rows = await session.scalars(
        select(KYCDocument)
        .where(KYCDocument.kyc_id.in_(kyc_ids))
        .order_by(KYCDocument.uploaded_at, KYCDocument.document_id)
    )
    out: dict[str, list[KYCDocument]] = {k: [] for k in kyc_ids}
    for row in rows:
        out[row.kyc_id].append(row)
    return out


#: Newest first; one instant's documents by id.
_NEWEST = pages.Order(((KYCDocument.uploaded_at, True), (KYCDocument.document_id, False)))


async def list_for(
    profile_id: str, *, session: AsyncSession, principal: Principal, paging: pages.PageRequest
) -> DocumentPage:
    """The profile's documents, newest first (every version), in pages."""
    await require_profile(session, principal, profile_id)
    query = (
        select(KYCDocument)
        .join(KYCVerification, KYCVerification.kyc_id == KYCDocument.kyc_id)
        .where(KYCVerification.profile_id == profile_id)
    )
    found = await pages.fetch_scalars(session, query, _NEWEST, paging)
    return DocumentPage.of(found, [read(r) for r in found.rows])


def servable(document: KYCDocument) -> None:
    """Only a document scanned clean is ever served."""
    if document.virus_scan_status == ScanStatus.INFECTED:
        raise DocumentInfected("this document is infected and is never served")
    if document.virus_scan_status != ScanStatus.CLEAN:
        raise DocumentUnavailable("this document has not been scanned clean yet; try later")


async def link(
    document_id: str, *, session: AsyncSession, principal: Principal, vault: Vault, now: datetime
) -> tuple[str, int, datetime]:
    """(tenant, expiry as a unix time, its instant) for a signed link to the document."""
    document, _ = await get_visible(session, principal, document_id)
    servable(document)
    expires = now + timedelta(seconds=vault.url_ttl_seconds)
    return document.tenant_id, int(expires.timestamp()), expires


async def download_ref(session: AsyncSession, document_id: str) -> tuple[StoredRef, str]:
    """What a download reads, once its link's signature held: a clean document's reference,
    and its type."""
    found = await _document(session, document_id)
    if found is None:
        raise DocumentNotFound("no such document")
    servable(found[0])
    return ref(found[0]), found[0].mime_type


# --------------------------------------------------------------------------------------------
# Delete
# --------------------------------------------------------------------------------------------


async def delete(
    document_id: str, *, session: AsyncSession, principal: Principal, vault: Vault
) -> None:
    _, owner = await get_visible(session, principal, document_id)
    if owner != principal.profile_id:
        raise Forbidden("only the user may delete their documents")
    # The owner's lock first, as upload and submit take it: no submission slips in between.
    await get_or_raise(session, owner, lock=True)
    document, _ = await get_visible(session, principal, document_id, lock=True)
    kyc = await session.get(KYCVerification, document.kyc_id)
    assert kyc is not None
    if kyc.status is not KycStatus.PENDING or kyc.evidence_hash is not None:
        raise DocumentLocked("the verification was submitted: its documents are kept as evidence")
    newer = await session.scalar(
        select(KYCDocument).where(KYCDocument.replaces_document_id == document.document_id)
    )
    if newer is not None:
        newer.replaces_document_id = None  # the chain closes over the gap: it was never sent
        newer.version = document.version
    address = document.storage_url
    await session.delete(document)
    await session.flush()
    after(session, "commit", lambda: vault.store.delete(address))


def evidence(documents: list[KYCDocument]) -> tuple[str, int]:
    """The submitted set as one hash (over each document's id and fileHash) and its size."""
    manifest = json.dumps(sorted((d.document_id, d.file_hash) for d in documents))
    return hashlib.sha256(manifest.encode()).hexdigest(), sum(d.file_size for d in documents)
