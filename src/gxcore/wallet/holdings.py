"""What a wallet holds, for other features: its balance and velocity-tax timer, by account.

Read from the `Wallet` read model (the projector keeps both); the velocity tax reads them
through these functions rather than through the wallet's model.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gxcore.wallet.models import Wallet


@dataclass(frozen=True)
class Holding:
    wallet_id: str
    profile_id: str
    account_id: str
    balance: Decimal
    above_threshold_since: date | None


_COLUMNS = (
    Wallet.wallet_id,
    Wallet.profile_id,
    Wallet.primary_account_id,
    Wallet.cached_balance,
    Wallet.above_threshold_since,
)


async def by_account(
    session: AsyncSession, account_id: str, *, tenant_id: str | None = None
) -> Holding | None:
    """The wallet mirroring `account_id` (in the scope's tenant, or `tenant_id` in the system
    scope), or None."""
    stmt = select(*_COLUMNS).where(Wallet.primary_account_id == account_id)
    if tenant_id is not None:
        stmt = stmt.where(Wallet.tenant_id == tenant_id)
    row = (await session.execute(stmt)).first()
    return None if row is None else Holding(*row)


async def page(session: AsyncSession, *, after: str | None, limit: int) -> list[Holding]:
    """The scope's wallets in account order, from just after the account `after`: keyset pages
    on the (tenantId, primaryAccountId) unique index."""
    stmt = select(*_COLUMNS).order_by(Wallet.primary_account_id).limit(limit)
    if after is not None:
        stmt = stmt.where(Wallet.primary_account_id > after)
    return [Holding(*row) for row in await session.execute(stmt)]
