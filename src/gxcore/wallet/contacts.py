"""A user's address book: beneficiaries (users they pay) and contacts (with favourites, notes
and blocking). Each user sees and changes only their own; another's is not found."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from gxcore.audit import service as audit
from gxcore.db import pages
from gxcore.enums import AuditEventType, ContactStatus
from gxcore.errors import AlreadyExists, BeneficiaryNotFound, ContactNotFound, UserNotFound
from gxcore.identity.access import Principal
from gxcore.identity.models import UserProfile
from gxcore.wallet.models import Beneficiary, Contact
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


def _beneficiary(b: Beneficiary) -> BeneficiaryRead:
    return BeneficiaryRead(
        beneficiaryId=b.beneficiary_id,
        beneficiaryIdentityId=b.beneficiary_identity_id,
        nickname=b.nickname,
        createdAt=b.created_at,
    )


def _contact(c: Contact) -> ContactRead:
    return ContactRead(
        contactId=c.contact_id,
        contactProfileId=c.contact_profile_id,
        displayName=c.display_name,
        phoneNumber=c.phone_number,
        email=c.email,
        notes=c.notes,
        isFavorite=c.is_favorite,
        transactionCount=c.transaction_count,
        lastTransactionAt=c.last_transaction_at,
        status=c.status,
        createdAt=c.created_at,
    )


async def _require_user(session: AsyncSession, profile_id: str, field: str) -> None:
    if await session.get(UserProfile, profile_id) is None:
        raise UserNotFound(f"no user {profile_id!r}", field=field)


async def _add(session: AsyncSession, row: Beneficiary | Contact, what: str) -> None:
    try:
        async with session.begin_nested():
            session.add(row)
            await session.flush()
    except IntegrityError as e:
        raise AlreadyExists(f"this {what} is in the address book already") from e
    await session.refresh(row)


# --------------------------------------------------------------------------------------------
# Beneficiaries
# --------------------------------------------------------------------------------------------


async def beneficiaries(
    *, session: AsyncSession, principal: Principal, paging: pages.PageRequest
) -> BeneficiaryPage:
    """By nickname."""
    query = select(Beneficiary).where(Beneficiary.owner_profile_id == principal.profile_id)
    order = pages.Order.oldest_first(Beneficiary.nickname, Beneficiary.beneficiary_id)
    found = await pages.fetch_scalars(session, query, order, paging)
    return BeneficiaryPage.of(found, [_beneficiary(b) for b in found.rows])


async def add_beneficiary(
    body: BeneficiaryIn, *, session: AsyncSession, principal: Principal
) -> BeneficiaryRead:
    await _require_user(session, body.beneficiaryIdentityId, "beneficiaryIdentityId")
    row = Beneficiary(
        owner_profile_id=principal.profile_id,
        beneficiary_identity_id=body.beneficiaryIdentityId,
        nickname=body.nickname,
    )
    await _add(session, row, "beneficiary")
    await audit.record(
        session,
        event_type=AuditEventType.BENEFICIARY_ADDED,
        resource_type="Beneficiary",
        resource_id=row.beneficiary_id,
        target_profile_id=principal.profile_id,
        new={"beneficiaryIdentityId": body.beneficiaryIdentityId},
    )
    return _beneficiary(row)


async def _own_beneficiary(
    session: AsyncSession, beneficiary_id: str, principal: Principal
) -> Beneficiary:
    row = await session.get(Beneficiary, beneficiary_id)
    if row is None or row.owner_profile_id != principal.profile_id:
        raise BeneficiaryNotFound(f"no beneficiary {beneficiary_id!r}")
    return row


async def rename_beneficiary(
    beneficiary_id: str, body: BeneficiaryUpdate, *, session: AsyncSession, principal: Principal
) -> BeneficiaryRead:
    row = await _own_beneficiary(session, beneficiary_id, principal)
    row.nickname = body.nickname
    await session.flush()
    return _beneficiary(row)


async def remove_beneficiary(
    beneficiary_id: str, *, session: AsyncSession, principal: Principal
) -> None:
    row = await _own_beneficiary(session, beneficiary_id, principal)
    await session.delete(row)
    await audit.record(
        session,
        event_type=AuditEventType.BENEFICIARY_REMOVED,
        resource_type="Beneficiary",
        resource_id=beneficiary_id,
        target_profile_id=principal.profile_id,
    )


# --------------------------------------------------------------------------------------------
# Contacts
# --------------------------------------------------------------------------------------------


#: Favourites first, then by name.
_CONTACTS = pages.Order(
    ((Contact.is_favorite, True), (Contact.display_name, False), (Contact.contact_id, False))
)


async def contacts(
    *,
    session: AsyncSession,
    principal: Principal,
    paging: pages.PageRequest,
    status: ContactStatus | None = None,
) -> ContactPage:
    """Favourites first, then by name."""
    query = select(Contact).where(Contact.owner_profile_id == principal.profile_id)
    if status is not None:
        query = query.where(Contact.status == status)
    found = await pages.fetch_scalars(session, query, _CONTACTS, paging)
    return ContactPage.of(found, [_contact(c) for c in found.rows])


async def add_contact(
    body: ContactIn, *, session: AsyncSession, principal: Principal
) -> ContactRead:
    if body.contactProfileId is not None:
        await _require_user(session, body.contactProfileId, "contactProfileId")
    row = Contact(
        owner_profile_id=principal.profile_id,
        contact_profile_id=body.contactProfileId,
        display_name=body.displayName,
        phone_number=body.phoneNumber,
        email=body.email,
        notes=body.notes,
        is_favorite=body.isFavorite,
    )
    await _add(session, row, "contact")
    return _contact(row)


async def _own_contact(session: AsyncSession, contact_id: str, principal: Principal) -> Contact:
    row = await session.get(Contact, contact_id)
    if row is None or row.owner_profile_id != principal.profile_id:
        raise ContactNotFound(f"no contact {contact_id!r}")
    return row


async def update_contact(
    contact_id: str, body: ContactUpdate, *, session: AsyncSession, principal: Principal
) -> ContactRead:
    row = await _own_contact(session, contact_id, principal)
    changes = body.model_dump(exclude_unset=True, exclude_none=True)
    for field, attribute in (
        ("displayName", "display_name"),
        ("notes", "notes"),
        ("isFavorite", "is_favorite"),
        ("status", "status"),
    ):
        if field in changes:
            setattr(row, attribute, changes[field])
    await session.flush()
    await session.refresh(row)
    return _contact(row)


async def remove_contact(contact_id: str, *, session: AsyncSession, principal: Principal) -> None:
    await session.delete(await _own_contact(session, contact_id, principal))


async def blocked_by(session: AsyncSession, *, owner_id: str, profile_id: str) -> bool:
    """Whether `owner_id` has blocked `profile_id` among their contacts."""
    found = await session.scalar(
        select(Contact.contact_id).where(
            Contact.owner_profile_id == owner_id,
            Contact.contact_profile_id == profile_id,
            Contact.status == ContactStatus.BLOCKED,
        )
    )
    return found is not None


async def count_transfer(
    session: AsyncSession, *, owner_id: str, profile_id: str, at: datetime
) -> None:
    """A transfer from `owner_id` to `profile_id`: their contact entry (if any) counts it."""
    await session.execute(
        update(Contact)
        .where(Contact.owner_profile_id == owner_id, Contact.contact_profile_id == profile_id)
        .values(transaction_count=Contact.transaction_count + 1, last_transaction_at=at)
    )
