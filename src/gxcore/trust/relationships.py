"""Family, business and friend relationships between users of one tenant (svc-trust).

A `FamilyRelationship` row is stated by its initiator: `relationType` is what the related person
is to the initiator ("B is my FATHER"). The related person sees the same row from the other side
(`trust.score.seen_from_other_side`: to B, the initiator is their CHILD), so both views agree.
A row without a related person or email is a *marking* of the initiator's own: the type does
not apply to them (NOT_APPLICABLE), or the relative, not on the platform, is DECEASED / the
spouse DIVORCED.

Rules, checked under per-user advisory locks taken in profile-id order (so two requests
touching the same users take turns and never deadlock):
- no relationship with oneself; one relationship per pair and type (in either direction, as
  seen from one side); a marking once per type;
- the invited side alone confirms or rejects; either side removes;
- at most one confirmed FATHER, one MOTHER and one current SPOUSE per user, on both sides;
- an inviter the invited person rejected may not invite them again for
  `relationshipReinviteCooldownDays` (REINVITE_TOO_SOON, with Retry-After);
- an email invitation waits for the address: when it completes registration
  (`attach_invitations`, called by identity's registration), the invitation is theirs.

Every change notifies the other side, in the same transaction (`notifications.inbox.notify`,
which also queues it by email and push; an invitation by email queues an email instead), and is
audited: the flush records each row
change, and invitations, confirmations and rejections add their RELATIONSHIP_* event.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gxcore.admin.service import read_ints
from gxcore.audit import service as audit
from gxcore.db import pages
from gxcore.db.lifecycle import transition
from gxcore.enums import AuditEventType, MessageChannel, NotificationType, RelationshipStatus
from gxcore.enums import RelationType as R
from gxcore.errors import (
    NotInvitedSide,
    ReinviteTooSoon,
    RelationshipExists,
    RelationshipNotFound,
    RelationSlotTaken,
    SelfRelationship,
    ValidationFailed,
)
from gxcore.identity.access import Principal
from gxcore.identity.models import UserProfile
from gxcore.identity.users import get_or_raise
from gxcore.notifications import service as messages
from gxcore.notifications.inbox import notify
from gxcore.trust import scores
from gxcore.trust.models import FamilyRelationship
from gxcore.trust.schemas import (
    MarkIn,
    MarkingIn,
    RelationshipIn,
    RelationshipPage,
    RelationshipRead,
)
from gxcore.trust.score import FAMILY, ONCE
from gxcore.trust.sides import Seen, involving, lock_profiles, read, rows_of, with_gender

S = RelationshipStatus
RESOURCE = "FamilyRelationship"
COOLDOWN_KEY = "relationshipReinviteCooldownDays"
#: How the other side hears of a change, besides its inbox (queued, sent after commit).
DELIVER = (MessageChannel.EMAIL, MessageChannel.PUSH)
#: Marked by the user, with a document for the two that need proof.
NEEDS_DOCUMENT = frozenset({S.DECEASED, S.DIVORCED})


@dataclass(frozen=True)
class Actor:
    """Who acts, in which unit of work, when."""

    session: AsyncSession
    principal: Principal
    now: datetime

    @property
    def me(self) -> str:
        return self.principal.profile_id


async def _party_row(actor: Actor, relationship_id: str, *, lock: bool = False) -> Seen:
    """The row, if the actor is one of its sides; RELATIONSHIP_NOT_FOUND otherwise."""
    stmt = with_gender().where(
        FamilyRelationship.relationship_id == relationship_id, involving(actor.me)
    )
    if lock:
        stmt = stmt.with_for_update(of=FamilyRelationship).execution_options(populate_existing=True)
    found = (await actor.session.execute(stmt)).first()
    if found is None:
        raise RelationshipNotFound(
            f"no relationship {relationship_id!r}", relationshipId=relationship_id
        )
    return Seen(found[0], found[1])


# --------------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------------


async def page(
    *,
    actor: Actor,
    paging: pages.PageRequest,
    status: RelationshipStatus | None = None,
) -> RelationshipPage:
    """The caller's relationships and markings, newest first, in pages."""
    stmt = with_gender().where(involving(actor.me))
    if status is not None:
        stmt = stmt.where(FamilyRelationship.status == status)
    order = pages.Order.newest_first(
        FamilyRelationship.created_at, FamilyRelationship.relationship_id
    )
    found = await pages.fetch(actor.session, stmt, order, paging)
    return RelationshipPage.of(found, [read(Seen(r[0], r[1]), actor.me) for r in found.rows])


