"""Stored trust scores: `TrustScore` rows kept equal to the rule (gxcore.trust.score) applied to
each user's relationships, written in the transaction of every relationship change.

The points and caps are system parameters (`trustPoints*`, `trust*Cap`, seeded with the rule's
defaults). `rebuild` recomputes a tenant's scores from its relationships (`gx trust rebuild`),
or with `write=False` only reports where the stored ones differ (`--check`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import func, select, union
from sqlalchemy.ext.asyncio import AsyncSession

from gxcore.admin.service import read_ints
from gxcore.identity.access import Principal
from gxcore.trust.models import FamilyRelationship, TrustScore
from gxcore.trust.schemas import Bucket, TrustDistribution, TrustScoreRead
from gxcore.trust.score import PARAMETER_KEYS, Policy, Relation, Score, score
from gxcore.trust.sides import Seen, lock_profiles, rows_of

#: The stored columns and the `Score` fields they hold.
COLUMNS = {
    "family_score": "family",
    "business_score": "business",
    "friends_score": "friends",
    "total_score": "total",
    "family_weight": "family_weight",
    "business_weight": "business_weight",
    "friends_weight": "friends_weight",
    "calculation_version": "calculation_version",
}
BUCKET_WIDTH = 10


async def load_policy(session: AsyncSession) -> Policy:
    """The tenant's points and caps (its system parameters, the defaults where absent)."""
    return Policy.from_parameters(await read_ints(session, PARAMETER_KEYS.values()))


def score_of(rows: Iterable[Seen], profile_id: str, policy: Policy) -> Score:
    """The rule applied to the rows `profile_id` is a side of, each as that side sees it."""
    return score([Relation(s.type_for(profile_id), s.row.status) for s in rows], policy=policy)


async def recompute(session: AsyncSession, profile_ids: Iterable[str], *, now: datetime) -> None:
    """Write the scores of `profile_ids` from their relationships (the caller holds the users'
    relationship locks, `relationships.lock_profiles`, so no change runs in between)."""
    policy = await load_policy(session)
    for profile_id in profile_ids:
        fresh = score_of(await rows_of(session, profile_id), profile_id, policy)
        _store(session, await session.get(TrustScore, profile_id), profile_id, fresh, now)
    await session.flush()


def _store(
    session: AsyncSession, row: TrustScore | None, profile_id: str, fresh: Score, now: datetime
) -> None:
    if row is None:
        row = TrustScore(profile_id=profile_id)
        session.add(row)
    for column, field in COLUMNS.items():
        setattr(row, column, getattr(fresh, field))
    row.last_calculated_at = now


def differences(stored: TrustScore | None, fresh: Score) -> list[str]:
    """What of `stored` differs from `fresh`, as `column: stored != fresh` (empty: equal)."""
    if stored is None:
        return [f"no stored score (expected total {fresh.total})"]
    out = []
    for column, field in COLUMNS.items():
        have, want = getattr(stored, column), getattr(fresh, field)
        if isinstance(want, Decimal):
            equal = Decimal(have) == want
        else:
            equal = have == want
        if not equal:
            out.append(f"{column}: {have} != {want}")
    return out


@dataclass(frozen=True)
class Difference:
    profile_id: str
    what: list[str]


async def rebuild(session: AsyncSession, *, now: datetime, write: bool) -> list[Difference]:
    """Compare every scored user of the session's tenant (a side of a relationship, or holding
    a score) with the rule; with `write`, store the rule's score where they differ."""
    sides = union(
        select(FamilyRelationship.initiator_profile_id.label("p")),
        select(FamilyRelationship.related_profile_id).where(
            FamilyRelationship.related_profile_id.is_not(None)
        ),
        select(TrustScore.profile_id),
    ).subquery()
    profile_ids = sorted((await session.scalars(select(sides.c.p))).all())
    policy = await load_policy(session)
    found = []
    for profile_id in profile_ids:
        if write:
            await lock_profiles(session, profile_id)
        stored = await session.get(TrustScore, profile_id, populate_existing=True)
        fresh = score_of(await rows_of(session, profile_id), profile_id, policy)
        if what := differences(stored, fresh):
            found.append(Difference(profile_id, what))
            if write:
                _store(session, stored, profile_id, fresh, now)
    await session.flush()
    return found


def read(row: TrustScore) -> TrustScoreRead:
    return TrustScoreRead(
        profileId=row.profile_id,
        familyScore=row.family_score,
        businessScore=row.business_score,
        friendsScore=row.friends_score,
        totalScore=row.total_score,
        familyWeight=row.family_weight,
        businessWeight=row.business_weight,
        friendsWeight=row.friends_weight,
        calculationVersion=row.calculation_version,
        lastCalculatedAt=row.last_calculated_at,
    )


async def mine(*, session: AsyncSession, principal: Principal) -> TrustScoreRead:
    """The caller's stored score; a user with no relationship yet has the rule's empty score."""
    row = await session.get(TrustScore, principal.profile_id)
    if row is not None:
        return read(row)
    empty = score([], policy=await load_policy(session))
    return TrustScoreRead(
        profileId=principal.profile_id,
        familyScore=empty.family,
        businessScore=empty.business,
        friendsScore=empty.friends,
        totalScore=empty.total,
        familyWeight=empty.family_weight,
        businessWeight=empty.business_weight,
        friendsWeight=empty.friends_weight,
        calculationVersion=empty.calculation_version,
        lastCalculatedAt=None,
    )


async def distribution(session: AsyncSession) -> TrustDistribution:
    """The tenant's stored total scores: how many, their mean, and how many per tens."""
    top = (await load_policy(session)).total_cap
    bucket = func.least(TrustScore.total_score / BUCKET_WIDTH, max(top - 1, 0) // BUCKET_WIDTH)
    grouped = await session.execute(select(bucket, func.count()).group_by(bucket))
    counts: dict[int, int] = {b: n for b, n in grouped.all()}
    total, mean = (
        await session.execute(select(func.count(), func.avg(TrustScore.total_score)))
    ).one()
    last = max(top - 1, 0) // BUCKET_WIDTH
    buckets = [
        Bucket(
            low=b * BUCKET_WIDTH,
            high=top if b == last else (b + 1) * BUCKET_WIDTH - 1,
            count=counts.get(b, 0),
        )
        for b in range(last + 1)
    ]
    return TrustDistribution(
        count=total,
        mean=Decimal(mean or 0).quantize(Decimal("0.01")),
        buckets=buckets,
    )
