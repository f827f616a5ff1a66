"""/api/v1: KYC verifications and documents for their users, and national-id validation.

Uploads are `multipart/form-data`, read as a stream (gxcore.kyc.upload), never through a body
model. Downloads are by signed link only: `GET /documents/{id}/url` issues one, and
`GET /documents/{id}/content` serves the document when its signature and expiry hold (no
bearer token: the link is the capability), after checking the bytes end to end.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from gxcore.admin.service import require_tenant
from gxcore.bodies import Ident
from gxcore.db.scope import valid_tenant_id
from gxcore.enums import DocumentType
from gxcore.errors import DocumentLinkExpired, DocumentNotFound, GxError, NationalIdInvalid
from gxcore.http import (
    CREATED,
    NO_CONTENT,
    Now,
    Paging,
    Session,
    app_context,
    tenant_id,
    tenant_transaction,
)
from gxcore.identity.principal import Credentials, CurrentUser, current_principal
from gxcore.kyc import documents, national_id, verification
from gxcore.kyc.schemas import (
    DocumentConstraints,
    DocumentPage,
    DocumentRead,
    DocumentUrl,
    KycRead,
    NationalIdCheck,
    NationalIdResult,
)
from gxcore.kyc.upload import ALLOWED_TYPES, receive
from gxcore.kyc.vault import Vault

router = APIRouter(tags=["kyc"])


def vault_of(request: Request) -> Vault:
    vault: Vault = request.app.state.kyc
    return vault


DocumentVault = Annotated[Vault, Depends(vault_of)]

_FIELD = {"type": "string"}
UPLOAD_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["files", "documentType"],
                    "properties": {
                        "files": {
                            "type": "array",
                            "items": {"type": "string", "format": "binary"},
                            "description": "one part per document",
                        },
                        "documentType": {
                            "type": "string",
                            "enum": [t.value for t in DocumentType],
                            "description": "once for every file, or once per file in order",
                        },
                        "documentNumber": _FIELD,
                        "issuingCountry": _FIELD,
                        "issuedDate": {"type": "string", "format": "date"},
                        "expiryDate": {"type": "string", "format": "date"},
                        "replacesDocumentId": _FIELD,
                    },
                }
            }
        },
    }
}


@router.post("/users/{profile_id}/kyc")
async def submit(profile_id: Ident, user: CurrentUser, session: Session) -> KycRead:
    """Submit the open verification (its uploaded documents) for review."""
    return await verification.submit(profile_id, session=session, principal=user)


@router.get("/users/{profile_id}/kyc")
async def current(profile_id: Ident, user: CurrentUser, session: Session) -> KycRead:
    """The latest verification of the user, with its documents."""
    return await verification.current(profile_id, session=session, principal=user)


@router.post("/users/{profile_id}/documents/upload", status_code=CREATED, openapi_extra=UPLOAD_BODY)
async def upload(
    profile_id: Ident,
    request: Request,
    tenant: Annotated[str, Depends(tenant_id)],
    credentials: Credentials,
    vault: DocumentVault,
    now: Now,
) -> list[DocumentRead]:
    """Upload one or more documents (`multipart/form-data`, files in parts named `files`);
    see `GET /documents/constraints` for the types and size accepted."""
    # Who may upload is settled in a short transaction of its own: none is open (and no
    # pooled connection held) while a client takes its time sending megabytes.
    async with tenant_transaction(request, tenant) as session:
        user = await current_principal(request, session, tenant, credentials)
        await documents.require_profile(session, user, profile_id, owner_only=True)
    received = await receive(
        request.stream(), request.headers.get("content-type"), vault=vault, tenant_id=tenant
    )
    try:
        async with tenant_transaction(request, tenant) as session:
            user = await current_principal(request, session, tenant, credentials)
            await documents.require_profile(session, user, profile_id, owner_only=True)
            return await documents.upload(
                profile_id, received, session=session, vault=vault, now=now
            )
    except BaseException:
        received.discard()  # refused, or its transaction rolled back or failed to commit
        raise


@router.get("/users/{profile_id}/documents")
async def list_documents(
    profile_id: Ident, user: CurrentUser, session: Session, paging: Paging
) -> DocumentPage:
    """The user's documents, newest first, every version, in pages."""
    return await documents.list_for(profile_id, session=session, principal=user, paging=paging)


