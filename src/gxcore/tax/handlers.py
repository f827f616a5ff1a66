"""Projector handlers for the velocity tax: the payer's TAX entry and balances, as postings.

The tax moves value from the account to its country's treasury (and the redistribution pool);
only the accounts a wallet mirrors are written (a treasury has none today).
"""

from __future__ import annotations

from gxcore.cqrs.postings import Posting
from gxcore.enums import OffChainTxType
from gxcore.ledger import events as ev


def velocity_tax_postings(p: ev.VelocityTaxApplied) -> list[Posting]:
    return [
        Posting(p.account_id, p.balance, OffChainTxType.TAX, p.treasury_account_id, p.amount),
        Posting(p.treasury_account_id, p.treasury_balance),
    ]
