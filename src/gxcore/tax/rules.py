"""The velocity tax as gxcore sees it before the ledger does: pure functions, no database.

`assess` says whether a wallet owes the tax on a day, and why not, with the ledger's own rule
(`gxcore.ledger.contract.plan_velocity_tax`) computing the amount, so the snapshot, the
eligibility route and the ledger agree to the last decimal. The ledger still decides: it
evaluates the command against its own state when it executes it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum

from gxcore.ledger.contract import (
    BPS,
    MAX_VELOCITY_TAX_BPS,
    ZERO,
    Params,
    Rejected,
    plan_velocity_tax,
)
from gxcore.ledger.rows import RESERVED_PREFIXES

#: `HoardingTaxSnapshot.taxRate` is numeric(5,4): a rate in basis points fits exactly.
RATE_QUANTUM = Decimal("0.0001")


class Reason(StrEnum):
    ELIGIBLE = "ELIGIBLE"
    AT_OR_BELOW_THRESHOLD = "AT_OR_BELOW_THRESHOLD"
    # Above the threshold, but the timer has not started: the threshold was lowered since the
    # balance last changed (the ledger starts the timer at the next change, as the projector).
    TIMER_NOT_RUNNING = "TIMER_NOT_RUNNING"
    CYCLE_INCOMPLETE = "CYCLE_INCOMPLETE"
    TAX_ROUNDS_TO_ZERO = "TAX_ROUNDS_TO_ZERO"
    SYSTEM_ACCOUNT = "SYSTEM_ACCOUNT"


@dataclass(frozen=True)
class Assessment:
    reason: Reason
    balance: Decimal
    threshold: Decimal
    since: date | None
    days_held: int
    cycle_days: int
    days_remaining: int
    taxable: Decimal
    rate_bps: int
    tax: Decimal  # due on the day assessed: zero unless eligible
    treasury_share: Decimal
    redistribution_share: Decimal

    @property
    def eligible(self) -> bool:
        return self.reason is Reason.ELIGIBLE

    @property
    def rate(self) -> Decimal:
        return (Decimal(self.rate_bps) / BPS).quantize(RATE_QUANTUM)


def is_system_account(account_id: str) -> bool:
    """Pools and treasuries: never taxed (the ledger taxes user and organization accounts)."""
    return account_id.startswith(RESERVED_PREFIXES)


def assess(
    account_id: str, balance: Decimal, since: date | None, on: date, params: Params
) -> Assessment:
    """The tax `account_id` owes on day `on`, holding `balance` above the threshold since
    `since` (NULL: not above it)."""
    threshold, cycle = params.velocity_tax_threshold, params.velocity_tax_cycle_days
    rate_bps = min(params.velocity_tax_rate_bps, MAX_VELOCITY_TAX_BPS)
    above = balance > threshold
    held = max((on - since).days, 0) if above and since is not None else 0
    taxable = balance - threshold if above else ZERO
    tax = treasury = redistribution = ZERO
    if is_system_account(account_id):
        reason, taxable = Reason.SYSTEM_ACCOUNT, ZERO
    elif not above:
        reason = Reason.AT_OR_BELOW_THRESHOLD
    elif since is None:
        reason = Reason.TIMER_NOT_RUNNING
    elif held < cycle:
        reason = Reason.CYCLE_INCOMPLETE
    else:
        try:
            plan = plan_velocity_tax(balance, since, on, params)
        except Rejected:  # above the threshold a full cycle: only a zero tax is refused
            reason = Reason.TAX_ROUNDS_TO_ZERO
        else:
            reason = Reason.ELIGIBLE
            tax, treasury = plan.tax, plan.treasury_share
            redistribution = plan.redistribution_share
    return Assessment(
        reason=reason,
        balance=balance,
        threshold=threshold,
        since=since if above else None,
        days_held=held,
        cycle_days=cycle,
        days_remaining=max(cycle - held, 0),
        taxable=taxable,
        rate_bps=rate_bps,
        tax=tax,
        treasury_share=treasury,
        redistribution_share=redistribution,
    )


def request_id(wallet_id: str, on: date) -> str:
    """APPLY_VELOCITY_TAX's request id for a wallet's snapshot of a day: one command each, and
    the projected event finds its snapshot again through the ledger's tx id of it."""
    return f"velocity-tax:{wallet_id}:{on.isoformat()}"
