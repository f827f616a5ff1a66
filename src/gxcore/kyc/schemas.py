"""KYC requests and answers. Document bodies come as multipart form fields (gxcore.kyc.upload)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints

from gxcore.bodies import RequestBody
from gxcore.db.pages import Page
from gxcore.enums import DocumentType, KycStatus

CountryCode = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]


class DocumentFields(RequestBody):
    """The form fields describing one uploaded file (sent once for all, or once per file)."""

    documentType: DocumentType
    documentNumber: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = None
    issuingCountry: CountryCode | None = None
    issuedDate: date | None = None
    expiryDate: date | None = None
    replacesDocumentId: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = None


class DocumentRead(BaseModel):
    documentId: str
    kycId: str
    documentType: DocumentType
    documentNumber: str | None
    issuingCountry: str | None
    issuedDate: date | None
    expiryDate: date | None
    fileHash: str = Field(description="SHA-256 of the document's bytes, hex")
    fileSize: int
    mimeType: str = Field(description="detected from the bytes, never taken from the client")
    virusScanStatus: str | None = Field(description="pending, clean or infected")
    virusScanDate: datetime | None
    version: int
    replacesDocumentId: str | None
    uploadedAt: datetime
    verifiedAt: datetime | None


class KycRead(BaseModel):
    kycId: str
    profileId: str
    status: KycStatus
    submitted: bool = Field(description="submitted for review: no more uploads into it")
    evidenceHash: str | None = Field(description="SHA-256 over the submitted documents' hashes")
    evidenceSize: int | None
    verifiedAt: datetime | None
    reviewedBy: str | None
    reason: str | None = Field(description="the reviewer's reason, when rejected")
    createdAt: datetime
    updatedAt: datetime
    documents: list[DocumentRead]


class KycPage(Page[KycRead]):
    pass


class DocumentUrl(BaseModel):
    url: str = Field(description="signed; served by the API; valid until `expiresAt`")
    expiresAt: datetime


class DocumentConstraints(BaseModel):
    allowedTypes: list[str]
    maxBytes: int
    maxDocuments: int = Field(description="files per upload")
    documentTypes: list[DocumentType]
    urlTtlSeconds: int


class NationalIdCheck(RequestBody):
    countryCode: CountryCode
    idNumber: Annotated[str, StringConstraints(min_length=1, max_length=64)]


class NationalIdResult(BaseModel):
    valid: bool
    countryCode: str
    idNumber: str = Field(description="normalized")
    format: str = Field(description="the format checked; `generic` for an unlisted country")
    available: bool = Field(description="no other user of this tenant holds it")
    reason: str | None = Field(description="why it is not valid")


class DocumentPage(Page[DocumentRead]):
    pass
