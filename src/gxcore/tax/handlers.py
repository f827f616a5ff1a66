"""Projector handlers for the velocity tax: the payer's TAX entry and balances, as postings, and
the day's snapshot marked paid.

The ledger debits the tax from the account and credits half (rounded half-even) to its country's
treasury and the rest to the redistribution pool, so the two add up to the tax exactly. Only the
accounts a row mirrors are written: the payer's wallet (its TAX entry, and its velocity-tax timer
restarted on the event's day, as the ledger restarts it) and the treasury (`TreasuryAccount`);
the redistribution pool has no read model, its share is in the event (and `EventLog`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select, update

from gxcore.cqrs.postings import Posting
from gxcore.enums import OffChainTxType
from gxcore.ledger import events as ev
from gxcore.ledger.port import LedgerEvent
from gxcore.ledger.state import tx_id_of
from gxcore.tax.models import HoardingTaxSnapshot
from gxcore.tax.rules import request_id
from gxcore.wallet import holdings

if TYPE_CHECKING:
    from gxcore.cqrs.projection import Batch


def velocity_tax_postings(p: ev.VelocityTaxApplied) -> list[Posting]:
    return [
        Posting(
            p.account_id,
            p.balance,
            OffChainTxType.TAX,
            p.treasury_account_id,
            p.amount,
            restarts_timer=True,
        ),
        Posting(p.treasury_account_id, p.treasury_balance),
    ]


async def velocity_tax_applied(batch: Batch, event: LedgerEvent, p: ev.VelocityTaxApplied) -> None:
    """Mark paid the snapshot whose command this event answers: the one unpaid snapshot of the
    payer's wallet whose request id (wallet, date) the ledger turned into this tx id. A tax
    applied by a command of no snapshot marks nothing; a replay finds it paid already."""
    tenant = event.tenant_id
    wallet = await holdings.by_account(batch.session, p.account_id, tenant_id=tenant)
    if wallet is None:
        return
    unpaid = await batch.session.execute(
        select(HoardingTaxSnapshot.snapshot_id, HoardingTaxSnapshot.snapshot_date).where(
            HoardingTaxSnapshot.tenant_id == tenant,
            HoardingTaxSnapshot.wallet_id == wallet.wallet_id,
            HoardingTaxSnapshot.tax_paid.is_(False),
            HoardingTaxSnapshot.tax_owed > 0,
        )
    )
    for snapshot_id, on in unpaid:
        if tx_id_of(tenant, request_id(wallet.wallet_id, on)) == event.tx_id:
            await batch.session.execute(
                update(HoardingTaxSnapshot)
                .where(
                    HoardingTaxSnapshot.tenant_id == tenant,
                    HoardingTaxSnapshot.snapshot_id == snapshot_id,
                )
                .values(tax_paid=True, paid_at=event.timestamp, fabric_tx_id=event.tx_id)
            )
            return