async def get(relationship_id: str, *, actor: Actor) -> RelationshipRead:
    return read(await _party_row(actor, relationship_id), actor.me)


# --------------------------------------------------------------------------------------------
# Inviting
# --------------------------------------------------------------------------------------------


async def invite(data: RelationshipIn, *, actor: Actor) -> RelationshipRead:
    session, me = actor.session, actor.me
    inviter = await get_or_raise(session, me)
    if data.relationType is R.CHILD and inviter.gender is None:
        raise ValidationFailed(
            "your profile has no gender, which tells your child whether you are their father "
            "or mother",
            field="relationType",
        )
    related_id = data.relatedProfileId
    email = data.relatedEmail
    if email is not None:
        if email == (inviter.email or "").lower():
            raise SelfRelationship("you cannot invite yourself", field="relatedEmail")
        # An address that is already a user's: the invitation is theirs at once. (Profiles keep
        # their address lower-cased, as `Email` gives it: the tenant's unique index answers.)
        related_id = await session.scalar(
            select(UserProfile.profile_id).where(UserProfile.email == email)
        )
    if related_id == me:
        raise SelfRelationship("you cannot invite yourself", field="relatedProfileId")
    if related_id is not None and data.relatedProfileId is not None:
        await get_or_raise(session, related_id)  # USER_NOT_FOUND, another tenant's included
    await lock_profiles(session, me, related_id)
    if related_id is None:
        assert email is not None
        await _check_email_invitation(actor, email, data.relationType)
    else:
        await _check_pair(actor, related_id, data.relationType)
    row = FamilyRelationship(
        initiator_profile_id=me,
        related_profile_id=related_id,
        related_email=email,
        relation_type=data.relationType,
        status=S.PENDING,
        created_at=actor.now,
    )
    session.add(row)
    await session.flush()
    await audit.record(
        session,
        event_type=AuditEventType.RELATIONSHIP_INVITED,
        resource_type=RESOURCE,
        resource_id=row.relationship_id,
        target_profile_id=related_id,
        new={"relationType": row.relation_type.value, "status": row.status.value},
    )
    seen = Seen(row, inviter.gender)
    if related_id is not None:
        await _tell_invited(session, seen, related_id, inviter, actor.now)
    else:
        assert email is not None
        await messages.queue_email(
            session,
            to=email,
            subject="You are invited to GX",
            text=f"{_name(inviter)} invited you to GX as their "
            f"{_word(data.relationType)}. Register with this email address to answer.",
            now=actor.now,
        )
    return await _saved(actor, seen)


async def _check_pair(actor: Actor, other: str, relation_type: R) -> None:
    """Same type between the pair (either direction); the cooldown after a rejection."""
    cooldown = timedelta(days=(await read_ints(actor.session, (COOLDOWN_KEY,)))[COOLDOWN_KEY])
    for seen in await rows_of(actor.session, actor.me):
        r = seen.row
        if seen.other(actor.me) != other:
            continue
        if r.status is S.REJECTED:
            if r.initiator_profile_id != actor.me:
                continue  # the inviter rejected the other's invitation: nothing stops them
            assert r.rejected_at is not None
            wait = r.rejected_at + cooldown - actor.now
            if wait > timedelta():
                raise ReinviteTooSoon(
                    "this person declined your invitation recently; try again later",
                    retry_after=max(1, int(wait.total_seconds())),
                )
            if r.relation_type is relation_type:
                await actor.session.delete(r)  # its place in the unique key goes to the new one
                await actor.session.flush()
            continue
        if seen.type_for(actor.me) is relation_type:
            raise RelationshipExists(
                f"you already have a {relation_type.value} relationship with this person",
                relationshipId=r.relationship_id,
            )


