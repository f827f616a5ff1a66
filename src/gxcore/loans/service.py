"""svc-loanpool: loan applications with pledged collateral, and their approval (disbursement).

Collateral is a document (a title deed, an invoice...) pledged to one loan: the app records it
(`Collateral`, status PLEDGED) with the application, and the ledger records its SHA-256 as the
loan's `collateralHash`. It reserves none of the borrower's coins: a loan pledges an asset
outside the ledger, so the borrower's wallet and its holds are untouched. The ledger has no
repayment command (none of its 25 commands repays a loan), so collateral stays PLEDGED: the
release to RELEASED belongs with a repayment event once the contract has one.

Writes never touch the `Loan` read model (the projector's). Request ids: `loan:<id>` for the
application (ids are server-made), `approve-loan:<id>` for the approval (asked twice, the same
command answers; after a FAILED one, a successor id).
"""

from __future__ import annotations

from sqlalchemy import and_, select
from sqlalchemy.ext.asyncio import AsyncSession

from gxcore.audit import service as audit
from gxcore.cqrs.models import OutboxCommand
from gxcore.cqrs.outbox import enqueue, latest
from gxcore.db import pages
from gxcore.db.base import new_uuid
from gxcore.db.types import to_money
from gxcore.enums import AuditEventType, CollateralStatus, CommandType, OutboxStatus
from gxcore.errors import LoanNotFound, LoanNotPending, LoanPending, UserNotFound
from gxcore.governance.schemas import CommandProgress
from gxcore.governance.service import ledger_account
from gxcore.identity.access import Principal
from gxcore.identity.models import UserProfile
from gxcore.loans.handlers import APPLIED
from gxcore.loans.models import Collateral, Loan
from gxcore.loans.schemas import (
    CollateralRead,
    LoanAccepted,
    LoanApplication,
    LoanPage,
    LoanRead,
)
from gxcore.wallet.schemas import CommandAccepted

SERVICE = "svc-loanpool"
PENDING, REJECTED = "PENDING", "REJECTED"


def _apply_id(loan_id: str) -> str:
    return f"loan:{loan_id}"


def _approve_id(loan_id: str) -> str:
    return f"approve-loan:{loan_id}"


def _collateral(row: Collateral | None) -> CollateralRead | None:
    if row is None:
        return None
    return CollateralRead(
        collateralId=row.collateral_id,
        documentReference=row.document_reference,
        documentHash=row.document_hash,
        documentSize=row.document_size,
        documentMime=row.document_mime,
        status=row.status,
        createdAt=row.created_at,
    )


def _read(loan: Loan, collateral: Collateral | None) -> LoanRead:
    return LoanRead(
        loanId=loan.loan_id,
        borrowerId=loan.borrower_id,
        amount=loan.amount,
        purpose=loan.purpose,
        status=loan.status,
        collateralHash=loan.collateral_hash,
        appliedAt=loan.applied_at,
        approvedBy=loan.approved_by,
        approvedAt=loan.approved_at,
        collateral=_collateral(collateral),
        application=None,
        approval=None,
    )


def _unsent(loan_id: str, command: OutboxCommand, collateral: Collateral | None) -> LoanRead:
    """A loan only its application knows of: on its way, or refused by the ledger."""
    p = command.payload
    return LoanRead(
        loanId=loan_id,
        borrowerId=p["borrowerId"],
        amount=to_money(p["amount"]),
        purpose=p.get("purpose") or "",
        status=REJECTED if command.status is OutboxStatus.FAILED else PENDING,
        collateralHash=p.get("collateralHash"),
        appliedAt=None,
        collateral=_collateral(collateral),
        application=CommandProgress.of(command),
        approval=None,
    )


async def _account(session: AsyncSession, profile_id: str) -> str | None:
    return await session.scalar(
        select(UserProfile.fabric_user_id).where(UserProfile.profile_id == profile_id)
    )


# --------------------------------------------------------------------------------------------
# Reads
# --------------------------------------------------------------------------------------------


async def get(loan_id: str, *, session: AsyncSession, principal: Principal) -> LoanRead:
    """A loan for its borrower or an administrator (anyone else: not found), with its
    collateral and the progress of its application and approval."""
    loan = await session.scalar(select(Loan).where(Loan.loan_id == loan_id))
    application = await latest(session, _apply_id(loan_id))
    borrower = loan.borrower_id if loan is not None else None
    if borrower is None and application is not None:
        borrower = application.payload.get("borrowerId")
    if borrower is None or not (
        principal.is_admin or borrower == await _account(session, principal.profile_id)
    ):
        raise LoanNotFound(f"no loan {loan_id!r}", loanId=loan_id)
    collateral = await session.scalar(
        select(Collateral).where(Collateral.on_chain_loan_id == loan_id)
    )
    if loan is None:
        assert application is not None
        return _unsent(loan_id, application, collateral)
    view = _read(loan, collateral)
    view.application = CommandProgress.of(application)
    view.approval = CommandProgress.of(await latest(session, _approve_id(loan_id)))
    return view


