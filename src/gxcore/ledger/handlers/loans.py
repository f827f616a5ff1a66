"""The loan pool: applications, and approval that disburses from the pool to the borrower."""

from __future__ import annotations

from gxcore.enums import CommandType as C
from gxcore.ledger import commands as cmd
from gxcore.ledger import events as ev
from gxcore.ledger.contract import Code, Kind, Rejected, positive_amount
from gxcore.ledger.handlers.registry import handles
from gxcore.ledger.rows import LOAN_POOL, Loan
from gxcore.ledger.state import Tx

APPLIED, APPROVED = "APPLIED", "APPROVED"


@handles(C.APPLY_FOR_LOAN, accounts=lambda p: (p.borrower_id,))
async def apply_for_loan(tx: Tx, p: cmd.ApplyForLoan) -> None:
    amount = positive_amount(p.amount)
    loan_id = p.loan_id or tx.derived_id("LOAN")
    if await tx.get(Loan, loan_id) is not None:
        raise Rejected(Code.LOAN_EXISTS, f"loan {loan_id!r} already exists")
    await tx.require(p.borrower_id, Kind.USER)
    tx.add(
        Loan(tx.tenant_id, loan_id, p.borrower_id, amount, p.collateral_hash, p.purpose, APPLIED)
    )
    tx.emit(
        ev.LoanApplicationReceived(
            loan_id=loan_id,
            borrower_id=p.borrower_id,
            amount=amount,
            collateral_hash=p.collateral_hash,
            purpose=p.purpose,
        )
    )


@handles(C.APPROVE_LOAN)
async def approve_loan(tx: Tx, p: cmd.ApproveLoan) -> None:
    loan = await tx.get(Loan, p.loan_id)
    if loan is None:
        raise Rejected(Code.LOAN_NOT_FOUND, f"no loan {p.loan_id!r}")
    if loan.status != APPLIED:
        raise Rejected(Code.LOAN_NOT_PENDING, f"loan {p.loan_id!r} is already {loan.status}")
    borrower = await tx.require(loan.borrower_id, Kind.USER)
    if borrower.frozen:
        raise Rejected(Code.ACCOUNT_FROZEN, f"account {loan.borrower_id!r} is frozen")
    pool = await tx.system(LOAN_POOL)
    if pool.balance < loan.amount:
        raise Rejected(
            Code.INSUFFICIENT_FUNDS, f"the loan pool holds {pool.balance}, {loan.amount} needed"
        )
    tx.debit(pool, loan.amount)
    tx.credit(borrower, loan.amount)
    tx.change(loan).status = APPROVED
    tx.emit(
        ev.LoanApproved(
            loan_id=loan.loan_id,
            borrower_id=loan.borrower_id,
            amount=loan.amount,
            borrower_balance=borrower.balance,
            loan_pool_balance=pool.balance,
            approver_id=p.approver_id,
        )
    )
