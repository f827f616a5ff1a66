"""trust models."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from sqlalchemy import ForeignKey, Index, Numeric, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from gxcore.db.base import NOW, Base, TenantScoped, UpdatedAt, new_uuid
from gxcore.enums import RelationshipStatus, RelationType

if TYPE_CHECKING:
    from gxcore.identity.models import UserProfile


class FamilyRelationship(TenantScoped, Base):
    __tablename__ = "FamilyRelationship"
    __table_args__ = (
        Index(
            None,
            "tenant_id",
            "initiator_profile_id",
            "related_profile_id",
            "relation_type",
            unique=True,
        ),
        Index(None, "tenant_id", "related_profile_id"),
        Index(None, "tenant_id", "status"),
        Index(None, "tenant_id", "relation_type", "status"),
    )
    relationship_id: Mapped[str] = mapped_column(primary_key=True, default=new_uuid)
    tenant_id: Mapped[str]
    initiator_profile_id: Mapped[str] = mapped_column(
        ForeignKey("UserProfile.profile_id", ondelete="CASCADE", onupdate="CASCADE")
    )
    related_profile_id: Mapped[str | None] = mapped_column(
        ForeignKey("UserProfile.profile_id", ondelete="CASCADE", onupdate="CASCADE")
    )
    related_email: Mapped[str | None]
    relation_type: Mapped[RelationType]
    status: Mapped[RelationshipStatus] = mapped_column(server_default="PENDING")
    status_document_url: Mapped[str | None]
    status_document_hash: Mapped[str | None]
    status_remarks: Mapped[str | None]
    confirmed_at: Mapped[datetime | None]
    rejected_at: Mapped[datetime | None]
    points_awarded: Mapped[int] = mapped_column(server_default=text("0"))
    is_applicable: Mapped[bool] = mapped_column(server_default=text("true"))
    created_at: Mapped[datetime] = mapped_column(server_default=NOW)
    updated_at: Mapped[UpdatedAt]
    initiator: Mapped[UserProfile] = relationship(foreign_keys=[initiator_profile_id])
    related: Mapped[UserProfile | None] = relationship(foreign_keys=[related_profile_id])


class TrustScore(TenantScoped, Base):
    __tablename__ = "TrustScore"
    __table_args__ = (Index(None, "tenant_id", "total_score"),)
    profile_id: Mapped[str] = mapped_column(
        ForeignKey("UserProfile.profile_id", ondelete="CASCADE", onupdate="CASCADE"),
        primary_key=True,
    )
    tenant_id: Mapped[str]
    family_score: Mapped[int] = mapped_column(server_default=text("0"))
    business_score: Mapped[int] = mapped_column(server_default=text("0"))
    friends_score: Mapped[int] = mapped_column(server_default=text("0"))
    total_score: Mapped[int] = mapped_column(server_default=text("0"))
    family_weight: Mapped[Decimal] = mapped_column(Numeric(5, 2), server_default=text("0.80"))
    business_weight: Mapped[Decimal] = mapped_column(Numeric(5, 2), server_default=text("0.10"))
    friends_weight: Mapped[Decimal] = mapped_column(Numeric(5, 2), server_default=text("0.10"))
    last_calculated_at: Mapped[datetime]
    calculation_version: Mapped[str] = mapped_column(server_default="1.0")
    user_profile: Mapped[UserProfile] = relationship(foreign_keys=[profile_id])
