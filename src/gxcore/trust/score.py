"""The trust score: a pure rule from a user's relationships to family, business and friends scores.

Rule "2.0" (the reference's was "1.0"): points per CONFIRMED relationship, capped per group, with
family points re-weighted by the family points the user can still earn (the potential P), so a
user without some relatives (an orphan, someone unmarried) can still reach the family cap.

- Points: FATHER, MOTHER and SPOUSE count once however many are confirmed (a second confirmed
  spouse adds nothing); CHILD, SIBLING, business and friends count each.
- Slots: P is the sum over the family slots father, mother, spouse, one child and one sibling of
  their points. A slot drops out when its type is marked not applicable (type level, or a row of
  that type with status NOT_APPLICABLE), when a relative of that type is DECEASED, or (spouse only)
  DIVORCED. A CONFIRMED relationship always keeps its slot: the confirmation is newer evidence than
  the marking (a remarried user's current spouse counts; so does an adoptive father).
- Scaling: when P < family cap, family = round_half_up(C * cap / P), else C, then capped (C the
  confirmed family points); P == 0 gives 0. Exact arithmetic with Fraction; round half up means
  floor(x + 1/2), so 43.5 -> 44.

Why confirming never lowers a score: confirming adds a slot's points to C whenever it adds them to
P (a restored slot is worth what its relationship earns), the score is C * cap / min(P, cap)
before rounding and capping, and (C + s) / (min(P, cap) + s) >= C / min(P, cap) when
C <= min(P, cap); otherwise the score was already at the cap and stays there. Rounding half up and
capping are non-decreasing. tests/test_trust_score.py checks this as a property.

Weights are not parameters of their own: a group's weight is its cap over the total cap.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from decimal import Decimal
from fractions import Fraction

from gxcore.enums import Gender, RelationshipStatus, RelationType

CALCULATION_VERSION = "2.0"

R = RelationType
S = RelationshipStatus
FAMILY = (R.FATHER, R.MOTHER, R.SPOUSE, R.CHILD, R.SIBLING)
BUSINESS = (R.BUSINESS_PARTNER, R.DIRECTOR, R.WORKPLACE_ASSOCIATE)
FRIENDS = (R.FRIEND,)
# Counted once however many are confirmed; the other types count each.
ONCE = frozenset({R.FATHER, R.MOTHER, R.SPOUSE})
# Statuses of a row that take its type's slot out of the potential (DIVORCED: spouse only).
_DROPS_SLOT = frozenset({S.NOT_APPLICABLE, S.DECEASED})


@dataclass(frozen=True)
class Relation:
    """One relationship as seen from the scored user's side (see `seen_from_other_side`)."""

    relation_type: RelationType
    status: RelationshipStatus


@dataclass(frozen=True)
class Policy:
    """Points and caps; `from_parameters` reads them from system parameters (PARAMETER_KEYS)."""

    father: int = 30
    mother: int = 30
    spouse: int = 25
    child: int = 10
    sibling: int = 15
    business_partner: int = 5
    director: int = 3
    workplace_associate: int = 2
    friend: int = 1
    family_cap: int = 80
    business_cap: int = 10
    friends_cap: int = 10
    total_cap: int = 100

    def __post_init__(self) -> None:
        # Negative points would break "confirming never lowers the score".
        for f in fields(self):
            if getattr(self, f.name) < 0:
                raise ValueError(f"trust policy {f.name} must not be negative")

    def points(self, relation_type: RelationType) -> int:
        value: int = getattr(self, relation_type.value.lower())
        return value

    @classmethod
    def from_parameters(cls, values: Mapping[str, str | int]) -> Policy:
        """A policy from system parameter values (text, as stored); missing keys keep defaults."""
        given = {f: int(values[k]) for f, k in PARAMETER_KEYS.items() if k in values}
        return cls(**given)