async def _check_email_invitation(actor: Actor, email: str, relation_type: R) -> None:
    pending = await actor.session.scalar(
        select(FamilyRelationship.relationship_id).where(
            FamilyRelationship.initiator_profile_id == actor.me,
            FamilyRelationship.related_profile_id.is_(None),
            FamilyRelationship.related_email == email,
            FamilyRelationship.relation_type == relation_type,
        )
    )
    if pending is not None:
        raise RelationshipExists(
            f"you already invited this address as {relation_type.value}", relationshipId=pending
        )


async def attach_invitations(
    session: AsyncSession, *, profile_id: str, email: str, now: datetime
) -> int:
    """Give the invitations waiting for `email` to `profile_id`, who just registered with it;
    returns how many. Called by registration in the transaction that creates the profile."""
    rows = (
        await session.scalars(
            select(FamilyRelationship)
            .where(
                FamilyRelationship.related_profile_id.is_(None),
                FamilyRelationship.related_email == email.lower(),
                FamilyRelationship.status == S.PENDING,
            )
            .order_by(FamilyRelationship.created_at)
            .with_for_update()
        )
    ).all()
    for row in rows:
        row.related_profile_id = profile_id
    await session.flush()
    for row in rows:
        inviter = await get_or_raise(session, row.initiator_profile_id)
        await _tell_invited(session, Seen(row, inviter.gender), profile_id, inviter, now)
    if rows:  # a side of a relationship has a score, like every other side
        await scores.recompute(session, [profile_id], now=now)
    return len(rows)


# --------------------------------------------------------------------------------------------
# Answering, removing, marking
# --------------------------------------------------------------------------------------------


async def _locked_party_row(actor: Actor, relationship_id: str) -> Seen:
    seen = await _party_row(actor, relationship_id)
    await lock_profiles(actor.session, seen.row.initiator_profile_id, seen.row.related_profile_id)
    return await _party_row(actor, relationship_id, lock=True)


def _require_invited(seen: Seen, actor: Actor) -> None:
    if seen.row.related_profile_id != actor.me:
        raise NotInvitedSide(
            "only the invited person answers an invitation",
            relationshipId=seen.row.relationship_id,
        )


async def confirm(relationship_id: str, *, actor: Actor) -> RelationshipRead:
    seen = await _locked_party_row(actor, relationship_id)
    _require_invited(seen, actor)
    row = seen.row
    if row.status is S.CONFIRMED:
        return read(seen, actor.me)  # a retry: answered as it is
    transition(row, S.CONFIRMED)
    await actor.session.flush()
    await _check_slots(actor.session, seen)
    row.confirmed_at = actor.now
    # What the row earns as stated (its initiator's side; the other side's points differ).
    row.points_awarded = (await scores.load_policy(actor.session)).points(row.relation_type)
    await actor.session.flush()
    await audit.record(
        actor.session,
        event_type=AuditEventType.RELATIONSHIP_CONFIRMED,
        resource_type=RESOURCE,
        resource_id=row.relationship_id,
        target_profile_id=row.initiator_profile_id,
        previous={"status": S.PENDING.value},
        new={"status": S.CONFIRMED.value},
    )
    me = await get_or_raise(actor.session, actor.me)
    await notify(
        actor.session,
        profile_id=row.initiator_profile_id,
        type=NotificationType.RELATIONSHIP_CONFIRMED,
        title="Relationship confirmed",
        message=f"{_name(me)} confirmed being your {_word(row.relation_type)}.",
        resource_type=RESOURCE,
        resource_id=row.relationship_id,
        deliver=DELIVER,
        now=actor.now,
    )
    return await _saved(actor, seen)


