"""Requests and responses of svc-tax (fees and the velocity tax), camelCase like the reference."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, Field

from gxcore.bodies import RequestBody
from gxcore.tax.rules import Reason
from gxcore.wallet.schemas import Amount, Money


class FeeRequest(RequestBody):
    amount: Amount


class FeeQuote(BaseModel):
    """What TRANSFER_TOKENS charges for `amount`: the sender pays amount + fee."""

    amount: Money
    fee: Money
    total: Money
    feeBps: int
    feeThreshold: Money = Field(description="amounts above this pay the fee")


class Eligibility(BaseModel):
    accountId: str
    walletId: str
    asOf: dt.date
    eligible: bool
    reason: Reason
    message: str
    balance: Money
    threshold: Money
    aboveThresholdSince: dt.date | None
    daysHeld: int
    cycleDays: int
    daysRemaining: int = Field(
        description="days still to hold above the threshold before the tax is due (a full "
        "cycle once the balance rises above it, when it is not)"
    )
    taxableAmount: Money
    rateBps: int
    taxDue: Money
    treasuryShare: Money
    redistributionShare: Money


class VelocityTaxRun(RequestBody):
    date: dt.date | None = Field(default=None, description="the snapshot date; default today")


class VelocityTaxReport(BaseModel):
    date: dt.date
    wallets: int = Field(description="wallets assessed (system accounts excluded)")
    snapshots: int = Field(description="snapshots written now (a date already run writes none)")
    taxed: int = Field(description="APPLY_VELOCITY_TAX commands queued now")
    taxOwed: Money = Field(description="the tax those commands ask for, together")