# Policy field -> proposed system parameter key.
PARAMETER_KEYS: dict[str, str] = {
    "father": "trustPointsFather",
    "mother": "trustPointsMother",
    "spouse": "trustPointsSpouse",
    "child": "trustPointsChild",
    "sibling": "trustPointsSibling",
    "business_partner": "trustPointsBusinessPartner",
    "director": "trustPointsDirector",
    "workplace_associate": "trustPointsWorkplaceAssociate",
    "friend": "trustPointsFriend",
    "family_cap": "trustFamilyCap",
    "business_cap": "trustBusinessCap",
    "friends_cap": "trustFriendsCap",
    "total_cap": "trustTotalCap",
}
DEFAULT_POLICY = Policy()
# Parameter key -> default, ready to seed as system parameters.
PARAMETER_DEFAULTS: dict[str, int] = {
    key: getattr(DEFAULT_POLICY, name) for name, key in PARAMETER_KEYS.items()
}


@dataclass(frozen=True)
class Score:
    family: int
    business: int
    friends: int
    total: int
    family_weight: Decimal
    business_weight: Decimal
    friends_weight: Decimal
    calculation_version: str
    family_points: int  # confirmed family points before re-weighting and cap
    family_potential: int  # P


def seen_from_other_side(relation_type: RelationType, other_gender: Gender | None = None) -> R:
    """The type of a row stated by the other person, as seen by the scored user.

    `other_gender` is the gender of the person who stated the row; only CHILD needs it (the scored
    user's child-of relation makes the other person their father or mother).
    """
    if relation_type in (R.FATHER, R.MOTHER):
        return R.CHILD
    if relation_type is R.CHILD:
        if other_gender is None:
            raise ValueError("a parent's gender is needed to tell father from mother")
        return R.FATHER if other_gender is Gender.MALE else R.MOTHER
    return relation_type  # the others are symmetric (DIRECTOR: both sit on the same board)


def family_potential(
    relations: Iterable[Relation],
    not_applicable: Iterable[RelationType] = (),
    policy: Policy = DEFAULT_POLICY,
) -> int:
    """P: the family points still earnable from applicable slots (one child, one sibling)."""
    rows = list(relations)
    confirmed = {r.relation_type for r in rows if r.status is S.CONFIRMED}
    dropped = set(not_applicable)
    for r in rows:
        if r.status in _DROPS_SLOT or (r.status is S.DIVORCED and r.relation_type is R.SPOUSE):
            dropped.add(r.relation_type)
    return sum(policy.points(t) for t in FAMILY if t in confirmed or t not in dropped)


def score(
    relations: Iterable[Relation],
    not_applicable: Iterable[RelationType] = (),
    policy: Policy = DEFAULT_POLICY,
) -> Score:
    """The trust score of a user from their relationships and their type-level markings."""
    rows = list(relations)
    confirmed = [r.relation_type for r in rows if r.status is S.CONFIRMED]
    counts = {t: confirmed.count(t) for t in R}
    earned = {t: policy.points(t) * (min(n, 1) if t in ONCE else n) for t, n in counts.items()}

    family_points = sum(earned[t] for t in FAMILY)
    potential = family_potential(rows, not_applicable, policy)
    cap = policy.family_cap
    if potential == 0:
        family = 0
    elif potential < cap:
        family = min(cap, _round_half_up(Fraction(family_points * cap, potential)))
    else:
        family = min(cap, family_points)
    business = min(policy.business_cap, sum(earned[t] for t in BUSINESS))
    friends = min(policy.friends_cap, sum(earned[t] for t in FRIENDS))
    return Score(
        family=family,
        business=business,
        friends=friends,
        total=min(policy.total_cap, family + business + friends),
        family_weight=_weight(cap, policy),
        business_weight=_weight(policy.business_cap, policy),
        friends_weight=_weight(policy.friends_cap, policy),
        calculation_version=CALCULATION_VERSION,
        family_points=family_points,
        family_potential=potential,
    )


def _round_half_up(x: Fraction) -> int:
    return math.floor(x + Fraction(1, 2))  # x >= 0 here


def _weight(group_cap: int, policy: Policy) -> Decimal:
    # A group's weight is its share of the total, to the 2 places TrustScore stores.
    if policy.total_cap == 0:
        return Decimal("0.00")
    return (Decimal(group_cap) / Decimal(policy.total_cap)).quantize(Decimal("0.01"))
