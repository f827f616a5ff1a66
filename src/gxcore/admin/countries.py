"""A tenant's countries: registered on its ledger (INITIALIZE_COUNTRY_DATA), listed and counted.

`Country` is the shared ISO list (`gx db seed`); a tenant's ledger knows a country once its
CountryDataInitialized is projected as the tenant's `LegalTenderStatus` row. A country the
tenant's ledger does not know is, for that tenant, not found (404): another tenant having
initialized it shows nothing here.

The same country list sent twice is the same command (its request id is a digest of the list);
once that command FAILED, sending the list again sends a new one.
"""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal

from sqlalchemy import Select, func, select
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.ext.asyncio import AsyncSession

from gxcore.admin import system
from gxcore.admin.models import Country, LegalTenderStatus
from gxcore.admin.schemas import CountriesInit, CountryPage, CountryRead, CountryStats
from gxcore.db import pages
from gxcore.enums import CommandType
from gxcore.errors import CountryNotFound, ValidationFailed
from gxcore.identity.models import UserProfile
from gxcore.wallet.models import TreasuryAccount, Wallet
from gxcore.wallet.schemas import CommandAccepted


async def initialize(session: AsyncSession, body: CountriesInit) -> CommandAccepted:
    await system.require_bootstrapped(session)
    codes = [c.countryCode for c in body.countries]
    found = await session.execute(
        select(Country.country_code, Country.country_name).where(Country.country_code.in_(codes))
    )
    names = {code: name for code, name in found.all()}
    seen: set[str] = set()
    for i, c in enumerate(body.countries):
        field = f"countries.{i}.countryCode"
        if c.countryCode not in names:
            raise ValidationFailed(f"unknown country {c.countryCode!r}", field=field)
        if c.countryCode in seen:
            raise ValidationFailed(f"{c.countryCode} is listed twice", field=field)
        seen.add(c.countryCode)
    payload = {
        "countries": [
            {
                "code": c.countryCode,
                "name": c.countryName or names[c.countryCode],
                "populationShare": str(c.populationShare),
            }
            for c in body.countries
        ]
    }
    digest = hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:32]
    return await system.send(
        session, CommandType.INITIALIZE_COUNTRY_DATA, f"countries:{digest}", payload
    )


def _query(code: str | None = None) -> Select[LegalTenderStatus, Country, str | None]:
    """Each country with its latest status (DISTINCT ON the code, so the code leads the
    ordering) and whether its treasury is open."""
    stmt = (
        select(LegalTenderStatus, Country, TreasuryAccount.account_id)
        .join(Country, Country.country_code == LegalTenderStatus.country_code)
        .outerjoin(TreasuryAccount, TreasuryAccount.country_code == LegalTenderStatus.country_code)
        .ext(distinct_on(LegalTenderStatus.country_code))
        .order_by(
            LegalTenderStatus.country_code,
            LegalTenderStatus.effective_date.desc(),
            LegalTenderStatus.created_at.desc(),
        )
    )
    if code is not None:
        stmt = stmt.where(LegalTenderStatus.country_code == code)
    return stmt


def _read(status: LegalTenderStatus, country: Country, treasury: str | None) -> CountryRead:
    return CountryRead(
        countryCode=country.country_code,
        countryName=country.country_name,
        region=country.region,
        status=status.status,
        effectiveDate=status.effective_date,
        treasuryActive=treasury is not None,
    )


async def _rows(session: AsyncSession, code: str | None = None) -> list[CountryRead]:
    return [_read(*r) for r in (await session.execute(_query(code))).all()]


async def list_countries(session: AsyncSession, paging: pages.PageRequest) -> CountryPage:
    """The countries the tenant's ledger knows, by code, each with its current status."""
    order = pages.Order.oldest_first(LegalTenderStatus.country_code)
    found = await pages.fetch(session, _query(), order, paging)
    return CountryPage.of(found, [_read(r[0], r[1], r[2]) for r in found.rows])


async def stats(session: AsyncSession, code: str) -> CountryStats:
    found = await _rows(session, code)
    if not found:
        raise CountryNotFound(f"this tenant's ledger holds no country {code!r}", countryCode=code)
    by_status = await session.execute(
        select(UserProfile.status, func.count())
        .where(UserProfile.nationality_country_code == code)
        .group_by(UserProfile.status)
    )
    users = {status: n for status, n in by_status.all()}
    wallets, balance = (
        await session.execute(
            select(func.count(), func.coalesce(func.sum(Wallet.cached_balance), 0))
            .select_from(Wallet)
            .join(UserProfile, UserProfile.profile_id == Wallet.profile_id)
            .where(UserProfile.nationality_country_code == code)
        )
    ).one()
    treasury = await session.scalar(
        select(TreasuryAccount.balance).where(TreasuryAccount.country_code == code)
    )
    return CountryStats(
        country=found[0],
        users={s.value: n for s, n in users.items()},
        wallets=wallets,
        walletBalance=Decimal(balance),
        treasuryBalance=treasury,
    )
