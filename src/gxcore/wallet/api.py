"""/api/v1: genesis, transfers and their status, balances and history (svc-tokenomics)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Header, Path, Query, Response

from gxcore.bodies import Ident
from gxcore.enums import OffChainTxType
from gxcore.http import ACCEPTED, CREATED, WHILE_PAUSED, Paging, Session
from gxcore.identity.access import Principal, UserRole
from gxcore.identity.principal import CurrentAdmin, CurrentSuperAdmin, CurrentUser
from gxcore.identity.schemas import ReviewReason
from gxcore.partners.principal import partner_or
from gxcore.partners.scopes import PartnerOperation
from gxcore.wallet import service, treasury
from gxcore.wallet.schemas import (
    BalanceResponse,
    CommandAccepted,
    GenesisRequest,
    LimitIn,
    LimitPage,
    LimitRead,
    TransactionPage,
    TransferRequest,
    TransferStatus,
    TreasuryActivation,
    TreasuryResponse,
)

#: A client's idempotency key: printable ASCII, as IETF's Idempotency-Key draft suggests.
IdempotencyKey = Annotated[
    str | None,
    Header(alias="Idempotency-Key", min_length=1, max_length=200, pattern=r"^[\x21-\x7e]+$"),
]

router = APIRouter(tags=["money"])


@router.post("/genesis", status_code=ACCEPTED)
async def genesis(
    body: GenesisRequest, admin: CurrentSuperAdmin, session: Session
) -> CommandAccepted:
    """Distribute a user's genesis allocation (SUPER_ADMIN; once per user)."""
    return await service.request_genesis(body, session=session, principal=admin)


@router.post("/transfers", status_code=ACCEPTED)
async def transfer(
    body: TransferRequest,
    user: CurrentUser,
    session: Session,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> CommandAccepted:
    """Request a transfer: checked, held and queued for the ledger. The same `Idempotency-Key`
    with the same body returns the first answer (and moves the money once)."""
    accepted = await service.request_transfer(
        body, session=session, principal=user, idempotency_key=idempotency_key
    )
    if accepted.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return accepted.response


@router.post("/wallets/{wallet_id}/freeze", status_code=ACCEPTED)
async def freeze(
    wallet_id: Ident, body: ReviewReason, admin: CurrentAdmin, session: Session
) -> CommandAccepted:
    """Freeze a wallet on the ledger (administrators): no transfer from or to it."""
    return await service.request_freeze(
        wallet_id, body.reason, freeze=True, session=session, principal=admin
    )


@router.post("/wallets/{wallet_id}/unfreeze", status_code=ACCEPTED)
async def unfreeze(
    wallet_id: Ident, body: ReviewReason, admin: CurrentAdmin, session: Session
) -> CommandAccepted:
    """Lift a wallet's freeze (administrators), and so its owner's."""
    return await service.request_freeze(
        wallet_id, body.reason, freeze=False, session=session, principal=admin
    )


@router.get("/transfers/{command_id}/status")
async def transfer_status(command_id: Ident, user: CurrentUser, session: Session) -> TransferStatus:
    return await service.command_status(command_id, session=session, principal=user)


@router.get("/wallets/{profile_id}/balance")
async def balance(
    profile_id: Ident,
    user: Annotated[Principal, partner_or(PartnerOperation.WALLET_BALANCE)],
    session: Session,
    at: Annotated[datetime | None, Query(description="the balance as of this instant")] = None,
) -> BalanceResponse:
    return BalanceResponse(
        balance=await service.balance(profile_id, session=session, principal=user, at=at)
    )


@router.get("/wallets/{profile_id}/transactions")
async def transactions(
    profile_id: Ident,
    user: CurrentUser,
    session: Session,
    paging: Paging,
    since: Annotated[datetime | None, Query()] = None,
    until: Annotated[datetime | None, Query()] = None,
    type: Annotated[list[OffChainTxType] | None, Query()] = None,
) -> TransactionPage:
    """Newest first; `type` is repeatable; pages of `limit` by `cursor` (or `page`)."""
    return await service.history(
        profile_id,
        session=session,
        principal=user,
        paging=paging,
        since=since,
        until=until,
        types=type,
    )


@router.post("/treasury", status_code=ACCEPTED, openapi_extra=WHILE_PAUSED)
async def activate_treasury(
    body: TreasuryActivation, admin: CurrentAdmin, session: Session
) -> CommandAccepted:
    """Open a country's treasury on the ledger (administrators; once per country)."""
    return await treasury.request_activation(body.countryCode, session=session)


@router.get("/treasury/{country_code}/balance")
async def treasury_balance(
    country_code: Annotated[str, Path(pattern=r"^[A-Za-z]{2}$")],
    admin: Annotated[Principal, partner_or(PartnerOperation.TREASURY_BALANCE, UserRole.ADMIN)],
    session: Session,
) -> TreasuryResponse:
    """A country treasury's balance (administrators, and partners granted it)."""
    return TreasuryResponse(treasury=await treasury.balance(country_code.upper(), session=session))


@router.get("/limits")
async def limits(
    admin: CurrentAdmin,
    session: Session,
    paging: Paging,
    profileId: Annotated[str | None, Query(max_length=200)] = None,
    walletId: Annotated[str | None, Query(max_length=200)] = None,
) -> LimitPage:
    """Active transaction limits (administrators), optionally of one profile or wallet, oldest
    first, in pages."""
    return await service.list_limits(
        session=session, paging=paging, profile_id=profileId, wallet_id=walletId
    )


@router.post("/limits", status_code=CREATED)
async def set_limit(body: LimitIn, admin: CurrentAdmin, session: Session) -> LimitRead:
    """Add a limit: to a wallet, a profile, or (naming neither) the tenant's default."""
    return await service.set_limit(body, session=session)


@router.delete("/limits/{limit_id}")
async def end_limit(limit_id: Ident, admin: CurrentAdmin, session: Session) -> LimitRead:
    return await service.end_limit(limit_id, session=session)
