"""/api/v1/admin: system administration of the tenant (svc-admin); administrators only.

SUPER_ADMIN: bootstrap, pause, resume, parameters, appointing administrators (and genesis, in
gxcore.wallet.api). ADMIN: the rest. Each write is a ledger admin command through the outbox,
audited, answered 202 with the command; reads answer from the projector's read models. The
writes here are served while the system is paused (`WHILE_PAUSED`): the ledger takes admin
commands while paused, and resuming must be possible.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from gxcore.admin import countries, system
from gxcore.admin.schemas import (
    Appointment,
    Counters,
    CountriesInit,
    CountryPage,
    CountryStats,
    ParameterRead,
    ParameterUpdate,
    PauseRequest,
    SystemStatus,
)
from gxcore.http import ACCEPTED, WHILE_PAUSED, Now, Paging, Session
from gxcore.identity import review
from gxcore.identity.access import UserRole
from gxcore.identity.principal import CurrentAdmin, CurrentSuperAdmin
from gxcore.identity.schemas import UserRead
from gxcore.wallet import treasury
from gxcore.wallet.schemas import CommandAccepted, TreasuryActivation

router = APIRouter(prefix="/admin", tags=["admin"])
CountryCode = Annotated[str, Path(pattern=r"^[A-Za-z]{2}$")]
ParamKey = Annotated[str, Path(min_length=1, max_length=100)]


@router.post("/bootstrap", status_code=ACCEPTED, openapi_extra=WHILE_PAUSED)
async def bootstrap(admin: CurrentSuperAdmin, session: Session) -> CommandAccepted:
    """Open the tenant's ledger (BOOTSTRAP_SYSTEM; queued already when the tenant was created:
    this answers that command, or sends it again once it FAILED)."""
    return await system.bootstrap(session)


@router.post("/system/pause", status_code=ACCEPTED, openapi_extra=WHILE_PAUSED)
async def pause(
    admin: CurrentSuperAdmin, session: Session, body: PauseRequest | None = None
) -> CommandAccepted:
    """PAUSE_SYSTEM: once applied, every user write is refused (503 SYSTEM_PAUSED)."""
    return await system.pause(session, body.reason if body else None)


@router.post("/system/resume", status_code=ACCEPTED, openapi_extra=WHILE_PAUSED)
async def resume(admin: CurrentSuperAdmin, session: Session) -> CommandAccepted:
    """RESUME_SYSTEM: writes are served again once applied."""
    return await system.resume(session)


@router.get("/system/status")
async def status(admin: CurrentAdmin, session: Session) -> SystemStatus:
    return await system.status(session)


@router.post("/countries/initialize", status_code=ACCEPTED, openapi_extra=WHILE_PAUSED)
async def initialize_countries(
    body: CountriesInit, admin: CurrentAdmin, session: Session
) -> CommandAccepted:
    """INITIALIZE_COUNTRY_DATA: register countries (ISO code, population share) on the ledger."""
    return await countries.initialize(session, body)


@router.get("/countries")
async def list_countries(admin: CurrentAdmin, session: Session, paging: Paging) -> CountryPage:
    """By code, in pages."""
    return await countries.list_countries(session, paging)


@router.get("/countries/{country_code}/stats")
async def country_stats(
    country_code: CountryCode, admin: CurrentAdmin, session: Session
) -> CountryStats:
    return await countries.stats(session, country_code.upper())


@router.post("/parameters", status_code=ACCEPTED, openapi_extra=WHILE_PAUSED)
async def update_parameter(
    body: ParameterUpdate, admin: CurrentSuperAdmin, session: Session
) -> CommandAccepted:
    """UPDATE_SYSTEM_PARAMETER for a parameter the ledger keeps, validated as the ledger will."""
    return await system.update_parameter(session, body.paramKey, body.paramValue)


@router.get("/parameters/{param_id}")
async def read_parameter(
    param_id: ParamKey, admin: CurrentAdmin, session: Session
) -> ParameterRead:
    return await system.read_parameter(session, param_id)


@router.post("/admins", openapi_extra=WHILE_PAUSED)
async def appoint(
    body: Appointment, admin: CurrentSuperAdmin, session: Session, now: Now
) -> UserRead:
    """Give an ACTIVE user the role, and APPOINT_ADMIN for their ledger account."""
    return await review.appoint(
        body.userId,
        UserRole(body.role),
        review=review.Review(session=session, admin=admin, now=now),
    )


@router.post("/treasury/activate", status_code=ACCEPTED, openapi_extra=WHILE_PAUSED)
async def activate_treasury(
    body: TreasuryActivation, admin: CurrentAdmin, session: Session
) -> CommandAccepted:
    """ACTIVATE_TREASURY, as `POST /treasury` (the same service)."""
    return await treasury.request_activation(body.countryCode, session=session)


@router.get("/counters")
async def counters(admin: CurrentAdmin, session: Session) -> Counters:
    return await system.counters(session)
