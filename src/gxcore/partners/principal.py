"""Opening an operation to licensed partners: one dependency, one line per route.

    @router.get("/wallets/{profile_id}/balance")
    async def balance(caller: Annotated[Principal, partner_or(PartnerOperation.WALLET_BALANCE)]):

The route then takes what it took before (a signed-in user, or with `role` an administrator),
or a partner token (gxcore.partners.credentials) whose tenant is the request's and whose
application holds a grant of that operation. The credential, its license (ACTIVE, not expired)
and its partner are read again on every call, as a user's session is, so revoking any of them,
or taking a grant away, cuts the token off at once rather than when it expires. The caller is
a `Principal` with `application_id` set and no role: it sees the tenant's rows the operation
reads, and row-level security keeps every other tenant's invisible (not found).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request

from gxcore.errors import PartnerNotGranted, TokenTenantMismatch
from gxcore.http import Session, app_context, tenant_id
from gxcore.identity.access import Principal, UserRole, require_role
from gxcore.identity.principal import Credentials, current_principal
from gxcore.partners import credentials, service
from gxcore.partners.scopes import PartnerOperation

PARTNER_ROLE = "PARTNER"  # holds no user role (gxcore.identity.access.holds)


def partner_or(operation: PartnerOperation, role: UserRole = UserRole.USER) -> Any:
    """The caller of a route open to partners granted `operation`, or else to users holding
    `role`."""

    async def caller(
        request: Request,
        session: Session,
        tenant: Annotated[str, Depends(tenant_id)],
        bearer: Credentials,
    ) -> Principal:
        if bearer is None or not credentials.is_partner_token(bearer.credentials):
            principal = await current_principal(request, session, tenant, bearer)
            if role is not UserRole.USER:
                require_role(principal.role, role)
            return principal
        gx = app_context(request)
        now = gx.clock()
        claims = credentials.read_token(gx.jwt_key, bearer.credentials, now=now)
        if claims.tenant != tenant:
            raise TokenTenantMismatch("this token was issued for another tenant")
        standing = await service.standing_of(claims.cid, session=session, now=now)
        # Both: what the token was issued for, and what the application still holds.
        if (
            operation.value not in claims.scope.split()
            or operation.value not in standing.operations
        ):
            raise PartnerNotGranted(
                f"this application is not granted {operation.value}", operation=operation.value
            )
        return Principal(
            profile_id="",
            tenant_id=tenant,
            session_id=standing.credential_id,
            device_id="",
            role=PARTNER_ROLE,
            application_id=standing.app_id,
        )

    return Depends(caller, scope="function")
