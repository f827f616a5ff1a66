"""/api/v1: loan applications, their approval and a borrower's loans (svc-loanpool)."""

from __future__ import annotations

from fastapi import APIRouter

from gxcore.bodies import Ident
from gxcore.http import ACCEPTED, Paging, Session
from gxcore.identity.principal import CurrentAdmin, CurrentUser
from gxcore.loans import service
from gxcore.loans.schemas import LoanAccepted, LoanApplication, LoanPage, LoanRead
from gxcore.wallet.schemas import CommandAccepted

router = APIRouter(tags=["loans"])


@router.post("/loans", status_code=ACCEPTED)
async def apply(body: LoanApplication, user: CurrentUser, session: Session) -> LoanAccepted:
    """Apply for a loan from the loan pool, pledging a document as collateral."""
    return await service.apply(body, session=session, principal=user)


@router.get("/loans/{loan_id}")
async def loan(loan_id: Ident, user: CurrentUser, session: Session) -> LoanRead:
    """A loan, for its borrower or an administrator."""
    return await service.get(loan_id, session=session, principal=user)


@router.post("/loans/{loan_id}/approve", status_code=ACCEPTED)
async def approve(loan_id: Ident, admin: CurrentAdmin, session: Session) -> CommandAccepted:
    """Approve an application (administrators): the ledger pays it out of the loan pool."""
    return await service.approve(loan_id, session=session, principal=admin)


@router.get("/users/{borrower_id}/loans")
async def borrower_loans(
    borrower_id: Ident,
    user: CurrentUser,
    session: Session,
    paging: Paging,
) -> LoanPage:
    """A borrower's loans (the borrower or an administrator), newest first."""
    return await service.list_for(borrower_id, session=session, principal=user, paging=paging)
