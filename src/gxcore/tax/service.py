"""svc-tax: transfer fees quoted by the ledger's rule, velocity-tax eligibility, and the daily
velocity-tax run (snapshots and APPLY_VELOCITY_TAX commands).

The run writes one `HoardingTaxSnapshot` per wallet and date (the unique key
(tenantId, walletId, snapshotDate) makes a second run of a date write nothing) and, for each
wallet that owes the tax, an APPLY_VELOCITY_TAX command under a request id made of the wallet
and the date: both in the caller's transaction, so a snapshot never exists without its command.
The ledger decides and moves the money; the projector marks the snapshot paid
(`gxcore.tax.handlers`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from gxcore.admin import service as admin
from gxcore.audit import service as audit
from gxcore.cqrs.outbox import enqueue
from gxcore.db.base import new_uuid
from gxcore.db.scope import tenant_of
from gxcore.db.tenancy import Database
from gxcore.enums import AuditEventType, CommandType
from gxcore.errors import ValidationFailed, WalletNotFound
from gxcore.identity.access import Principal
from gxcore.ledger.contract import ZERO, transfer_fee
from gxcore.tax.models import HoardingTaxSnapshot
from gxcore.tax.rules import Assessment, Reason, assess, is_system_account, request_id
from gxcore.tax.schemas import Eligibility, FeeQuote, VelocityTaxReport
from gxcore.wallet import holdings

SERVICE = "svc-tax"
#: Wallets assessed per statement (and per transaction, for `gx jobs velocity-tax`).
PAGE = 1000

_MESSAGES = {
    Reason.ELIGIBLE: "the balance stayed above the threshold a full cycle: the tax is due",
    Reason.AT_OR_BELOW_THRESHOLD: "the balance is not above the threshold",
    Reason.TIMER_NOT_RUNNING: "the balance is above the threshold, but the timer starts only "
    "at its next change (the threshold was lowered since)",
    Reason.CYCLE_INCOMPLETE: "the balance has not stayed above the threshold a full cycle yet",
    Reason.TAX_ROUNDS_TO_ZERO: "the tax on the amount above the threshold rounds to zero",
    Reason.SYSTEM_ACCOUNT: "system accounts are never taxed",
}


async def quote_fee(amount: Decimal, *, session: AsyncSession) -> FeeQuote:
    """The fee TRANSFER_TOKENS charges for `amount`, by the ledger's own function and the
    tenant's parameters (as the transfer request computes it)."""
    params = await admin.ledger_params(session)
    fee = transfer_fee(amount, params)
    return FeeQuote(
        amount=amount,
        fee=fee,
        total=amount + fee,
        feeBps=params.transfer_fee_bps,
        feeThreshold=params.transfer_fee_threshold,
    )


async def eligibility(
    account_id: str, *, session: AsyncSession, principal: Principal, on: date, today: date
) -> Eligibility:
    """Whether the wallet of `account_id` owes the velocity tax on `on` (today, or a later day
    for its current balance), why, and the days left. Its owner's or an administrator's: anyone
    else is told there is no such wallet. An earlier day is refused: today's balance says
    nothing about a day gone by."""
    if on < today:
        raise ValidationFailed(f"{on} is before today ({today})", field="asOf")
    found = await holdings.by_account(session, account_id)
    if found is None or not principal.may_see(found.profile_id):
        raise WalletNotFound(f"no wallet for account {account_id!r}", accountId=account_id)
    a = assess(
        account_id,
        found.balance,
        found.above_threshold_since,
        on,
        await admin.ledger_params(session),
    )
    return Eligibility(
        accountId=account_id,
        walletId=found.wallet_id,
        asOf=on,
        eligible=a.eligible,
        reason=a.reason,
        message=_MESSAGES[a.reason],
        balance=a.balance,
        threshold=a.threshold,
        aboveThresholdSince=a.since,
        daysHeld=a.days_held,
        cycleDays=a.cycle_days,
        daysRemaining=a.days_remaining,
        taxableAmount=a.taxable,
        rateBps=a.rate_bps,
        taxDue=a.tax,
        treasuryShare=a.treasury_share,
        redistributionShare=a.redistribution_share,
    )