async def _check_slots(session: AsyncSession, seen: Seen) -> None:
    """At most one confirmed FATHER, MOTHER, SPOUSE per user, counting `seen` as confirmed."""
    row = seen.row
    for side in (row.initiator_profile_id, row.related_profile_id):
        assert side is not None
        kind = seen.type_for(side)
        if kind not in ONCE:
            continue
        for other in await rows_of(session, side):
            if (
                other.row.relationship_id != row.relationship_id
                and other.row.status is S.CONFIRMED
                and other.type_for(side) is kind
            ):
                whose = "you already have" if side == row.related_profile_id else "they have"
                raise RelationSlotTaken(
                    f"{whose} a confirmed {kind.value}", relationType=kind.value
                )


async def reject(relationship_id: str, *, actor: Actor) -> RelationshipRead:
    seen = await _locked_party_row(actor, relationship_id)
    _require_invited(seen, actor)
    row = seen.row
    if row.status is S.REJECTED:
        return read(seen, actor.me)
    transition(row, S.REJECTED)
    row.rejected_at = actor.now
    await actor.session.flush()
    await audit.record(
        actor.session,
        event_type=AuditEventType.RELATIONSHIP_REJECTED,
        resource_type=RESOURCE,
        resource_id=row.relationship_id,
        target_profile_id=row.initiator_profile_id,
        previous={"status": S.PENDING.value},
        new={"status": S.REJECTED.value},
    )
    await notify(
        actor.session,
        profile_id=row.initiator_profile_id,
        type=NotificationType.RELATIONSHIP_REJECTED,
        title="Invitation declined",
        message=f"Your invitation as {_word(row.relation_type)} was declined.",
        resource_type=RESOURCE,
        resource_id=row.relationship_id,
        deliver=DELIVER,
        now=actor.now,
    )
    return await _saved(actor, seen)


async def remove(relationship_id: str, *, actor: Actor) -> None:
    """Either side ends a relationship (or withdraws an invitation, or a marking of its own)."""
    seen = await _locked_party_row(actor, relationship_id)
    row = seen.row
    other = seen.other(actor.me)
    kind = seen.type_for(other) if other is not None else None
    sides = (row.initiator_profile_id, row.related_profile_id)
    await actor.session.delete(row)  # audited by the flush, with the row's last values
    await actor.session.flush()
    if other is not None and kind is not None:
        await notify(
            actor.session,
            profile_id=other,
            type=NotificationType.RELATIONSHIP_UPDATED,
            title="Relationship removed",
            message=f"A relationship in which you were the {_word(kind)} was removed.",
            resource_type=RESOURCE,
            resource_id=relationship_id,
            deliver=DELIVER,
            now=actor.now,
        )
    await _recompute(actor, *sides)


async def mark(relationship_id: str, data: MarkIn, *, actor: Actor) -> RelationshipRead:
    """A confirmed relative DECEASED, a spouse DIVORCED, or the relationship not applicable."""
    seen = await _locked_party_row(actor, relationship_id)
    row = seen.row
    kind = seen.type_for(actor.me)
    _check_evidence(data.status, kind, data.documentHash, data.documentUrl)
    if row.related_profile_id is None:
        raise RelationshipNotFound(
            "a marking is changed by removing it", relationshipId=relationship_id
        )
    transition(row, data.status)
    _set_evidence(row, data.status, data.documentHash, data.documentUrl, data.remarks)
    await actor.session.flush()
    other = seen.other(actor.me)
    assert other is not None
    await notify(
        actor.session,
        profile_id=other,
        type=NotificationType.RELATIONSHIP_UPDATED,
        title="Relationship updated",
        message=f"A relationship of yours was marked {data.status.value.replace('_', ' ')}.",
        resource_type=RESOURCE,
        resource_id=row.relationship_id,
        deliver=DELIVER,
        now=actor.now,
    )
    return await _saved(actor, seen)


