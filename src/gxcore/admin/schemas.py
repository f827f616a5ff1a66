"""Request and response bodies of /api/v1/admin (system administration)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, Field, StringConstraints

from gxcore.bodies import RequestBody
from gxcore.db.pages import Page
from gxcore.enums import CommandType, LegalTenderStatusEnum, OutboxStatus

CountryCode = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]
Text = Annotated[str, StringConstraints(min_length=1, max_length=500)]


class PauseRequest(RequestBody):
    reason: Text | None = None


class PendingCommand(BaseModel):
    commandId: str
    type: CommandType
    status: OutboxStatus
    createdAt: datetime


class SystemStatus(BaseModel):
    """The tenant's system as the projector last saw the ledger, and the administration
    commands still on their way to it."""

    bootstrapped: bool
    paused: bool
    pauseReason: str | None
    changedAt: datetime | None = Field(description="when the ledger last bootstrapped, paused "
                                       "or resumed the system")  # fmt: skip
    pending: list[PendingCommand]


class CountryIn(RequestBody):
    countryCode: CountryCode
    populationShare: Annotated[Decimal, Field(ge=0, le=1, max_digits=10, decimal_places=9)]
    countryName: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = Field(
        default=None, description="default: the name `Country` holds for the code"
    )


class CountriesInit(RequestBody):
    countries: Annotated[list[CountryIn], Field(min_length=1, max_length=300)]


class CountryRead(BaseModel):
    countryCode: str
    countryName: str
    region: str | None
    status: LegalTenderStatusEnum
    effectiveDate: datetime
    treasuryActive: bool


class CountryPage(Page[CountryRead]):
    pass


class CountryStats(BaseModel):
    country: CountryRead
    users: dict[str, int] = Field(description="profiles of this nationality, by status")
    wallets: int
    walletBalance: Decimal = Field(description="the sum of those wallets' balances")
    treasuryBalance: Decimal | None = Field(description="null until the treasury is activated")


class ParameterUpdate(RequestBody):
    paramKey: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    paramValue: Annotated[str, StringConstraints(min_length=1, max_length=100)]


class ParameterRead(BaseModel):
    paramKey: str
    paramValue: str
    default: str
    description: str
    keptBy: Literal["ledger", "gxcore"] = Field(
        description="ledger: changed by POST /admin/parameters (UPDATE_SYSTEM_PARAMETER) or a "
        "governance proposal; gxcore: an off-ledger setting, changed by `gx db seed` defaults"
    )
    updatedAt: datetime | None


class Appointment(RequestBody):
    userId: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    role: Literal["ADMIN", "SUPER_ADMIN"] = "ADMIN"


class Counters(BaseModel):
    """Row counts of the tenant, for an operator's dashboard."""

    users: dict[str, int] = Field(description="profiles by status")
    wallets: int
    transactions: int
    treasuries: int
    countries: int
    outbox: dict[str, int] = Field(description="ledger commands by status")
    deadLetters: int = Field(description="events the projector could not apply (EventDLQ)")
