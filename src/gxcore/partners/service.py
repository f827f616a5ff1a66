"""Licensed partners: administrators register partners, their applications, licenses, the
operations each application may call and its client credentials; a credential is exchanged for
a partner token (gxcore.partners.oauth_api) and checked again on every call
(gxcore.partners.principal).

Application data, written by request code in the tenant's scope; every change is audited by the
session's flush hook like every tenant row (the secret hash redacted). A partner, application,
license or credential of another tenant, or of another partner than the path names, is not
found.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession

from gxcore.admin.models import Country
from gxcore.db import lifecycle
from gxcore.enums import CredentialStatus, LicenseStatus, PartnerStatus
from gxcore.errors import (
    Conflict,
    PartnerAccessRevoked,
    PartnerExists,
    PartnerNotFound,
    ValidationFailed,
)
from gxcore.partners import credentials
from gxcore.partners.models import Application, Credential, License, LicensedPartner, PartnerScope
from gxcore.partners.schemas import (
    ApplicationIn,
    ApplicationRead,
    CredentialRead,
    IssuedCredential,
    LicenseIn,
    LicenseRead,
    PartnerIn,
    PartnerRead,
)
from gxcore.partners.scopes import PartnerOperation

# --------------------------------------------------------------------------------------------
# Reading back
# --------------------------------------------------------------------------------------------


def _partner_read(p: LicensedPartner) -> PartnerRead:
    return PartnerRead(
        partnerId=p.partner_id,
        companyName=p.company_name,
        jurisdictionCountryCode=p.jurisdiction_country_code,
        status=p.status,
        createdAt=p.created_at,
    )


async def _operations(session: AsyncSession, app_id: str) -> list[str]:
    rows = await session.scalars(
        select(PartnerScope.operation)
        .where(PartnerScope.app_id == app_id)
        .order_by(PartnerScope.operation)
    )
    return list(rows)


async def _app_read(session: AsyncSession, a: Application) -> ApplicationRead:
    return ApplicationRead(
        appId=a.app_id,
        partnerId=a.partner_id,
        appName=a.app_name,
        operations=[PartnerOperation(o) for o in await _operations(session, a.app_id)],
        createdAt=a.created_at,
    )


def _license_read(lic: License) -> LicenseRead:
    return LicenseRead(
        licenseId=lic.license_id,
        appId=lic.app_id,
        licenseType=lic.license_type,
        status=lic.status,
        expiryDate=lic.expiry_date,
        createdAt=lic.created_at,
    )


def _credential_read(c: Credential) -> CredentialRead:
    return CredentialRead(
        credentialId=c.credential_id,
        licenseId=c.license_id,
        clientId=c.client_id,
        status=c.status,
        createdAt=c.created_at,
    )


async def _partner(session: AsyncSession, partner_id: str) -> LicensedPartner:
    found = await session.get(LicensedPartner, partner_id)
    if found is None:
        raise PartnerNotFound(f"no partner {partner_id!r}", partnerId=partner_id)
    return found


async def _application(session: AsyncSession, partner_id: str, app_id: str) -> Application:
    found = await session.scalar(
        select(Application).where(
            Application.app_id == app_id, Application.partner_id == partner_id
        )
    )
    if found is None:
        raise PartnerNotFound(f"partner {partner_id!r} has no application {app_id!r}", appId=app_id)
    return found


async def _license(session: AsyncSession, partner_id: str, license_id: str) -> License:
    found = await session.scalar(
        select(License)
        .join(Application, Application.app_id == License.app_id)
        .where(License.license_id == license_id, Application.partner_id == partner_id)
    )
    if found is None:
        raise PartnerNotFound(
            f"partner {partner_id!r} has no license {license_id!r}", licenseId=license_id
        )
    return found


async def get_partner(partner_id: str, *, session: AsyncSession) -> PartnerRead:
    return _partner_read(await _partner(session, partner_id))


# --------------------------------------------------------------------------------------------
# Administration
# --------------------------------------------------------------------------------------------


async def register_partner(body: PartnerIn, *, session: AsyncSession) -> PartnerRead:
    """A partner registered by an administrator is ACTIVE: registering it is the approval."""
    code = body.jurisdictionCountryCode
    if await session.get(Country, code) is None:
        raise ValidationFailed(
            f"unknown country {code!r}", field="jurisdictionCountryCode", countryCode=code
        )
    taken = await session.scalar(
        select(LicensedPartner.partner_id).where(LicensedPartner.company_name == body.companyName)
    )
    if taken is not None:
        raise PartnerExists(f"a partner named {body.companyName!r} exists", partnerId=taken)
    partner = LicensedPartner(
        company_name=body.companyName,
        jurisdiction_country_code=code,
        status=PartnerStatus.ACTIVE,
    )
    session.add(partner)
    await session.flush()
    await session.refresh(partner)
    return _partner_read(partner)


async def register_application(
    partner_id: str, body: ApplicationIn, *, session: AsyncSession
) -> ApplicationRead:
    await _partner(session, partner_id)
    taken = await session.scalar(
        select(Application.app_id).where(Application.app_name == body.appName)
    )
    if taken is not None:
        raise PartnerExists(f"an application named {body.appName!r} exists", appId=taken)
    app = Application(partner_id=partner_id, app_name=body.appName)
    session.add(app)
    await session.flush()
    await session.refresh(app)
    return await _app_read(session, app)


async def issue_license(
    partner_id: str, app_id: str, body: LicenseIn, *, session: AsyncSession, now: datetime
) -> LicenseRead:
    await _application(session, partner_id, app_id)
    if body.expiryDate is not None and body.expiryDate <= now:
        raise ValidationFailed("expiryDate must be in the future", field="expiryDate")
    lic = License(app_id=app_id, license_type=body.licenseType, expiry_date=body.expiryDate)
    session.add(lic)
    await session.flush()
    await session.refresh(lic)
    return _license_read(lic)


async def revoke_license(partner_id: str, license_id: str, *, session: AsyncSession) -> LicenseRead:
    """REVOKED at once: its credentials' tokens are refused from the next call."""
    lic = await _license(session, partner_id, license_id)
    lifecycle.transition(lic, LicenseStatus.REVOKED)
    await session.flush()
    return _license_read(lic)