@router.get("/documents/constraints")
async def constraints(vault: DocumentVault) -> DocumentConstraints:
    """What an upload may carry."""
    return DocumentConstraints(
        allowedTypes=list(ALLOWED_TYPES),
        maxBytes=vault.max_bytes,
        maxDocuments=vault.max_files,
        documentTypes=list(DocumentType),
        urlTtlSeconds=vault.url_ttl_seconds,
    )


@router.get("/documents/{document_id}/url")
async def document_url(
    document_id: Ident,
    request: Request,
    user: CurrentUser,
    session: Session,
    vault: DocumentVault,
    now: Now,
) -> DocumentUrl:
    """A short-lived signed link to the document (its owner, or an administrator)."""
    tenant, expires, expires_at = await documents.link(
        document_id, session=session, principal=user, vault=vault, now=now
    )
    signature = vault.keys.sign(tenant, document_id, expires)
    url = request.url_for("download_document", document_id=document_id).include_query_params(
        tenant=tenant, expires=expires, signature=signature
    )
    return DocumentUrl(url=str(url), expiresAt=expires_at)


@router.get(
    "/documents/{document_id}/content",
    name="download_document",
    response_class=StreamingResponse,
    responses={200: {"content": {t: {} for t in ALLOWED_TYPES}, "description": "the document"}},
)
async def download(
    document_id: Ident,
    request: Request,
    vault: DocumentVault,
    tenant: Annotated[str | None, Query(max_length=64)] = None,
    expires: Annotated[int | None, Query(ge=0, le=2**40)] = None,
    signature: Annotated[str | None, Query(max_length=128)] = None,
) -> StreamingResponse:
    """The document, for a link from `/documents/{id}/url` until it expires."""
    if tenant is None or expires is None or signature is None:
        raise DocumentNotFound("no such document")
    try:
        valid_tenant_id(tenant)
    except GxError as e:
        raise DocumentNotFound("no such document") from e
    if not vault.keys.signed(tenant, document_id, expires, signature):
        raise DocumentNotFound("no such document")  # a forged link names nothing
    gx = app_context(request)
    if gx.clock().timestamp() >= expires:
        raise DocumentLinkExpired("this link has expired; ask for a new one")
    async with gx.database.tenant(tenant) as session:
        await require_tenant(session, tenant)
        ref, mime_type = await documents.download_ref(session, document_id)
    chunks = await run_in_threadpool(vault.verified, ref)  # the whole file checked first
    return StreamingResponse(
        chunks,
        media_type=mime_type,
        headers={
            "Content-Disposition": f'attachment; filename="{document_id}"',
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )


@router.delete("/documents/{document_id}", status_code=NO_CONTENT)
async def delete_document(
    document_id: Ident, user: CurrentUser, session: Session, vault: DocumentVault
) -> None:
    """Delete a document of a verification not yet submitted."""
    await documents.delete(document_id, session=session, principal=user, vault=vault)


@router.post("/validation/national-id")
async def validate_national_id(
    body: NationalIdCheck, user: CurrentUser, session: Session
) -> NationalIdResult:
    """Check a national id's format for its country, and that no other user of this tenant
    holds it."""
    try:
        checked = national_id.check_format(body.countryCode, body.idNumber)
    except NationalIdInvalid as e:
        return NationalIdResult(
            valid=False,
            countryCode=body.countryCode,
            idNumber=national_id.normalize(body.idNumber),
            format=national_id.format_name(body.countryCode),
            available=False,
            reason=e.message,
        )
    holder = await national_id.holder(session, checked)
    return NationalIdResult(
        valid=True,
        countryCode=checked.country_code,
        idNumber=checked.number,
        format=checked.format,
        available=holder is None or holder == user.profile_id,
        reason=None,
    )
