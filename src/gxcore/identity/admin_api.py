"""/api/v1/admin/users: the review queue and account actions; administrators only.

The named queues (`pending-blockchain`, `pending-onchain`, `frozen`) are the list filtered by
status; `deny` is `reject`; the two batches approve through `review.approve_many`.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query

from gxcore.bodies import Ident
from gxcore.enums import UserProfileStatus
from gxcore.http import Now, Paging, Session
from gxcore.identity import review as service
from gxcore.identity.principal import CurrentAdmin
from gxcore.identity.review import Review
from gxcore.identity.schemas import (
    BatchResult,
    OptionalReason,
    ReviewReason,
    UserBatch,
    UserPage,
    UserRead,
)
from gxcore.identity.users import get_or_raise, read

router = APIRouter(prefix="/admin/users", tags=["admin"])
#: The batch approval the reference's admin service serves beside /admin/users.
batches = APIRouter(prefix="/admin", tags=["admin"])
S = UserProfileStatus


def _review(session: Session, admin: CurrentAdmin, now: Now) -> Review:
    return Review(session=session, admin=admin, now=now)


Rev = Annotated[Review, Depends(_review, scope="function")]


@router.get("")
async def list_users(
    admin: CurrentAdmin,
    session: Session,
    paging: Paging,
    status: Annotated[list[UserProfileStatus] | None, Query()] = None,
) -> UserPage:
    """Profiles, oldest first, filtered by `status` (repeatable); in pages of `limit`."""
    return await service.list_page(session, paging=paging, statuses=status)


@router.get("/pending-blockchain")
async def pending_blockchain(admin: CurrentAdmin, session: Session, paging: Paging) -> UserPage:
    """Profiles awaiting an administrator's approval (PENDING_ADMIN_APPROVAL), oldest first."""
    return await service.list_page(session, paging=paging, statuses=[S.PENDING_ADMIN_APPROVAL])


@router.get("/pending-onchain")
async def pending_onchain(admin: CurrentAdmin, session: Session, paging: Paging) -> UserPage:
    """Approved profiles the ledger has not registered yet (APPROVED_PENDING_ONCHAIN)."""
    return await service.list_page(session, paging=paging, statuses=[S.APPROVED_PENDING_ONCHAIN])


@router.get("/frozen")
async def frozen(admin: CurrentAdmin, session: Session, paging: Paging) -> UserPage:
    """Frozen profiles (FROZEN), oldest first."""
    return await service.list_page(session, paging=paging, statuses=[S.FROZEN])


@router.post("/batch-register-onchain")
async def batch_register_onchain(body: UserBatch, review: Rev) -> BatchResult:
    """Send approved profiles to the ledger again: each must be APPROVED_PENDING_ONCHAIN; only
    those whose CREATE_USER FAILED get a new command. All or none."""
    items = await service.approve_many(
        body.userIds, sources=frozenset({S.APPROVED_PENDING_ONCHAIN}), review=review
    )
    return BatchResult(items=items)


@router.get("/{profile_id}")
async def get(profile_id: Ident, admin: CurrentAdmin, session: Session) -> UserRead:
    return read(await get_or_raise(session, profile_id))


@router.post("/{profile_id}/approve")
async def approve(profile_id: Ident, review: Rev) -> UserRead:
    """-> APPROVED_PENDING_ONCHAIN, with the ledger's CREATE_USER command in the outbox."""
    return await service.approve(profile_id, review=review)


@router.post("/{profile_id}/reject")
async def reject(profile_id: Ident, body: ReviewReason, review: Rev) -> UserRead:
    """-> DENIED, with the reason the user will read."""
    return await service.reject(profile_id, body.reason, review=review)


@router.post("/{profile_id}/deny")
async def deny(profile_id: Ident, body: ReviewReason, review: Rev) -> UserRead:
    """The reference's name for `reject`: -> DENIED, with the reason the user will read."""
    return await service.reject(profile_id, body.reason, review=review)


@router.post("/{profile_id}/{action}")
async def act(
    profile_id: Ident,
    action: Literal["freeze", "unfreeze", "suspend", "close"],
    review: Rev,
    body: OptionalReason | None = None,
) -> UserRead:
    """freeze (ACTIVE -> FROZEN, and FREEZE_WALLET to the ledger), unfreeze (FROZEN -> ACTIVE,
    and UNFREEZE_WALLET), suspend (-> SUSPENDED), close (-> CLOSED)."""
    return await service.apply(profile_id, action, body.reason if body else None, review=review)


@batches.post("/batch-approve-blockchain")
async def batch_approve_blockchain(body: UserBatch, review: Rev) -> BatchResult:
    """Approve profiles awaiting review (PENDING_ADMIN_APPROVAL), each as
    `/admin/users/{id}/approve` does. All or none."""
    items = await service.approve_many(
        body.userIds, sources=frozenset({S.PENDING_ADMIN_APPROVAL}), review=review
    )
    return BatchResult(items=items)
