"""/api/v1/relationships (the caller's relationships and trust score) and the administrators'
view of the tenant's trust scores."""

from __future__ import annotations

from fastapi import APIRouter

from gxcore.bodies import Ident
from gxcore.enums import RelationshipStatus
from gxcore.http import CREATED, NO_CONTENT, Now, Paging, Session
from gxcore.identity.principal import CurrentAdmin, CurrentUser
from gxcore.trust import relationships as service
from gxcore.trust import scores
from gxcore.trust.relationships import Actor
from gxcore.trust.schemas import (
    MarkIn,
    MarkingIn,
    RelationshipIn,
    RelationshipPage,
    RelationshipRead,
    TrustDistribution,
    TrustScoreRead,
)

router = APIRouter(prefix="/relationships", tags=["relationships"])


@router.get("")
async def relationships(
    user: CurrentUser,
    session: Session,
    now: Now,
    paging: Paging,
    status: RelationshipStatus | None = None,
) -> RelationshipPage:
    """The caller's relationships (sent, received) and markings, newest first."""
    return await service.page(actor=Actor(session, user, now), paging=paging, status=status)


@router.post("", status_code=CREATED)
async def invite(
    body: RelationshipIn, user: CurrentUser, session: Session, now: Now
) -> RelationshipRead:
    """Invite a user (by profile) or a person not on the platform yet (by email)."""
    return await service.invite(body, actor=Actor(session, user, now))


@router.get("/trust-score")
async def trust_score(user: CurrentUser, session: Session) -> TrustScoreRead:
    return await scores.mine(session=session, principal=user)


@router.post("/markings", status_code=CREATED)
async def add_marking(
    body: MarkingIn, user: CurrentUser, session: Session, now: Now
) -> RelationshipRead:
    """Mark a family relation type of your own not applicable, or the relative (not on the
    platform) DECEASED, the spouse DIVORCED, with a supporting document."""
    return await service.add_marking(body, actor=Actor(session, user, now))


@router.get("/{relationship_id}")
async def relationship(
    relationship_id: Ident, user: CurrentUser, session: Session, now: Now
) -> RelationshipRead:
    return await service.get(relationship_id, actor=Actor(session, user, now))


@router.post("/{relationship_id}/confirm")
async def confirm(
    relationship_id: Ident, user: CurrentUser, session: Session, now: Now
) -> RelationshipRead:
    """The invited side confirms; both sides' trust scores change with it."""
    return await service.confirm(relationship_id, actor=Actor(session, user, now))


@router.post("/{relationship_id}/reject")
async def reject(
    relationship_id: Ident, user: CurrentUser, session: Session, now: Now
) -> RelationshipRead:
    """The invited side rejects; the inviter may not invite again for a while."""
    return await service.reject(relationship_id, actor=Actor(session, user, now))


@router.post("/{relationship_id}/mark")
async def mark(
    relationship_id: Ident, body: MarkIn, user: CurrentUser, session: Session, now: Now
) -> RelationshipRead:
    """Mark a confirmed relative DECEASED, a spouse DIVORCED (with a supporting document), or
    the relationship NOT_APPLICABLE."""
    return await service.mark(relationship_id, body, actor=Actor(session, user, now))


@router.delete("/{relationship_id}", status_code=NO_CONTENT)
async def remove(relationship_id: Ident, user: CurrentUser, session: Session, now: Now) -> None:
    """Either side removes a relationship (the inviter withdraws an invitation; the owner of a
    marking takes it back)."""
    await service.remove(relationship_id, actor=Actor(session, user, now))


admin = APIRouter(prefix="/admin/trust-scores", tags=["admin"])


@admin.get("/distribution")
async def distribution(admin: CurrentAdmin, session: Session) -> TrustDistribution:
    """The tenant's trust scores: how many, their mean, and how many in each tens bucket."""
    return await scores.distribution(session)
