"""Country treasuries: opened on the ledger by an administrator, their balances read back.

A treasury is a ledger account per country and tenant (ACTIVATE_TREASURY); the projector
mirrors it in `TreasuryAccount` and moves its balance with every event touching the account
(velocity tax, transfers to it). Administrators only: a treasury has no owner to show it to.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gxcore.admin.models import Country, LegalTenderStatus
from gxcore.audit import service as audit
from gxcore.cqrs.outbox import enqueue
from gxcore.enums import AuditEventType, CommandType
from gxcore.errors import CountryNotInitialized, TreasuryNotFound, ValidationFailed
from gxcore.wallet.models import TreasuryAccount
from gxcore.wallet.schemas import CommandAccepted, Treasury
from gxcore.wallet.service import SERVICE


async def balance(country_code: str, *, session: AsyncSession) -> Treasury:
    row = await session.scalar(
        select(TreasuryAccount).where(TreasuryAccount.country_code == country_code)
    )
    if row is None:
        raise TreasuryNotFound(
            f"no active treasury for country {country_code!r}", countryCode=country_code
        )
    return Treasury(
        countryCode=row.country_code,
        accountId=row.account_id,
        balance=row.balance,
        activatedAt=row.activated_at,
        updatedAt=row.updated_at,
    )


async def request_activation(country_code: str, *, session: AsyncSession) -> CommandAccepted:
    """ACTIVATE_TREASURY for a country the tenant's ledger knows (its country data projected
    as a `LegalTenderStatus`); once per country (the same command answers again)."""
    if await session.get(Country, country_code) is None:
        raise ValidationFailed(f"unknown country {country_code!r}", field="countryCode")
    known = await session.scalar(
        select(LegalTenderStatus.status_id)
        .where(LegalTenderStatus.country_code == country_code)
        .limit(1)
    )
    if known is None:
        raise CountryNotInitialized(
            f"the ledger holds no data for country {country_code} yet", countryCode=country_code
        )
    command = await enqueue(
        session,
        service=SERVICE,
        command_type=CommandType.ACTIVATE_TREASURY,
        request_id=f"treasury:{country_code}",
        payload={"countryCode": country_code},
    )
    await audit.record(
        session,
        event_type=AuditEventType.TRANSACTION_INITIATED,
        resource_type="OutboxCommand",
        resource_id=command.id,
        new={"activateTreasury": country_code},
    )
    return CommandAccepted(commandId=command.id, status=command.status)
