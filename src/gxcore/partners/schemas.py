"""Request and response bodies of the partner administration and the token endpoint."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints

from gxcore.bodies import RequestBody
from gxcore.enums import CredentialStatus, LicenseStatus, PartnerStatus
from gxcore.partners.scopes import PartnerOperation
from gxcore.wallet.schemas import CountryCode

Name = Annotated[str, StringConstraints(min_length=1, max_length=200, strip_whitespace=True)]


class PartnerIn(RequestBody):
    companyName: Name
    jurisdictionCountryCode: CountryCode


class PartnerRead(BaseModel):
    partnerId: str
    companyName: str
    jurisdictionCountryCode: str
    status: PartnerStatus
    createdAt: datetime


class ApplicationIn(RequestBody):
    appName: Name


class ApplicationRead(BaseModel):
    appId: str
    partnerId: str
    appName: str
    operations: list[PartnerOperation]
    createdAt: datetime


class LicenseIn(RequestBody):
    licenseType: Name
    #: None: the license runs until revoked.
    expiryDate: datetime | None = None


class LicenseRead(BaseModel):
    licenseId: str
    appId: str
    licenseType: str
    status: LicenseStatus
    expiryDate: datetime | None
    createdAt: datetime


class GrantIn(RequestBody):
    operations: Annotated[list[PartnerOperation], Field(min_length=1, max_length=50)]


class CredentialRead(BaseModel):
    credentialId: str
    licenseId: str
    clientId: str
    status: CredentialStatus
    createdAt: datetime


class IssuedCredential(CredentialRead):
    #: Shown in this answer only: gxcore keeps an HMAC of it, never the secret.
    clientSecret: str


class TokenResponse(BaseModel):
    access_token: str
    token_type: str = "Bearer"
    expires_in: int
    scope: str