async def list_for(
    borrower_id: str,
    *,
    session: AsyncSession,
    principal: Principal,
    paging: pages.PageRequest,
) -> LoanPage:
    """A borrower's loans on the ledger (applied or approved), newest first, in pages on
    (appliedAt, loanId); applications still on their way are read one by one (`get`)."""
    borrower = None
    if principal.may_see(borrower_id):
        borrower = (
            await session.execute(
                select(UserProfile.profile_id, UserProfile.fabric_user_id).where(
                    UserProfile.profile_id == borrower_id
                )
            )
        ).first()
    if borrower is None:
        raise UserNotFound(f"no user {borrower_id!r}", profileId=borrower_id)
    account = borrower.fabric_user_id
    if account is None:
        return LoanPage(items=[], nextCursor=None)
    query = (
        select(Loan, Collateral)
        .outerjoin(
            Collateral,
            and_(
                Collateral.tenant_id == Loan.tenant_id, Collateral.on_chain_loan_id == Loan.loan_id
            ),
        )
        .where(Loan.borrower_id == account)
    )
    order = pages.Order.newest_first(Loan.applied_at, Loan.loan_id)
    found = await pages.fetch(session, query, order, paging)
    return LoanPage.of(found, [_read(r[0], r[1]) for r in found.rows])


# --------------------------------------------------------------------------------------------
# Writes
# --------------------------------------------------------------------------------------------


async def apply(
    body: LoanApplication, *, session: AsyncSession, principal: Principal
) -> LoanAccepted:
    """APPLY_FOR_LOAN for the caller, its collateral pledged in the same transaction."""
    account = await ledger_account(session, principal)
    loan_id = new_uuid()
    pledge = body.collateral
    collateral = Collateral(
        on_chain_loan_id=loan_id,
        document_reference=pledge.documentReference,
        document_hash=pledge.documentHash,
        document_size=pledge.documentSize,
        document_mime=pledge.documentMime,
        status=CollateralStatus.PLEDGED,
    )
    session.add(collateral)
    command = await enqueue(
        session,
        service=SERVICE,
        command_type=CommandType.APPLY_FOR_LOAN,
        request_id=_apply_id(loan_id),
        payload={
            "loanId": loan_id,
            "borrowerId": account,
            "amount": f"{body.amount:f}",
            "collateralHash": pledge.documentHash,
            "purpose": body.purpose,
        },
    )
    await audit.record(
        session,
        event_type=AuditEventType.RECORD_CREATED,
        resource_type="Loan",
        resource_id=loan_id,
        target_profile_id=principal.profile_id,
        new={"amount": f"{body.amount:f}", "purpose": body.purpose, "commandId": command.id},
    )
    return LoanAccepted(commandId=command.id, status=command.status, loanId=loan_id)


async def approve(loan_id: str, *, session: AsyncSession, principal: Principal) -> CommandAccepted:
    """APPROVE_LOAN (administrators): the ledger disburses the amount from the loan pool."""
    loan = await session.scalar(select(Loan).where(Loan.loan_id == loan_id))
    if loan is None:
        application = await latest(session, _apply_id(loan_id))
        if application is not None and application.status is not OutboxStatus.FAILED:
            raise LoanPending(f"loan {loan_id!r} is not on the ledger yet", loanId=loan_id)
        raise LoanNotFound(f"no loan {loan_id!r}", loanId=loan_id)
    if loan.status != APPLIED:
        raise LoanNotPending(f"loan {loan_id!r} is already {loan.status}", loanStatus=loan.status)
    request_id = _approve_id(loan_id)
    sent = await latest(session, request_id)
    if sent is not None:
        if sent.status is not OutboxStatus.FAILED:
            return CommandAccepted(commandId=sent.id, status=sent.status)
        request_id = f"{request_id}:{sent.id}"
    command = await enqueue(
        session,
        service=SERVICE,
        command_type=CommandType.APPROVE_LOAN,
        request_id=request_id,
        payload={"loanId": loan_id, "approverId": principal.profile_id},
    )
    await audit.record(
        session,
        event_type=AuditEventType.TRANSACTION_APPROVED,
        resource_type="Loan",
        resource_id=loan_id,
        previous={"status": loan.status},
        new={"approve": True, "amount": f"{loan.amount:f}", "commandId": command.id},
    )
    return CommandAccepted(commandId=command.id, status=command.status)
