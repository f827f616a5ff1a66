"""Transaction limits (`TransactionLimit`): per wallet, per profile, or the tenant's default.

For each limit type the most specific active limit applies: the wallet's over the profile's
over the tenant's (a row with neither). Amount limits count the transfer amount (fees apart);
windows are rolling (DAILY the last 24 hours, MONTHLY the last 30 days, VELOCITY_CHECK its own
`timeWindowMinutes`), and what was used counts projected history and live holds alike, so
parallel requests see each other. The check runs under the wallets' locks (`holds.lock`).
"""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from gxcore.enums import LimitType as L
from gxcore.errors import LimitExceeded
from gxcore.wallet import holds
from gxcore.wallet.models import TransactionLimit

DAY, MONTH = 24 * 3600, 30 * 24 * 3600
SEND = frozenset({L.SINGLE_TRANSACTION, L.DAILY_SEND, L.MONTHLY_SEND, L.VELOCITY_CHECK})
RECEIVE = frozenset({L.DAILY_RECEIVE, L.MONTHLY_RECEIVE})
_WINDOW = {L.DAILY_SEND: DAY, L.MONTHLY_SEND: MONTH, L.DAILY_RECEIVE: DAY, L.MONTHLY_RECEIVE: MONTH}


async def applicable(
    session: AsyncSession, *, wallet_id: str, profile_id: str | None, types: frozenset[L]
) -> dict[L, TransactionLimit]:
    """The limit of each type that applies to this wallet, the most specific first; without
    `profile_id` (a business account's wallet) the wallet's own and the tenant's only."""
    rows = await session.scalars(
        select(TransactionLimit).where(
            TransactionLimit.is_active,
            TransactionLimit.limit_type.in_(types),
            _applying(wallet_id, profile_id),
        )
    )
    return _chosen(list(rows), wallet_id, profile_id, types)


Owner = tuple[str, str | None]  # a wallet id, and its owner's profile id (None: a business's)


async def applicable_to_transfer(
    session: AsyncSession, *, sender: Owner, receiver: Owner
) -> tuple[dict[L, TransactionLimit], dict[L, TransactionLimit]]:
    """`applicable` for the sender's SEND limits and the receiver's RECEIVE limits, in one
    round trip."""
    rows = list(
        await session.scalars(
            select(TransactionLimit).where(
                TransactionLimit.is_active,
                TransactionLimit.limit_type.in_(SEND | RECEIVE),
                or_(_applying(*sender), _applying(*receiver)),
            )
        )
    )
    return _chosen(rows, *sender, SEND), _chosen(rows, *receiver, RECEIVE)


def _applying(wallet_id: str, profile_id: str | None) -> ColumnElement[bool]:
    return or_(
        TransactionLimit.wallet_id == wallet_id,
        and_(TransactionLimit.profile_id == profile_id, TransactionLimit.wallet_id.is_(None)),
        and_(TransactionLimit.profile_id.is_(None), TransactionLimit.wallet_id.is_(None)),
    )


def _chosen(
    rows: list[TransactionLimit], wallet_id: str, profile_id: str | None, types: frozenset[L]
) -> dict[L, TransactionLimit]:
    # The rows `_applying(wallet_id, profile_id)` selects (a None profile id compares as
    # IS NULL there), the most specific of each type.
    chosen: dict[L, TransactionLimit] = {}
    for limit in sorted(rows, key=_specificity):
        applies = limit.wallet_id == wallet_id or (
            limit.wallet_id is None and limit.profile_id in (profile_id, None)
        )
        if applies and limit.limit_type in types:
            chosen.setdefault(limit.limit_type, limit)
    return chosen


def _specificity(limit: TransactionLimit) -> int:
    return 0 if limit.wallet_id else 1 if limit.profile_id else 2


async def check(
    session: AsyncSession, limits: dict[L, TransactionLimit], *, wallet_id: str, amount: Decimal
) -> None:
    """LIMIT_EXCEEDED if moving `amount` through `wallet_id` breaks one of `limits`."""
    for kind, limit in sorted(limits.items()):
        if kind is L.SINGLE_TRANSACTION:
            _refuse_over(limit, used=Decimal(0), amount=amount)
        elif kind is L.VELOCITY_CHECK:
            minutes = limit.time_window_minutes or 60
            used = await holds.usage(session, wallet_id, side="send", seconds=minutes * 60)
            if limit.max_count is not None and used.count + 1 > limit.max_count:
                raise LimitExceeded(
                    f"at most {limit.max_count} transfers in {minutes} minutes",
                    limitType=kind.value,
                    limitId=limit.limit_id,
                    remaining=max(limit.max_count - used.count, 0),
                )
        else:
            side = "send" if kind in SEND else "receive"
            used = await holds.usage(session, wallet_id, side=side, seconds=_WINDOW[kind])
            _refuse_over(limit, used=used.amount, amount=amount)


def _refuse_over(limit: TransactionLimit, *, used: Decimal, amount: Decimal) -> None:
    if used + amount > limit.limit_amount:
        remaining = max(limit.limit_amount - used, Decimal(0))
        raise LimitExceeded(
            f"{limit.limit_type.value} limit {limit.limit_amount:f}: {remaining:f} remains",
            limitType=limit.limit_type.value,
            limitId=limit.limit_id,
            limit=f"{limit.limit_amount:f}",
            remaining=f"{remaining:f}",
        )
