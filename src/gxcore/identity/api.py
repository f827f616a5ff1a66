"""/api/v1/registration: the progressive registration endpoints (svc-identity).

Each handler is one unit of work (gxcore.http.Session): the service writes, the request commits.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from gxcore.bodies import Ident
from gxcore.http import CREATED, Now, Session, app_context
from gxcore.identity import registration as service
from gxcore.identity.registration import Context
from gxcore.identity.schemas import (
    DobGender,
    EmailStart,
    NameCountry,
    OtpVerify,
    PasswordSet,
    PhoneSet,
    RegistrationRef,
    RegistrationStatus,
)

router = APIRouter(prefix="/registration", tags=["registration"])


def _context(request: Request, session: Session, now: Now) -> Context:
    gx = app_context(request)
    return Context(session=session, database=gx.database, now=now, otp_key=gx.otp_key)


Ctx = Annotated[Context, Depends(_context, scope="function")]


@router.post("/email", status_code=CREATED)
async def start(body: EmailStart, ctx: Ctx) -> RegistrationStatus:
    """Start a registration: a code goes to the address. Same answer whether or not it is new."""
    return await service.start(body, ctx=ctx)


@router.post("/email/verify")
async def verify_email(body: OtpVerify, ctx: Ctx) -> RegistrationStatus:
    return await service.verify_email(body, ctx=ctx)


@router.post("/email/resend")
async def resend_email(body: RegistrationRef, ctx: Ctx) -> RegistrationStatus:
    return await service.resend_email(body, ctx=ctx)


@router.post("/name-country")
async def name_country(body: NameCountry, ctx: Ctx) -> RegistrationStatus:
    return await service.set_name_country(body, ctx=ctx)


@router.post("/dob-gender")
async def dob_gender(body: DobGender, ctx: Ctx) -> RegistrationStatus:
    return await service.set_dob_gender(body, ctx=ctx)


@router.post("/password")
async def password(body: PasswordSet, ctx: Ctx) -> RegistrationStatus:
    return await service.set_password(body, ctx=ctx)


@router.post("/phone")
async def phone(body: PhoneSet, ctx: Ctx) -> RegistrationStatus:
    return await service.set_phone(body, ctx=ctx)


@router.post("/phone/verify")
async def verify_phone(body: OtpVerify, ctx: Ctx) -> RegistrationStatus:
    """The last step: a right code completes the registration and creates the profile."""
    return await service.verify_phone(body, ctx=ctx)


@router.post("/phone/resend")
async def resend_phone(body: RegistrationRef, ctx: Ctx) -> RegistrationStatus:
    return await service.resend_phone(body, ctx=ctx)


@router.get("/{registration_id}")
async def get(registration_id: Ident, ctx: Ctx) -> RegistrationStatus:
    return await service.get(registration_id, ctx=ctx)
