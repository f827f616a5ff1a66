"""Postings: the balances an event leaves and the wallet history entries it implies.

A projection's `postings` part maps a payload to `Posting`s (see `gxcore.cqrs.projection`); the
batch collects them and `write_postings` writes a whole batch's in two statements, one for the
balances and one for the `Transaction` rows (one per wallet a ledger tx touches: the sender's
SENT and the receiver's RECEIVED of a transfer), whatever the batch size. Balance events carry
every balance after the change, so nothing is added or subtracted: the newest balance of each
account wins. A `Wallet` mirrors its ledger account (`primaryAccountId` = the account id).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from gxcore.cqrs.ids import ordered_uuids
from gxcore.db.arrays import packed, unpack
from gxcore.enums import OffChainTxType
from gxcore.ledger.port import LedgerEvent

ZERO = Decimal("0.000000000")


@dataclass(frozen=True, slots=True)
class Posting:
    """A ledger account's balance after an event and, with a `type`, its wallet's history entry.

    Accounts without a wallet (system pools, treasuries, organizations, users not registered in
    this database) are skipped when written: a wallet mirrors only its own account.
    """

    account_id: str
    balance: Decimal
    type: OffChainTxType | None = None
    counterparty: str = ""
    amount: Decimal = ZERO
    fee: Decimal = ZERO
    remark: str | None = None


async def write_postings(
    session: AsyncSession,
    postings: Sequence[tuple[LedgerEvent, Posting]],
    *,
    idempotent: bool = False,
) -> None:
    """Balances (the newest per account) and history entries of `postings`, given in ledger
    order. Wallets are updated in (tenant, account) order, so concurrent writers never deadlock.

    Applied in order, an entry is new: a second copy fails on the unique key, loudly. Replays
    and rebuilds (`idempotent`) meet entries that exist and rewrite only what differs."""
    if not postings:
        return
    newest: dict[tuple[str, str], Decimal] = {}
    for event, p in postings:
        newest[(event.tenant_id, p.account_id)] = p.balance
    keys = sorted(newest)
    await session.execute(
        _SET_BALANCES,
        packed(
            tenant=[t for t, _ in keys],
            account=[a for _, a in keys],
            balance=[str(newest[k]) for k in keys],
        ),
    )
    entries = [(e, p) for e, p in postings if p.type is not None]
    if entries:
        await session.execute(
            _UPSERT_ENTRIES if idempotent else _INSERT_ENTRIES,
            {
                **packed(
                    id=ordered_uuids(len(entries)),
                    tenant=[e.tenant_id for e, _ in entries],
                    account=[p.account_id for _, p in entries],
                    tx=[e.tx_id for e, _ in entries],
                    type=[p.type.value for _, p in entries],  # type: ignore[union-attr]
                    counterparty=[p.counterparty for _, p in entries],
                    amount=[str(p.amount) for _, p in entries],
                    fee=[str(p.fee) for _, p in entries],
                    remark=[p.remark for _, p in entries],
                    block=[str(e.block_number) for e, _ in entries],
                ),
                "at": [e.timestamp for e, _ in entries],
            },
        )


# Arrays travel packed (`gxcore.db.arrays`), amounts and block numbers as text: asyncpg's binary
# numeric encoder costs about four times as much per value as a str().
_SET_BALANCES = text(
    'UPDATE "Wallet" AS w SET "cachedBalance" = u.balance, "updatedAt" = CURRENT_TIMESTAMP '
    f"FROM unnest({unpack('tenant')}, {unpack('account')}, {unpack('balance', 'numeric')}) "
    "AS u(tenant, account, balance) "
    'WHERE w."tenantId" = u.tenant AND w."primaryAccountId" = u.account '
    'AND w."cachedBalance" IS DISTINCT FROM u.balance'
)

_INSERT_ENTRIES_SQL = (
    'INSERT INTO "Transaction" ("offTxId", "tenantId", "onChainTxId", "walletId", "type", '
    '"counterparty", "amount", "fee", "remark", "timestamp", "blockNumber") '
    'SELECT u.id, u.tenant, u.tx, w."walletId", u.type::"OffChainTxType", '
    "u.counterparty, u.amount, u.fee, u.remark, u.at, u.block "
    f"FROM unnest({unpack('id')}, {unpack('tenant')}, {unpack('account')}, {unpack('tx')}, "
    f"{unpack('type')}, {unpack('counterparty')}, {unpack('amount', 'numeric')}, "
    f"{unpack('fee', 'numeric')}, {unpack('remark')}, CAST(:at AS timestamptz[]), "
    f"{unpack('block', 'bigint')}) AS u(id, tenant, account, tx, type, counterparty, amount, "
    "fee, remark, at, block) "
    'JOIN "Wallet" AS w ON w."tenantId" = u.tenant AND w."primaryAccountId" = u.account '
)
_INSERT_ENTRIES = text(_INSERT_ENTRIES_SQL)
_UPSERT_ENTRIES = text(
    _INSERT_ENTRIES_SQL + 'ON CONFLICT ("tenantId", "onChainTxId", "walletId") DO UPDATE SET '
    '"type" = EXCLUDED."type", "counterparty" = EXCLUDED."counterparty", '
    '"amount" = EXCLUDED."amount", "fee" = EXCLUDED."fee", "remark" = EXCLUDED."remark", '
    '"timestamp" = EXCLUDED."timestamp", "blockNumber" = EXCLUDED."blockNumber" '
    'WHERE ("Transaction"."type", "Transaction"."counterparty", "Transaction"."amount", '
    '"Transaction"."fee", "Transaction"."remark", "Transaction"."timestamp", '
    '"Transaction"."blockNumber") IS DISTINCT FROM (EXCLUDED."type", EXCLUDED."counterparty", '
    'EXCLUDED."amount", EXCLUDED."fee", EXCLUDED."remark", EXCLUDED."timestamp", '
    'EXCLUDED."blockNumber")'
)
