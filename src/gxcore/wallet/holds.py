"""Holds: the part of a balance that requested transfers have reserved.

A request records a hold (amount + fee) with its command, in the transaction that accepts it.
A hold counts until the ledger's answer is projected: the transfer's event appended to
`EventLog` (the same transaction that moves the `Wallet` balance) or its command `FAILED`. So
`balance` and `held`, read in one statement, never count the money twice nor let it out twice,
and there is nothing to release: a released hold is only deleted to keep the table small.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from gxcore.wallet.models import TransferHold

#: A hold `h` that still counts: its command not FAILED, its transfer not projected.
LIVE = """
    NOT EXISTS (SELECT FROM "OutboxCommand" o WHERE o."tenantId" = h."tenantId"
                    AND o."id" = h."commandId" AND o."status" = 'FAILED')
    AND NOT EXISTS (SELECT FROM "EventLog" e WHERE e."fabricTxId" = h."txId"
                    AND e."tenantId" = h."tenantId")
"""

_FUNDS = text(
    'SELECT w."cachedBalance" AS balance, '
    f'COALESCE((SELECT sum(h."amount" + h."fee") FROM "TransferHold" h '
    f'WHERE h."tenantId" = w."tenantId" AND h."walletId" = w."walletId" AND {LIVE}), 0) '
    'AS held FROM "Wallet" w WHERE w."walletId" = :wallet'
)

# Projected holds of one wallet; a FAILED command's hold stays, so that re-queuing the command
# (`gx outbox retry`) reserves its money again.
_FORGET_PROJECTED = text(
    'DELETE FROM "TransferHold" h WHERE h."walletId" = ANY(CAST(:wallets AS text[])) '
    "AND EXISTS (SELECT FROM "
    '"EventLog" e WHERE e."fabricTxId" = h."txId" AND e."tenantId" = h."tenantId")'
)

# What a wallet sent (or received) in a window: its projected history and its live holds (a
# projected transfer is in the history and no longer held: counted once).
_USAGE = {
    side: text(
        "SELECT COALESCE(sum(amount), 0) AS amount, count(*) AS n FROM ("
        f'SELECT t."amount" FROM "Transaction" t WHERE t."walletId" = :wallet '
        f'AND t."type" = \'{entry}\' AND t."timestamp" >= now() - make_interval(secs => :secs) '
        f'UNION ALL SELECT h."amount" FROM "TransferHold" h WHERE h."{column}" = :wallet '
        f'AND h."createdAt" >= now() - make_interval(secs => :secs) AND {LIVE}) AS used'
    )
    for side, entry, column in (
        ("send", "SENT", "walletId"),
        ("receive", "RECEIVED", "receiverWalletId"),
    )
}

# Serializes one wallet's spending (not the tenant's): a transaction-scoped advisory lock keyed
# by tenant and wallet, released at commit or rollback.
_LOCK = text("SELECT pg_advisory_xact_lock(hashtextextended(:tenant || '/' || :wallet, 0))")


@dataclass(frozen=True)
class Funds:
    balance: Decimal
    held: Decimal

    @property
    def available(self) -> Decimal:
        return self.balance - self.held


async def funds(session: AsyncSession, wallet_id: str) -> Funds:
    """The wallet's projected balance and live holds, in one snapshot."""
    row = (await session.execute(_FUNDS, {"wallet": wallet_id})).one()
    return Funds(balance=row.balance, held=row.held)


@dataclass(frozen=True)
class Usage:
    amount: Decimal
    count: int


async def usage(session: AsyncSession, wallet_id: str, *, side: str, seconds: int) -> Usage:
    """What `wallet_id` sent (side "send") or received ("receive") in the last `seconds`."""
    row = (await session.execute(_USAGE[side], {"wallet": wallet_id, "secs": seconds})).one()
    return Usage(amount=row.amount, count=row.n)


async def lock(session: AsyncSession, tenant_id: str, *wallet_ids: str) -> None:
    """Wait for the other transactions moving money of these wallets (taken in id order, so two
    transfers never wait for each other in a cycle); drop their holds already projected."""
    for wallet_id in sorted(set(wallet_ids)):
        await session.execute(_LOCK, {"tenant": tenant_id, "wallet": wallet_id})
    await session.execute(_FORGET_PROJECTED, {"wallets": sorted(set(wallet_ids))})


async def reserve(
    session: AsyncSession,
    *,
    command_id: str,
    wallet_id: str,
    receiver_wallet_id: str,
    tx_id: str,
    amount: Decimal,
    fee: Decimal,
) -> None:
    """Hold amount + fee of `wallet_id` for the command that will move them (ledger tx
    `tx_id`); call it under `lock`, after checking `funds`."""
    session.add(
        TransferHold(
            command_id=command_id,
            wallet_id=wallet_id,
            receiver_wallet_id=receiver_wallet_id,
            tx_id=tx_id,
            amount=amount,
            fee=fee,
        )
    )