async def add_marking(data: MarkingIn, *, actor: Actor) -> RelationshipRead:
    """A relation type of the caller's own: not applicable, or the relative DECEASED / the
    spouse DIVORCED (not on the platform). One per type; removing it undoes it."""
    if data.relationType not in FAMILY:
        raise ValidationFailed(
            "only family relation types (FATHER, MOTHER, SPOUSE, CHILD, SIBLING) are marked",
            field="relationType",
        )
    _check_evidence(data.status, data.relationType, data.documentHash, data.documentUrl)
    await lock_profiles(actor.session, actor.me)
    existing = await actor.session.scalar(
        select(FamilyRelationship.relationship_id).where(
            FamilyRelationship.initiator_profile_id == actor.me,
            FamilyRelationship.related_profile_id.is_(None),
            FamilyRelationship.related_email.is_(None),
            FamilyRelationship.relation_type == data.relationType,
        )
    )
    if existing is not None:
        raise RelationshipExists(
            f"{data.relationType.value} is marked already; remove that marking first",
            relationshipId=existing,
        )
    row = FamilyRelationship(
        initiator_profile_id=actor.me,
        relation_type=data.relationType,
        status=data.status,
        created_at=actor.now,
    )
    _set_evidence(row, data.status, data.documentHash, data.documentUrl, data.remarks)
    actor.session.add(row)
    await actor.session.flush()
    return await _saved(actor, Seen(row, None))


def _check_evidence(status: S, kind: R, document_hash: str | None, url: object) -> None:
    if status is S.DIVORCED and kind is not R.SPOUSE:
        raise ValidationFailed("only a spouse is marked DIVORCED", field="status")
    if status is S.DECEASED and kind not in FAMILY:
        raise ValidationFailed("only a relative is marked DECEASED", field="status")
    if status in NEEDS_DOCUMENT and (document_hash is None or url is None):
        raise ValidationFailed(
            f"{status.value} needs a supporting document (documentHash and documentUrl)",
            field="documentHash" if document_hash is None else "documentUrl",
        )


def _set_evidence(
    row: FamilyRelationship, status: S, document_hash: str | None, url: object, remarks: str | None
) -> None:
    row.status_document_hash = document_hash
    row.status_document_url = None if url is None else str(url)
    row.status_remarks = remarks
    row.is_applicable = False
    row.points_awarded = 0


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


async def _tell_invited(
    session: AsyncSession, seen: Seen, invited: str, inviter: UserProfile, now: datetime
) -> None:
    await notify(
        session,
        profile_id=invited,
        type=NotificationType.RELATIONSHIP_INVITATION,
        title="Relationship invitation",
        message=f"{_name(inviter)} says you are their {_word(seen.row.relation_type)}. "
        "Confirm or reject the invitation.",
        resource_type=RESOURCE,
        resource_id=seen.row.relationship_id,
        deliver=DELIVER,
        now=now,
    )


def _name(profile: UserProfile) -> str:
    return f"{profile.first_name} {profile.last_name}"


def _word(kind: R) -> str:
    return kind.value.lower().replace("_", " ")


async def _recompute(actor: Actor, *sides: str | None) -> None:
    """Both sides' trust scores, in the change's transaction (their locks are held)."""
    await scores.recompute(actor.session, [s for s in sides if s is not None], now=actor.now)


async def _saved(actor: Actor, seen: Seen) -> RelationshipRead:
    row = seen.row
    await _recompute(actor, row.initiator_profile_id, row.related_profile_id)
    await actor.session.flush()
    await actor.session.refresh(row, ["updated_at", "created_at"])
    return read(seen, actor.me)
