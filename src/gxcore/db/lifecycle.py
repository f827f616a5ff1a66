"""Status lifecycles, declared once as data and enforced by one function.

Each entry maps a status to the statuses it may move to; a status absent as a key is terminal.
Services change a status only through `transition`, so an illegal move is always the same
`InvalidTransition` error, whatever the entity.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum

from gxcore.enums import (
    ApprovalStatus,
    CredentialStatus,
    KycStatus,
    LicenseStatus,
    NotificationStatus,
    OrgProfileStatus,
    OutboxStatus,
    ReferralStatus,
    RegistrationStep,
    RelationshipStatus,
    SessionStatus,
    UserProfileStatus,
)
from gxcore.errors import InvalidTransition

U = UserProfileStatus
O = OutboxStatus

LIFECYCLES: Mapping[type[StrEnum], Mapping[StrEnum, frozenset[StrEnum]]] = {
    UserProfileStatus: {
        U.REGISTERED: frozenset({U.PENDING_ADMIN_APPROVAL, U.APPROVED_PENDING_ONCHAIN, U.DENIED}),
        U.PENDING_ADMIN_APPROVAL: frozenset({U.APPROVED_PENDING_ONCHAIN, U.DENIED}),
        U.APPROVED_PENDING_ONCHAIN: frozenset({U.ACTIVE, U.DENIED}),
        U.ACTIVE: frozenset({U.FROZEN, U.SUSPENDED, U.CLOSED}),
        U.FROZEN: frozenset({U.ACTIVE, U.SUSPENDED, U.CLOSED}),
        U.SUSPENDED: frozenset({U.ACTIVE, U.CLOSED}),
        U.DENIED: frozenset({U.CLOSED}),
    },
    OutboxStatus: {
        # A transfer scored as risky is held before any worker claims it; review releases it
        # (back to the queue) or rejects it.
        O.PENDING: frozenset({O.LOCKED, O.HELD}),
        O.HELD: frozenset({O.PENDING, O.FAILED}),
        # A transient failure puts the command back in the queue; a lease that expired is taken
        # over by another worker (LOCKED again, under the new worker's name).
        O.LOCKED: frozenset({O.LOCKED, O.SUBMITTED, O.COMMITTED, O.PENDING, O.FAILED}),
        O.SUBMITTED: frozenset({O.LOCKED, O.COMMITTED, O.PENDING, O.FAILED}),
        O.FAILED: frozenset({O.PENDING}),  # an operator re-queues a dead letter
    },
    RegistrationStep: {
        a: frozenset({b}) for a, b in zip(list(RegistrationStep), list(RegistrationStep)[1:])
    },
    KycStatus: {
        KycStatus.PENDING: frozenset({KycStatus.APPROVED, KycStatus.REJECTED}),
        KycStatus.APPROVED: frozenset({KycStatus.EXPIRED}),
    },
    OrgProfileStatus: {
        # An administrator verifies or rejects a new organization; a verified one can be
        # suspended and reinstated.
        OrgProfileStatus.PENDING_VERIFICATION: frozenset(
            {OrgProfileStatus.VERIFIED, OrgProfileStatus.REJECTED}
        ),
        OrgProfileStatus.VERIFIED: frozenset({OrgProfileStatus.SUSPENDED}),
        OrgProfileStatus.SUSPENDED: frozenset({OrgProfileStatus.VERIFIED}),
    },
    ApprovalStatus: {
        ApprovalStatus.PENDING: frozenset(
            {ApprovalStatus.APPROVED, ApprovalStatus.REJECTED, ApprovalStatus.EXPIRED}
        ),
    },
    SessionStatus: {
        SessionStatus.ACTIVE: frozenset(
            {SessionStatus.EXPIRED, SessionStatus.REVOKED, SessionStatus.LOGGED_OUT}
        ),
    },
    # A partner's license lapses at its expiry or is revoked; either is final (a new license is
    # issued instead). A revoked client credential stays revoked.
    LicenseStatus: {
        LicenseStatus.ACTIVE: frozenset({LicenseStatus.EXPIRED, LicenseStatus.REVOKED}),
    },
    CredentialStatus: {CredentialStatus.ACTIVE: frozenset({CredentialStatus.REVOKED})},
    NotificationStatus: {
        NotificationStatus.UNREAD: frozenset(
            {NotificationStatus.READ, NotificationStatus.ARCHIVED, NotificationStatus.ACTIONED}
        ),
        NotificationStatus.READ: frozenset(
            {NotificationStatus.ARCHIVED, NotificationStatus.ACTIONED}
        ),
        NotificationStatus.ACTIONED: frozenset({NotificationStatus.ARCHIVED}),
    },
    # An invitee registers, then the referrer is rewarded once; nothing goes back.
    ReferralStatus: {
        ReferralStatus.PENDING: frozenset({ReferralStatus.REGISTERED}),
        ReferralStatus.REGISTERED: frozenset({ReferralStatus.REWARDED}),
    },
    RelationshipStatus: {
        RelationshipStatus.PENDING: frozenset(
            {RelationshipStatus.CONFIRMED, RelationshipStatus.REJECTED}
        ),
        RelationshipStatus.CONFIRMED: frozenset(
            {
                RelationshipStatus.DECEASED,
                RelationshipStatus.DIVORCED,
                RelationshipStatus.NOT_APPLICABLE,
            }
        ),
    },
}


def allowed(current: StrEnum, target: StrEnum) -> bool:
    return target in LIFECYCLES[type(current)].get(current, frozenset())


def check(current: StrEnum, target: StrEnum, *, what: str = "") -> None:
    """Raise InvalidTransition unless `current` may move to `target`."""
    if type(current) is not type(target):
        raise TypeError(f"{current!r} and {target!r} belong to different lifecycles")
    if not allowed(current, target):
        subject = f"{what} " if what else ""
        raise InvalidTransition(
            f"{subject}cannot go from {current.value} to {target.value}",
            current=current.value,
            target=target.value,
        )


def transition(entity: object, target: StrEnum, *, field: str = "status") -> None:
    """Move `entity.<field>` to `target`, or raise InvalidTransition and change nothing."""
    current = getattr(entity, field)
    check(current, target, what=type(entity).__name__)
    setattr(entity, field, target)
