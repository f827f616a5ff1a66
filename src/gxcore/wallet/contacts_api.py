"""/api/v1/beneficiaries and /api/v1/contacts: the signed-in user's own address book."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from gxcore.bodies import Ident
from gxcore.enums import ContactStatus
from gxcore.http import CREATED, NO_CONTENT, Paging, Session
from gxcore.identity.principal import CurrentUser
from gxcore.wallet import contacts as service
from gxcore.wallet.schemas import (
    BeneficiaryIn,
    BeneficiaryPage,
    BeneficiaryRead,
    BeneficiaryUpdate,
    ContactIn,
    ContactPage,
    ContactRead,
    ContactUpdate,
)

router = APIRouter(tags=["address book"])


@router.get("/beneficiaries")
async def beneficiaries(user: CurrentUser, session: Session, paging: Paging) -> BeneficiaryPage:
    """By nickname, in pages."""
    return await service.beneficiaries(session=session, principal=user, paging=paging)


@router.post("/beneficiaries", status_code=CREATED)
async def add_beneficiary(
    body: BeneficiaryIn, user: CurrentUser, session: Session
) -> BeneficiaryRead:
    return await service.add_beneficiary(body, session=session, principal=user)


@router.put("/beneficiaries/{beneficiary_id}")
async def rename_beneficiary(
    beneficiary_id: Ident, body: BeneficiaryUpdate, user: CurrentUser, session: Session
) -> BeneficiaryRead:
    return await service.rename_beneficiary(beneficiary_id, body, session=session, principal=user)


@router.delete("/beneficiaries/{beneficiary_id}", status_code=NO_CONTENT)
async def remove_beneficiary(beneficiary_id: Ident, user: CurrentUser, session: Session) -> None:
    await service.remove_beneficiary(beneficiary_id, session=session, principal=user)


@router.get("/contacts")
async def contacts(
    user: CurrentUser,
    session: Session,
    paging: Paging,
    status: Annotated[ContactStatus | None, Query()] = None,
) -> ContactPage:
    """Favourites first, then by name, in pages; `status` filters (e.g. BLOCKED)."""
    return await service.contacts(session=session, principal=user, paging=paging, status=status)


@router.post("/contacts", status_code=CREATED)
async def add_contact(body: ContactIn, user: CurrentUser, session: Session) -> ContactRead:
    return await service.add_contact(body, session=session, principal=user)


@router.patch("/contacts/{contact_id}")
async def update_contact(
    contact_id: Ident, body: ContactUpdate, user: CurrentUser, session: Session
) -> ContactRead:
    """Rename, note, favourite, block (`status` BLOCKED) or unblock (ACTIVE) a contact."""
    return await service.update_contact(contact_id, body, session=session, principal=user)


@router.delete("/contacts/{contact_id}", status_code=NO_CONTENT)
async def remove_contact(contact_id: Ident, user: CurrentUser, session: Session) -> None:
    await service.remove_contact(contact_id, session=session, principal=user)
