"""One relationship row as each of its sides sees it, and the rows a user is a side of.

A row is stated by its initiator (`relationType`: what the related person is to them); the
related person sees the converse (`trust.score.seen_from_other_side`), which for a CHILD needs
the initiator's gender. Shared by the use cases (gxcore.trust.relationships) and the scores
(gxcore.trust.scores), so both read a row the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sqlalchemy import ColumnElement, Select, or_, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from gxcore.db.scope import tenant_of
from gxcore.enums import Gender, RelationshipStatus
from gxcore.enums import RelationType as R
from gxcore.identity.models import UserProfile
from gxcore.trust.models import FamilyRelationship
from gxcore.trust.schemas import RelationshipRead
from gxcore.trust.score import seen_from_other_side

S = RelationshipStatus


@dataclass(frozen=True)
class Seen:
    """A row with its initiator's gender (which tells the related side father from mother)."""

    row: FamilyRelationship
    initiator_gender: Gender | str | None

    def type_for(self, profile_id: str) -> R:
        """What the other person of the row is to `profile_id` (one of its sides)."""
        if self.row.initiator_profile_id == profile_id:
            return self.row.relation_type
        gender = None if self.initiator_gender is None else Gender(self.initiator_gender)
        return seen_from_other_side(self.row.relation_type, gender)

    def other(self, profile_id: str) -> str | None:
        r = self.row
        if r.initiator_profile_id == profile_id:
            return r.related_profile_id
        return r.initiator_profile_id


def with_gender() -> Select[FamilyRelationship, str | None]:
    return select(FamilyRelationship, UserProfile.gender).join(
        UserProfile, UserProfile.profile_id == FamilyRelationship.initiator_profile_id
    )


def involving(profile_id: str) -> ColumnElement[bool]:
    return or_(
        FamilyRelationship.initiator_profile_id == profile_id,
        FamilyRelationship.related_profile_id == profile_id,
    )


async def rows_of(session: AsyncSession, profile_id: str) -> list[Seen]:
    """Every row `profile_id` is a side of (markings included), with the initiators' genders."""
    stmt = with_gender().where(involving(profile_id))
    # Fresh values even for rows this session loaded before it took the users' locks.
    result = await session.execute(stmt.execution_options(populate_existing=True))
    return [Seen(row, gender) for row, gender in result.all()]


async def lock_profiles(session: AsyncSession, *profile_ids: str | None) -> None:
    """Transaction-scoped advisory locks on the users' relationships, in a fixed order."""
    tenant = tenant_of(session, "relationships change in a tenant scope")
    for pid in sorted({p for p in profile_ids if p is not None}):
        await session.execute(
            text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
            {"key": f"trust:{tenant}:{pid}"},
        )


def read(seen: Seen, viewer: str) -> RelationshipRead:
    r = seen.row
    direction: Literal["SENT", "RECEIVED", "MARKING"]
    if r.initiator_profile_id != viewer:
        direction = "RECEIVED"
    elif r.related_profile_id is None and r.related_email is None:
        direction = "MARKING"
    else:
        direction = "SENT"
    other = seen.other(viewer)
    if direction == "SENT" and r.related_email is not None and r.status is S.PENDING:
        other = None  # an email invitation does not tell its sender whether the address is known
    return RelationshipRead(
        relationshipId=r.relationship_id,
        relationType=seen.type_for(viewer),
        direction=direction,
        otherProfileId=other,
        relatedEmail=r.related_email if direction == "SENT" else None,
        status=r.status,
        statusDocumentUrl=r.status_document_url,
        statusDocumentHash=r.status_document_hash,
        statusRemarks=r.status_remarks,
        confirmedAt=r.confirmed_at,
        rejectedAt=r.rejected_at,
        pointsAwarded=r.points_awarded,
        isApplicable=r.is_applicable,
        createdAt=r.created_at,
        updatedAt=r.updated_at,
    )
