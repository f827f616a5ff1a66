"""Status lifecycles: every declared move is allowed, everything else is InvalidTransition."""

from __future__ import annotations

import itertools
from types import SimpleNamespace

import pytest

from gxcore.db.lifecycle import LIFECYCLES, allowed, check, transition
from gxcore.enums import OutboxStatus, RegistrationStep, UserProfileStatus
from gxcore.errors import InvalidTransition

PAIRS = [
    (enum_class, a, b)
    for enum_class in LIFECYCLES
    for a, b in itertools.product(list(enum_class), repeat=2)
]


@pytest.mark.parametrize(("enum_class", "current", "target"), PAIRS)
def test_only_declared_moves_pass(enum_class: type, current: object, target: object) -> None:
    declared = target in LIFECYCLES[enum_class].get(current, frozenset())
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
