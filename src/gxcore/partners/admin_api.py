"""/api/v1/admin/partners: licensed partners, their applications, licenses, grants and client
credentials (administrators; every change audited)."""

from __future__ import annotations

from fastapi import APIRouter, Request

from gxcore.bodies import Ident
from gxcore.http import CREATED, WHILE_PAUSED, Now, Session, app_context
from gxcore.identity.principal import CurrentAdmin
from gxcore.partners import service
from gxcore.partners.schemas import (
    ApplicationIn,
    ApplicationRead,
    CredentialRead,
    GrantIn,
    IssuedCredential,
    LicenseIn,
    LicenseRead,
    PartnerIn,
    PartnerRead,
)
from gxcore.partners.scopes import PartnerOperation

# While the system is paused (an incident), revoking a license or a credential stays served: it
# is how access is cut; the rest waits for the resume, as other administration does.
router = APIRouter(prefix="/admin/partners", tags=["partners"])


@router.post("", status_code=CREATED)
async def register_partner(body: PartnerIn, admin: CurrentAdmin, session: Session) -> PartnerRead:
    """Register a licensed partner (ACTIVE)."""
    return await service.register_partner(body, session=session)


@router.get("/{partner_id}")
async def partner(partner_id: Ident, admin: CurrentAdmin, session: Session) -> PartnerRead:
    return await service.get_partner(partner_id, session=session)


@router.post("/{partner_id}/applications", status_code=CREATED)
async def register_application(
    partner_id: Ident, body: ApplicationIn, admin: CurrentAdmin, session: Session
) -> ApplicationRead:
    return await service.register_application(partner_id, body, session=session)


@router.get("/{partner_id}/applications/{app_id}")
async def application(
    partner_id: Ident, app_id: Ident, admin: CurrentAdmin, session: Session
) -> ApplicationRead:
    """An application with the operations it is granted."""
    return await service.get_application(partner_id, app_id, session=session)


@router.post("/{partner_id}/applications/{app_id}/licenses", status_code=CREATED)
async def issue_license(
    partner_id: Ident,
    app_id: Ident,
    body: LicenseIn,
    admin: CurrentAdmin,
    session: Session,
    now: Now,
) -> LicenseRead:
    """Issue a license (ACTIVE until `expiryDate`, or until revoked when none is given)."""
    return await service.issue_license(partner_id, app_id, body, session=session, now=now)


@router.post("/{partner_id}/licenses/{license_id}/revoke", openapi_extra=WHILE_PAUSED)
async def revoke_license(
    partner_id: Ident, license_id: Ident, admin: CurrentAdmin, session: Session
) -> LicenseRead:
    return await service.revoke_license(partner_id, license_id, session=session)


@router.post("/{partner_id}/applications/{app_id}/grants")
async def grant(
    partner_id: Ident, app_id: Ident, body: GrantIn, admin: CurrentAdmin, session: Session
) -> ApplicationRead:
    """Open operations to an application (idempotent); the answer lists all it holds."""
    return await service.grant(
        partner_id, app_id, body.operations, session=session, granted_by=admin.profile_id
    )


@router.delete("/{partner_id}/applications/{app_id}/grants/{operation}", openapi_extra=WHILE_PAUSED)
async def ungrant(
    partner_id: Ident,
    app_id: Ident,
    operation: PartnerOperation,
    admin: CurrentAdmin,
    session: Session,
) -> ApplicationRead:
    """Take an operation back (idempotent): live tokens lose it on their next call."""
    return await service.ungrant(partner_id, app_id, operation, session=session)


@router.post("/{partner_id}/licenses/{license_id}/credentials", status_code=CREATED)
async def issue_credential(
    partner_id: Ident, license_id: Ident, admin: CurrentAdmin, session: Session, request: Request
) -> IssuedCredential:
    """Issue a client credential under an ACTIVE license. `clientSecret` is in this answer only:
    gxcore keeps an HMAC of it, so a lost secret is replaced, never recovered."""
    key = app_context(request).jwt_key
    return await service.issue_credential(partner_id, license_id, session=session, key=key)


@router.post("/{partner_id}/credentials/{credential_id}/revoke", openapi_extra=WHILE_PAUSED)
async def revoke_credential(
    partner_id: Ident, credential_id: Ident, admin: CurrentAdmin, session: Session
) -> CredentialRead:
    """Revoke a credential: its tokens are refused from the next call."""
    return await service.revoke_credential(partner_id, credential_id, session=session)