@dataclass
class Progress:
    """Where a run stands: counts so far, and the account to go on after (None: done)."""

    on: date
    after: str | None = None
    done: bool = False
    wallets: int = 0
    snapshots: int = 0
    taxed: int = 0
    tax_owed: Decimal = ZERO

    def report(self) -> VelocityTaxReport:
        return VelocityTaxReport(
            date=self.on,
            wallets=self.wallets,
            snapshots=self.snapshots,
            taxed=self.taxed,
            taxOwed=self.tax_owed,
        )


def check_date(on: date, today: date) -> None:
    """A run is for today or a past day: the ledger taxes on its own day, never a future one."""
    if on > today:
        raise ValidationFailed(f"{on} is in the future (today is {today})", field="date")


async def run_page(session: AsyncSession, progress: Progress, *, limit: int = PAGE) -> None:
    """Assess the next `limit` wallets of the scope's tenant on `progress.on`: snapshot each
    one not snapshotted that day yet and queue the tax of those that owe it."""
    tenant = tenant_of(session, "the velocity tax runs in a tenant scope")
    params = await admin.ledger_params(session)
    found = await holdings.page(session, after=progress.after, limit=limit)
    progress.after = found[-1].account_id if found else progress.after
    progress.done = len(found) < limit
    taxable = [h for h in found if not is_system_account(h.account_id)]
    if not taxable:
        return
    progress.wallets += len(taxable)
    assessed = {
        h.wallet_id: (
            h,
            assess(h.account_id, h.balance, h.above_threshold_since, progress.on, params),
        )
        for h in taxable
    }
    written = await session.scalars(
        insert(HoardingTaxSnapshot)
        .values(
            [_snapshot(tenant, wallet_id, progress.on, a) for wallet_id, (_, a) in assessed.items()]
        )
        .on_conflict_do_nothing(index_elements=["tenantId", "walletId", "snapshotDate"])
        .returning(HoardingTaxSnapshot.wallet_id)
    )
    new = sorted(written.all())
    progress.snapshots += len(new)
    owing = [(w, *assessed[w]) for w in new if assessed[w][1].eligible]
    for wallet_id, holding, a in owing:
        await enqueue(
            session,
            service=SERVICE,
            command_type=CommandType.APPLY_VELOCITY_TAX,
            request_id=request_id(wallet_id, progress.on),
            payload={"accountId": holding.account_id},
        )
        progress.taxed += 1
        progress.tax_owed += a.tax
    if new:
        await audit.record(
            session,
            event_type=AuditEventType.RECORD_CREATED,
            resource_type="HoardingTaxSnapshot",
            metadata={
                "snapshotDate": progress.on.isoformat(),
                "snapshots": len(new),
                "taxed": [w for w, _, _ in owing],
            },
        )


async def run(session: AsyncSession, *, on: date, today: date) -> VelocityTaxReport:
    """The whole run for the scope's tenant in the caller's transaction (`POST
    /velocity-tax/apply`); `gx jobs velocity-tax` commits page by page instead."""
    check_date(on, today)
    progress = Progress(on)
    while not progress.done:
        await run_page(session, progress)
    return progress.report()


def _snapshot(tenant: str, wallet_id: str, on: date, a: Assessment) -> dict[str, object]:
    return {
        "snapshot_id": new_uuid(),
        "tenant_id": tenant,
        "wallet_id": wallet_id,
        "snapshot_date": on,
        "balance": a.balance,
        "days_held": a.days_held,
        "taxable_amount": a.taxable,
        "tax_rate": a.rate,
        "tax_owed": a.tax,
    }


async def run_job(
    db: Database,
    *,
    on: date,
    today: date,
    tenant_id: str | None = None,
    on_page: Callable[[str, int], None] | None = None,
) -> dict[str, VelocityTaxReport]:
    """`gx jobs velocity-tax`: the run of `on` for one tenant or every tenant, each page of
    wallets in a transaction of its own (a crash leaves whole pages; running again finishes
    the rest, writing nothing twice). `on_page` hears each page's tenant and wallet count."""
    check_date(on, today)
    async with db.system(reason="job: velocity tax, list tenants") as session:
        if tenant_id is not None:
            await admin.require_tenant(session, tenant_id)
            tenants = [tenant_id]
        else:
            tenants = [t.id for t in await admin.list_tenants(session)]
    reports = {}
    for tenant in tenants:
        progress = Progress(on)
        while not progress.done:
            before = progress.wallets
            async with db.tenant(tenant) as session:
                await run_page(session, progress)
            if on_page is not None:
                on_page(tenant, progress.wallets - before)
        reports[tenant] = progress.report()
    return reports