async def grant(
    partner_id: str,
    app_id: str,
    operations: list[PartnerOperation],
    *,
    session: AsyncSession,
    granted_by: str,
) -> ApplicationRead:
    """Open operations to an application; granting one it holds already changes nothing."""
    app = await _application(session, partner_id, app_id)
    held = set(await _operations(session, app_id))
    for operation in sorted(set(operations) - held):
        session.add(PartnerScope(app_id=app_id, operation=operation.value, granted_by=granted_by))
    await session.flush()
    return await _app_read(session, app)


async def ungrant(
    partner_id: str, app_id: str, operation: PartnerOperation, *, session: AsyncSession
) -> ApplicationRead:
    """Take an operation back: the application's live tokens lose it on their next call.
    Taking back one it does not hold changes nothing."""
    app = await _application(session, partner_id, app_id)
    held = await session.scalar(
        select(PartnerScope).where(
            PartnerScope.app_id == app_id, PartnerScope.operation == operation.value
        )
    )
    if held is not None:
        await session.delete(held)
        await session.flush()
    return await _app_read(session, app)


async def get_application(
    partner_id: str, app_id: str, *, session: AsyncSession
) -> ApplicationRead:
    return await _app_read(session, await _application(session, partner_id, app_id))


async def issue_credential(
    partner_id: str, license_id: str, *, session: AsyncSession, key: bytes
) -> IssuedCredential:
    lic = await _license(session, partner_id, license_id)
    if lic.status is not LicenseStatus.ACTIVE:
        raise Conflict(
            f"license {license_id!r} is {lic.status.value}", licenseStatus=lic.status.value
        )
    client_id, secret = credentials.new_client_id(), credentials.new_client_secret()
    row = Credential(
        license_id=license_id,
        client_id=client_id,
        client_secret_hash=credentials.secret_hash(key, client_id, secret),
    )
    session.add(row)
    await session.flush()
    await session.refresh(row)
    return IssuedCredential(**_credential_read(row).model_dump(), clientSecret=secret)


async def revoke_credential(
    partner_id: str, credential_id: str, *, session: AsyncSession
) -> CredentialRead:
    row = await session.scalar(
        select(Credential)
        .join(License, License.license_id == Credential.license_id)
        .join(Application, Application.app_id == License.app_id)
        .where(Credential.credential_id == credential_id, Application.partner_id == partner_id)
    )
    if row is None:
        raise PartnerNotFound(
            f"partner {partner_id!r} has no credential {credential_id!r}",
            credentialId=credential_id,
        )
    lifecycle.transition(row, CredentialStatus.REVOKED)
    await session.flush()
    return _credential_read(row)


# --------------------------------------------------------------------------------------------
# Access
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Standing:
    credential_id: str
    app_id: str
    operations: list[str]


async def _standing(
    session: AsyncSession, which: ColumnElement[bool], *, now: datetime
) -> Standing | None:
    """The credential `which` picks, with its license, application and partner, when every one
    of them still lets it in; None when there is no such credential in this tenant."""
    found = (
        await session.execute(
            select(Credential, License, Application, LicensedPartner)
            .join(License, License.license_id == Credential.license_id)
            .join(Application, Application.app_id == License.app_id)
            .join(LicensedPartner, LicensedPartner.partner_id == Application.partner_id)
            .where(which)
        )
    ).first()
    if found is None:
        return None
    cred, lic, app, partner = found
    if cred.status is not CredentialStatus.ACTIVE:
        raise PartnerAccessRevoked("this client credential is revoked")
    if lic.status is not LicenseStatus.ACTIVE:
        raise PartnerAccessRevoked(
            f"this application's license is {lic.status.value}", licenseStatus=lic.status.value
        )
    if lic.expiry_date is not None and now >= lic.expiry_date:
        raise PartnerAccessRevoked("this application's license has expired")
    if partner.status is not PartnerStatus.ACTIVE:
        raise PartnerAccessRevoked("this partner is not active")
    return Standing(cred.credential_id, app.app_id, await _operations(session, app.app_id))


async def authenticate(
    client_id: str, secret: str, *, session: AsyncSession, key: bytes, now: datetime
) -> tuple[Standing, bool]:
    """(standing, whether the secret matched). The secret is checked before the standing is
    told, so a wrong secret learns nothing of a credential's state."""
    stored = await session.scalar(
        select(Credential.client_secret_hash).where(Credential.client_id == client_id)
    )
    if not credentials.secret_matches(key, stored, client_id, secret):
        return Standing("", "", []), False
    standing = await _standing(session, Credential.client_id == client_id, now=now)
    assert standing is not None  # the hash was read from its row
    return standing, True


async def standing_of(credential_id: str, *, session: AsyncSession, now: datetime) -> Standing:
    standing = await _standing(session, Credential.credential_id == credential_id, now=now)
    if standing is None:
        raise PartnerAccessRevoked("this client credential no longer exists")
    return standing
