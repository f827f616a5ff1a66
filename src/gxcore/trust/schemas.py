"""Relationship and trust-score bodies for /api/v1/relationships and the admin view."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, HttpUrl, StringConstraints, model_validator

from gxcore.bodies import Ident, RequestBody
from gxcore.db.pages import Page
from gxcore.enums import RelationshipStatus, RelationType
from gxcore.identity.schemas import Email

#: A document's SHA-256, hex: what proves a death or a divorce without storing the document.
DocumentHash = Annotated[str, StringConstraints(pattern=r"^[0-9a-fA-F]{64}$", to_lower=True)]
Remarks = Annotated[str, StringConstraints(max_length=500)]
#: The statuses a user may set by marking (the others come from the invited side's answer).
Marked = Literal[
    RelationshipStatus.NOT_APPLICABLE, RelationshipStatus.DECEASED, RelationshipStatus.DIVORCED
]


class RelationshipIn(RequestBody):
    """Invite someone as `relationType` (what they are to you): by profile, or by email."""

    relationType: RelationType
    relatedProfileId: Ident | None = None
    relatedEmail: Email | None = None

    @model_validator(mode="after")
    def _one_target(self) -> RelationshipIn:
        if (self.relatedProfileId is None) == (self.relatedEmail is None):
            raise ValueError("give exactly one of relatedProfileId and relatedEmail")
        return self


class Evidence(RequestBody):
    """A marking's supporting document; DECEASED and DIVORCED need one."""

    documentHash: DocumentHash | None = None
    documentUrl: HttpUrl | None = None
    remarks: Remarks | None = None


class MarkIn(Evidence):
    """Mark a confirmed relationship: the relative DECEASED, the spouse DIVORCED, or not
    applicable after all."""

    status: Marked


class MarkingIn(Evidence):
    """Mark a relation type of your own: none applies (NOT_APPLICABLE), or the relative, who
    is not on the platform, DECEASED (a spouse: DIVORCED)."""

    relationType: RelationType
    status: Marked


class RelationshipRead(BaseModel):
    relationshipId: str
    #: What the other person is to the caller (a CHILD the caller invited sees the caller as
    #: their FATHER or MOTHER).
    relationType: RelationType
    #: SENT (the caller invited), RECEIVED (the caller was invited), MARKING (a type marking).
    direction: Literal["SENT", "RECEIVED", "MARKING"]
    otherProfileId: str | None
    #: The address an email invitation went to (shown to the inviter only).
    relatedEmail: str | None
    status: RelationshipStatus
    statusDocumentUrl: str | None
    statusDocumentHash: str | None
    statusRemarks: str | None
    confirmedAt: datetime | None
    rejectedAt: datetime | None
    pointsAwarded: int
    isApplicable: bool
    createdAt: datetime
    updatedAt: datetime


class RelationshipPage(Page[RelationshipRead]):
    pass


class TrustScoreRead(BaseModel):
    profileId: str
    familyScore: int
    businessScore: int
    friendsScore: int
    totalScore: int
    familyWeight: Decimal
    businessWeight: Decimal
    friendsWeight: Decimal
    calculationVersion: str
    lastCalculatedAt: datetime | None


class Bucket(BaseModel):
    #: Scores from `low` to `high`, both included.
    low: int
    high: int
    count: int


class TrustDistribution(BaseModel):
    count: int
    mean: Decimal
    buckets: list[Bucket]
