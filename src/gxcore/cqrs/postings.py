"""Postings: the balances an event leaves and the wallet history entries it implies.

A projection's `postings` part maps a payload to `Posting`s (see `gxcore.cqrs.projection`); the
batch collects them and `write_postings` writes a whole batch's in two statements, one for the
balances and one for the `Transaction` rows (one per wallet a ledger tx touches: the sender's
SENT and the receiver's RECEIVED of a transfer), whatever the batch size. Balance events carry
every balance after the change, so nothing is added or subtracted: the newest balance of each
account wins. A `Wallet` mirrors its ledger account (`primaryAccountId` = the account id).

The same statement keeps each wallet's velocity-tax timer (`aboveThresholdSince`) as the ledger
keeps its account's: the day the balance last rose above the tenant's `velocityTaxThreshold`
(`SystemParameter`), NULL while at or below it, restarted by a posting that says so (the tax
itself). A batch writes only the newest balance, so a dip inside it would be lost: each earlier
posting of an account leaves a "step" instead, (its balance, the next posting's day), meaning
"with a threshold at or above that balance, the timer restarted that day"; the server, which
knows each tenant's threshold, keeps the latest step that applies. Nearly every batch spans one
day and most accounts post once, so the steps are few.

Each history entry written also tells its wallet's owner: a `WALLET_CREDITED` or
`WALLET_DEBITED` `Notification`, in the same statement. Its id derives from (tenant, ledger tx,
wallet), so an entry notifies once however often it is written: live, replayed or rebuilt.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from gxcore.cqrs.ids import ordered_uuids
from gxcore.db.arrays import packed, unpack
from gxcore.enums import DEBITS, OffChainTxType
from gxcore.ledger.contract import PARAMETER_RULES
from gxcore.ledger.port import LedgerEvent

ZERO = Decimal("0.000000000")


@dataclass(frozen=True, slots=True)
class Posting:
    """A ledger account's balance after an event and, with a `type`, its wallet's history entry.

    Accounts without a wallet or a treasury row (system pools, organizations, users not
    registered in this database) are skipped when written: a row mirrors only its own account.
    """

    account_id: str
    balance: Decimal
    type: OffChainTxType | None = None
    counterparty: str = ""
    amount: Decimal = ZERO
    fee: Decimal = ZERO
    remark: str | None = None
    #: The ledger restarted the account's velocity-tax timer on this event's day (the tax).
    restarts_timer: bool = False


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
    newest: dict[tuple[str, str], tuple[Decimal, int]] = {}
    first_day: dict[tuple[str, str], str] = {}
    # (tenant, account, day) -> the lowest balance that restarts the timer that day (None: any).
    steps: dict[tuple[str, str, str], Decimal | None] = {}
    days: dict[datetime, str] = {}
    for event, p in postings:
        key = (event.tenant_id, p.account_id)
        day = days.get(event.timestamp)
        if day is None:
            day = days[event.timestamp] = _day(event.timestamp).isoformat()
        before = newest.get(key)
        if before is None:
            first_day[key] = day
        else:  # at or below the threshold before this posting: the timer restarts today
            _step(steps, (*key, day), before[0])
        if p.restarts_timer:
            _step(steps, (*key, day), None)
        newest[key] = (p.balance, event.block_number)
    # A step at or above the final balance never applies: that balance is not above either.
    kept = [
        (k, floor) for k, floor in steps.items() if floor is None or floor < newest[(k[0], k[1])][0]
    ]
    keys = sorted(newest)
    columns: dict[str, list[str | None]] = {
        "tenant": [t for t, _ in keys],
        "account": [a for _, a in keys],
        "balance": [str(newest[k][0]) for k in keys],
        "block": [str(newest[k][1]) for k in keys],
        "day": [first_day[k] for k in keys],
    }
    if kept:
        columns |= {
            "s_tenant": [k[0] for k, _ in kept],
            "s_account": [k[1] for k, _ in kept],
            "s_day": [k[2] for k, _ in kept],
            "s_floor": [None if f is None else str(f) for _, f in kept],
        }
    await session.execute(
        _SET_BALANCES_STEPPED if kept else _SET_BALANCES,
        {**packed(**columns), "threshold": _DEFAULT_THRESHOLD},
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


_DEFAULT_THRESHOLD = PARAMETER_RULES["velocityTaxThreshold"].default
# The timer after the batch: none at or below the threshold; else the latest restart that
# applies, or the running timer, or (it was not running) the day of the batch's first posting.
_SINCE = (
    'CASE WHEN v.below THEN NULL ELSE COALESCE(v.restarted, w."aboveThresholdSince", v.day) END'
)


def _day(at: datetime) -> date:
    """The ledger's day of an event: block time in UTC, as the ledger dates its own timer."""
    return at.astimezone(UTC).date()


def _step(
    steps: dict[tuple[str, str, str], Decimal | None],
    key: tuple[str, str, str],
    floor: Decimal | None,
) -> None:
    if key in steps:
        held = steps[key]
        floor = None if held is None or floor is None else min(held, floor)
    steps[key] = floor


