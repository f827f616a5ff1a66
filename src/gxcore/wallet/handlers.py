"""Projector handlers for the wallet: wallets and treasuries opened, and the postings of genesis
and transfers.

A user's `Wallet` mirrors its ledger account (`primaryAccountId` = the account id); the
projection engine writes balances and history entries from the `Posting`s returned here
(`gxcore.cqrs.postings`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from sqlalchemy import text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from gxcore.admin.models import Country
from gxcore.cqrs.ids import ordered_uuids
from gxcore.cqrs.postings import ZERO, Posting
from gxcore.db.arrays import packed, unpack
from gxcore.enums import OffChainTxType
from gxcore.errors import ProjectionRejected
from gxcore.ledger import events as ev
from gxcore.ledger.port import LedgerEvent
from gxcore.ledger.rows import GENESIS_POOL
from gxcore.wallet.models import TreasuryAccount

if TYPE_CHECKING:
    from gxcore.cqrs.projection import Batch

WALLET_NAME = "Main"


def genesis_postings(p: ev.GenesisDistributed) -> list[Posting]:
    return [Posting(p.user_id, p.balance, OffChainTxType.MINT, GENESIS_POOL, p.amount)]


def transfer_postings(p: ev.TransferCompleted) -> list[Posting]:
    """The sender pays amount + fee (its entry carries the fee); the receiver gets amount."""
    s, r = p.sender_id, p.receiver_id
    return [
        Posting(s, p.sender_balance, OffChainTxType.SENT, r, p.amount, p.fee, p.remark),
        Posting(r, p.receiver_balance, OffChainTxType.RECEIVED, s, p.amount, ZERO, p.remark),
    ]


async def treasury_activated(batch: Batch, event: LedgerEvent, p: ev.TreasuryActivated) -> None:
    """The country's treasury row, empty; its balance follows the account's postings."""
    if await batch.session.get(Country, p.country_code) is None:
        raise ProjectionRejected("UNKNOWN_COUNTRY", f"country {p.country_code} is not seeded")
    await batch.session.execute(
        insert(TreasuryAccount)
        .values(
            tenant_id=event.tenant_id,
            country_code=p.country_code,
            account_id=p.account_id,
            block_number=event.block_number,
            activated_at=event.timestamp,
        )
        .on_conflict_do_nothing()
    )


async def open_wallets(
    session: AsyncSession, wallets: Sequence[tuple[str, str, str]]
) -> list[tuple[str, str]]:
    """A wallet for each (tenant, profile id, account id) whose account has none yet, in one
    statement; returns the (tenant, account) of those created now."""
    if not wallets:
        return []
    created = await session.execute(
        _OPEN_WALLETS,
        {
            **packed(
                id=ordered_uuids(len(wallets)),
                tenant=[t for t, _, _ in wallets],
                profile=[p for _, p, _ in wallets],
                account=[a for _, _, a in wallets],
            ),
            "name": WALLET_NAME,
        },
    )
    return [(t, a) for t, a in created]


_OPEN_WALLETS = text(
    'INSERT INTO "Wallet" ("walletId", "tenantId", "profileId", "primaryAccountId", '
    '"walletName", "updatedAt") '
    "SELECT id, t, p, a, :name, CURRENT_TIMESTAMP "
    f"FROM unnest({unpack('id')}, {unpack('tenant')}, {unpack('profile')}, {unpack('account')}) "
    "AS u(id, t, p, a) "
    'ON CONFLICT ("tenantId", "primaryAccountId") DO NOTHING '
    'RETURNING "tenantId", "primaryAccountId"'
)
