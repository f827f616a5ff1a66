"""Requests and responses of svc-loanpool, with the reference API's field names (camelCase)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints

from gxcore.bodies import RequestBody
from gxcore.db.pages import Page
from gxcore.enums import CollateralStatus
from gxcore.governance.schemas import CommandProgress
from gxcore.wallet.schemas import Amount, CommandAccepted, Money


class CollateralIn(RequestBody):
    """A document pledged as security: where it is kept, and its SHA-256 (what the ledger
    records as the loan's `collateralHash`)."""

    documentReference: Annotated[str, StringConstraints(min_length=1, max_length=500)]
    documentHash: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")] = Field(
        description="SHA-256 of the document, 64 lowercase hex digits"
    )
    documentSize: Annotated[int, Field(ge=0, le=2**31 - 1)] | None = None
    documentMime: Annotated[str, StringConstraints(pattern=r"^[\w.+-]+/[\w.+-]+$")] | None = None


class LoanApplication(RequestBody):
    amount: Amount
    purpose: Annotated[str, StringConstraints(min_length=1, max_length=500)]
    collateral: CollateralIn


class LoanAccepted(CommandAccepted):
    loanId: str


class CollateralRead(BaseModel):
    collateralId: str
    documentReference: str
    documentHash: str
    documentSize: int | None
    documentMime: str | None
    status: CollateralStatus
    createdAt: datetime


class LoanRead(BaseModel):
    loanId: str
    borrowerId: str = Field(description="the borrower's ledger account")
    amount: Money
    purpose: str
    status: str = Field(
        description="PENDING (not on the ledger yet), REJECTED (refused by it: see "
        "`application.errorCode`), APPLIED or APPROVED (disbursed)"
    )
    collateralHash: str | None
    appliedAt: datetime | None
    approvedBy: str | None = None
    approvedAt: datetime | None = None
    collateral: CollateralRead | None
    application: CommandProgress | None
    approval: CommandProgress | None


class LoanPage(Page[LoanRead]):
    pass