# Arrays travel packed (`gxcore.db.arrays`), amounts and block numbers as text: asyncpg's binary
# numeric encoder costs about four times as much per value as a str().
# One statement for the wallets and the treasuries (`TreasuryAccount`) the accounts mirror;
# the steps' part only when a batch has steps left (`_SET_BALANCES_STEPPED`).
_U = (
    f"u AS (SELECT * FROM unnest({unpack('tenant')}, {unpack('account')}, "
    f"{unpack('balance', 'numeric')}, {unpack('block', 'bigint')}, {unpack('day', 'date')}) "
    "AS u(tenant, account, balance, block, day)), "
    # Each tenant's threshold, as the ledger's parameters left it (its default when absent).
    'th AS (SELECT t.tenant, COALESCE(CAST(p."paramValue" AS numeric), '
    "CAST(:threshold AS numeric)) AS threshold FROM (SELECT DISTINCT tenant FROM u) AS t "
    'LEFT JOIN "SystemParameter" AS p ON p."tenantId" = t.tenant '
    "AND p.\"paramKey\" = 'velocityTaxThreshold'), "
)
_STEPS = (
    f"s AS (SELECT * FROM unnest({unpack('s_tenant')}, {unpack('s_account')}, "
    f"{unpack('s_day', 'date')}, {unpack('s_floor', 'numeric')}) "
    "AS s(tenant, account, day, floor)), "
    "r AS (SELECT s.tenant, s.account, max(s.day) AS day FROM s JOIN th USING (tenant) "
    "WHERE s.floor IS NULL OR s.floor <= th.threshold GROUP BY s.tenant, s.account), "
)
_WRITE = (
    'wallets AS (UPDATE "Wallet" AS w SET "cachedBalance" = v.balance, '
    f'"aboveThresholdSince" = {_SINCE}, "updatedAt" = CURRENT_TIMESTAMP, '
    '"version" = w."version" + 1 FROM v '
    'WHERE w."tenantId" = v.tenant AND w."primaryAccountId" = v.account '
    'AND (w."cachedBalance" IS DISTINCT FROM v.balance '
    f'OR w."aboveThresholdSince" IS DISTINCT FROM {_SINCE})) '
    'UPDATE "TreasuryAccount" AS t SET "balance" = v.balance, "blockNumber" = v.block, '
    '"updatedAt" = CURRENT_TIMESTAMP FROM v '
    'WHERE t."tenantId" = v.tenant AND t."accountId" = v.account '
    'AND t."balance" IS DISTINCT FROM v.balance'
)
_SET_BALANCES = text(
    f"WITH {_U}"
    "v AS (SELECT u.tenant, u.account, u.balance, u.block, u.day, CAST(NULL AS date) AS restarted, "
    "u.balance <= th.threshold AS below FROM u JOIN th USING (tenant)), "
    f"{_WRITE}"
)
_SET_BALANCES_STEPPED = text(
    f"WITH {_U}{_STEPS}"
    "v AS (SELECT u.tenant, u.account, u.balance, u.block, u.day, r.day AS restarted, "
    "u.balance <= th.threshold AS below FROM u JOIN th USING (tenant) "
    "LEFT JOIN r ON r.tenant = u.tenant AND r.account = u.account), "
    f"{_WRITE}"
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
_DEBITS = "(" + ", ".join(f"'{t.value}'" for t in sorted(DEBITS)) + ")"
_RETURNING = ' RETURNING "offTxId", "tenantId", "onChainTxId", "walletId", "type", "amount", "fee"'
# The owner's notice of each entry the statement wrote (inserted, or changed by a replay).
_NOTIFY = (
    'INSERT INTO "Notification" ("notificationId", "tenantId", "recipientId", "type", "title", '
    '"message", "actionResourceType", "actionResourceId") '
    'SELECT md5(e."tenantId" || \'/\' || e."onChainTxId" || \'/\' || e."walletId")::uuid::text, '
    'e."tenantId", w."profileId", '
    f"CASE WHEN e.type::text IN {_DEBITS} THEN 'WALLET_DEBITED' ELSE 'WALLET_CREDITED' END"
    '::"NotificationType", '
    f"CASE WHEN e.type::text IN {_DEBITS} THEN 'Wallet debited' ELSE 'Wallet credited' END, "
    "CASE e.type::text "
    "WHEN 'SENT' THEN format('You sent %s GX (fee %s)', e.amount, e.fee) "
    "WHEN 'RECEIVED' THEN format('You received %s GX', e.amount) "
    "WHEN 'MINT' THEN format('Your genesis allocation of %s GX arrived', e.amount) "
    "ELSE format('%s: %s GX', initcap(replace(e.type::text, '_', ' ')), e.amount) END, "
    "'Transaction', e.\"offTxId\" "
    'FROM entries AS e JOIN "Wallet" AS w '
    'ON w."tenantId" = e."tenantId" AND w."walletId" = e."walletId" '
    'ON CONFLICT ("tenantId", "notificationId") DO NOTHING'
)
_INSERT_ENTRIES = text(f"WITH entries AS ({_INSERT_ENTRIES_SQL}{_RETURNING}) {_NOTIFY}")
_UPSERT_SQL = (
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
_UPSERT_ENTRIES = text(f"WITH entries AS ({_UPSERT_SQL}{_RETURNING}) {_NOTIFY}")
