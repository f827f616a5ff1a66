"""Projector handlers for the loan pool: applications and disbursements (`Loan`).

`Loan` mirrors the ledger's loan (APPLIED, then APPROVED when disbursed), keyed like it by
(tenant, loan id). The disbursement's balances are postings: the borrower's LOAN_DISBURSEMENT
entry.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gxcore.cqrs.postings import Posting
from gxcore.enums import OffChainTxType
from gxcore.ledger import events as ev
from gxcore.ledger.port import LedgerEvent
from gxcore.ledger.rows import LOAN_POOL
from gxcore.loans.models import Loan

if TYPE_CHECKING:
    from gxcore.cqrs.projection import Batch

APPLIED, APPROVED = "APPLIED", "APPROVED"


async def _loan(batch: Batch, event: LedgerEvent, loan_id: str) -> Loan | None:
    return await batch.session.get(Loan, (event.tenant_id, loan_id))


async def application_received(
    batch: Batch, event: LedgerEvent, p: ev.LoanApplicationReceived
) -> None:
    loan = await _loan(batch, event, p.loan_id)
    if loan is None:
        loan = Loan(loan_id=p.loan_id, tenant_id=event.tenant_id, created_at=event.timestamp)
        batch.session.add(loan)
    loan.borrower_id = p.borrower_id
    loan.amount = p.amount
    loan.collateral_hash = p.collateral_hash
    loan.purpose = p.purpose or ""
    loan.applied_at = event.timestamp
    loan.status = APPLIED


async def approved(batch: Batch, event: LedgerEvent, p: ev.LoanApproved) -> None:
    # The money moved whatever the read model holds: a loan whose application is missing here
    # (in the DLQ) is recorded from the approval rather than holding the balances back.
    loan = await _loan(batch, event, p.loan_id)
    if loan is None:
        loan = Loan(
            loan_id=p.loan_id,
            tenant_id=event.tenant_id,
            borrower_id=p.borrower_id,
            amount=p.amount,
            purpose="",
            applied_at=event.timestamp,
            created_at=event.timestamp,
        )
        batch.session.add(loan)
    loan.status = APPROVED
    loan.approved_by = p.approver_id
    loan.approved_at = event.timestamp


def disbursement_postings(p: ev.LoanApproved) -> list[Posting]:
    return [
        Posting(
            p.borrower_id, p.borrower_balance, OffChainTxType.LOAN_DISBURSEMENT, LOAN_POOL, p.amount
        )
    ]
