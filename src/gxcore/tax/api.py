"""/api/v1: transfer fees and the velocity tax (svc-tax)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Body, Query

from gxcore.bodies import Ident
from gxcore.http import ACCEPTED, Now, Session
from gxcore.identity.principal import CurrentAdmin, CurrentUser
from gxcore.tax import service
from gxcore.tax.schemas import Eligibility, FeeQuote, FeeRequest, VelocityTaxReport, VelocityTaxRun

router = APIRouter(tags=["tax"])


@router.post("/fees/calculate")
async def calculate_fee(body: FeeRequest, user: CurrentUser, session: Session) -> FeeQuote:
    """The fee a transfer of `amount` pays, by the ledger's rule and this tenant's parameters."""
    return await service.quote_fee(body.amount, session=session)


@router.get("/velocity-tax/eligibility/{account_id}")
async def eligibility(
    account_id: Ident,
    user: CurrentUser,
    session: Session,
    now: Now,
    as_of: Annotated[
        dt.date | None,
        Query(
            alias="asOf",
            description="a later day: what today's balance would owe then (default: today)",
        ),
    ] = None,
) -> Eligibility:
    """Whether the account's wallet owes the velocity tax today, why (or why not), and the days
    left in its cycle; with `asOf`, the same projected to a later day if the balance stays as it
    is now. The owner's or an administrator's."""
    return await service.eligibility(
        account_id, session=session, principal=user, on=as_of or now.date(), today=now.date()
    )


@router.post("/velocity-tax/apply", status_code=ACCEPTED)
async def apply(
    admin: CurrentAdmin,
    session: Session,
    now: Now,
    body: Annotated[VelocityTaxRun | None, Body()] = None,
) -> VelocityTaxReport:
    """Run the day's velocity tax for this tenant (administrators): a snapshot per wallet and an
    APPLY_VELOCITY_TAX command for each that owes it. A date already run changes nothing."""
    today = now.date()
    on = body.date if body is not None and body.date is not None else today
    return await service.run(session, on=on, today=today)
