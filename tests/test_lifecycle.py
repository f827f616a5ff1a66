"""Status lifecycles: every declared move is allowed, everything else is InvalidTransition."""

from __future__ import annotations

import itertools
from types import SimpleNamespace

import pytest

from gxcore.db.lifecycle import LIFECYCLES, allowed, check, transition
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

#: Every allowed move, written out by hand: a change to a transition table must change this too.
EXPECTED: dict[type, dict[str, set[str]]] = {
    UserProfileStatus: {
        "REGISTERED": {"PENDING_ADMIN_APPROVAL", "APPROVED_PENDING_ONCHAIN", "DENIED"},
        "PENDING_ADMIN_APPROVAL": {"APPROVED_PENDING_ONCHAIN", "DENIED"},
        "APPROVED_PENDING_ONCHAIN": {"ACTIVE", "DENIED"},
        "ACTIVE": {"FROZEN", "SUSPENDED", "CLOSED"},
        "FROZEN": {"ACTIVE", "SUSPENDED", "CLOSED"},
        "SUSPENDED": {"ACTIVE", "CLOSED"},
        "DENIED": {"CLOSED"},
    },
    OutboxStatus: {
        "PENDING": {"LOCKED", "HELD"},
        "HELD": {"PENDING", "FAILED"},
        "LOCKED": {"LOCKED", "SUBMITTED", "COMMITTED", "FAILED", "PENDING"},
        "SUBMITTED": {"LOCKED", "COMMITTED", "FAILED", "PENDING"},
        "FAILED": {"PENDING"},
    },
    RegistrationStep: {
        "EMAIL_PENDING": {"EMAIL_SENT"},
        "EMAIL_SENT": {"EMAIL_VERIFIED"},
        "EMAIL_VERIFIED": {"NAME_COUNTRY_SET"},
        "NAME_COUNTRY_SET": {"DOB_GENDER_SET"},
        "DOB_GENDER_SET": {"PASSWORD_SET"},
        "PASSWORD_SET": {"PHONE_SENT"},
        "PHONE_SENT": {"PHONE_VERIFIED"},
        "PHONE_VERIFIED": {"COMPLETED"},
    },
    KycStatus: {"PENDING": {"APPROVED", "REJECTED"}, "APPROVED": {"EXPIRED"}},
    OrgProfileStatus: {
        "PENDING_VERIFICATION": {"VERIFIED", "REJECTED"},
        "VERIFIED": {"SUSPENDED"},
        "SUSPENDED": {"VERIFIED"},
    },
    ApprovalStatus: {"PENDING": {"APPROVED", "REJECTED", "EXPIRED"}},
    SessionStatus: {"ACTIVE": {"EXPIRED", "LOGGED_OUT", "REVOKED"}},
    NotificationStatus: {
        "UNREAD": {"READ", "ACTIONED", "ARCHIVED"},
        "READ": {"ACTIONED", "ARCHIVED"},
        "ACTIONED": {"ARCHIVED"},
    },
    RelationshipStatus: {
        "PENDING": {"CONFIRMED", "REJECTED"},
        "CONFIRMED": {"DECEASED", "DIVORCED", "NOT_APPLICABLE"},
    },
    LicenseStatus: {"ACTIVE": {"EXPIRED", "REVOKED"}},
    CredentialStatus: {"ACTIVE": {"REVOKED"}},
    ReferralStatus: {"PENDING": {"REGISTERED"}, "REGISTERED": {"REWARDED"}},
}

PAIRS = [
    (enum_class, a, b)
    for enum_class in EXPECTED
    for a, b in itertools.product(list(enum_class), repeat=2)
]


def test_the_lifecycles_are_the_expected_ones() -> None:
    assert set(LIFECYCLES) == set(EXPECTED)


@pytest.mark.parametrize(("enum_class", "current", "target"), PAIRS)
def test_only_expected_moves_pass(enum_class: type, current: object, target: object) -> None:
    declared = target.value in EXPECTED[enum_class].get(current.value, set())
    assert allowed(current, target) is declared
    if declared:
        check(current, target)
    else:
        with pytest.raises(InvalidTransition) as raised:
            check(current, target)
        assert raised.value.code == "INVALID_TRANSITION"
        assert raised.value.details == {"current": current.value, "target": target.value}


def test_every_status_but_the_initial_one_is_reachable() -> None:
    for enum_class, moves in LIFECYCLES.items():
        unreachable = set(enum_class) - set().union(*moves.values())
        assert unreachable <= {next(iter(enum_class))}, (enum_class.__name__, unreachable)


def test_registration_steps_move_one_at_a_time() -> None:
    steps = list(RegistrationStep)
    assert allowed(steps[0], steps[1]) and not allowed(steps[0], steps[2])
    assert not allowed(RegistrationStep.COMPLETED, RegistrationStep.EMAIL_PENDING)


def test_transition_changes_nothing_when_refused() -> None:
    profile = SimpleNamespace(status=UserProfileStatus.DENIED)
    with pytest.raises(InvalidTransition, match="cannot go from DENIED to ACTIVE"):
        transition(profile, UserProfileStatus.ACTIVE)
    assert profile.status is UserProfileStatus.DENIED
    transition(profile, UserProfileStatus.CLOSED)
    assert profile.status is UserProfileStatus.CLOSED


def test_a_failed_command_can_only_be_requeued() -> None:
    assert allowed(OutboxStatus.FAILED, OutboxStatus.PENDING)
    assert not allowed(OutboxStatus.COMMITTED, OutboxStatus.PENDING)
    with pytest.raises(TypeError):
        check(OutboxStatus.FAILED, UserProfileStatus.ACTIVE)
