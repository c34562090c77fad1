"""The application state machine, without I/O."""

from __future__ import annotations

import pytest

from services.applications import domain


@pytest.mark.parametrize(
    ("state", "action", "expected"),
    [
        ("submitted", "endorse", "endorsed"),
        ("endorsed", "shortlist", "shortlisted"),
        ("endorsed", "waitlist", "waitlisted"),
        ("endorsed", "decline", "declined"),
        ("waitlisted", "shortlist", "shortlisted"),
        ("shortlisted", "enrol", "enrolled"),
        ("submitted", "withdraw", "withdrawn"),
        ("enrolled", "withdraw", "withdrawn"),
    ],
)
def test_legal_transitions_lead_to_the_next_state(state: str, action: str, expected: str) -> None:
    assert domain.transition(state, action) == expected


@pytest.mark.parametrize(
    ("state", "action"),
    [
        ("submitted", "shortlist"),
        ("submitted", "enrol"),
        ("declined", "withdraw"),
        ("withdrawn", "withdraw"),
        ("enrolled", "endorse"),
        ("declined", "shortlist"),
    ],
)
def test_illegal_transitions_are_refused_with_the_current_state(state: str, action: str) -> None:
    with pytest.raises(domain.IllegalTransition) as refused:
        domain.transition(state, action)
    assert f"cannot {action} an application that is {state}" in str(refused.value)


@pytest.mark.parametrize("band", ["2", "7", "8a", "8d", "9", "FY1", "CT2", "ST4", "SAS", "consultant", "GP", "other"])
def test_bands_and_grades_of_the_contract_are_accepted(band: str) -> None:
    assert domain.BAND_PATTERN.match(band)


@pytest.mark.parametrize("band", ["1", "8e", "10", "ST9", "", "registrar"])
def test_other_bands_are_refused(band: str) -> None:
    assert not domain.BAND_PATTERN.match(band)


def test_enrolment_never_goes_over_capacity() -> None:
    assert domain.enrolment(shortlisted=10, enrolled=25, capacity=28) == 3
    assert domain.enrolment(shortlisted=2, enrolled=0, capacity=28) == 2
    assert domain.enrolment(shortlisted=5, enrolled=30, capacity=28) == 0


def test_enrolment_over_capacity_moves_shortlisted_to_waitlisted_and_a_freed_place_promotes_back() -> None:
    assert domain.transition("shortlisted", "overflow") == "waitlisted"
    assert domain.transition("waitlisted", "promote") == "shortlisted"
    with pytest.raises(domain.IllegalTransition):
        domain.transition("enrolled", "overflow")


def test_small_equality_counts_are_suppressed_but_zero_and_five_are_shown() -> None:
    assert domain.suppressed({"a": 4, "b": 5, "c": 0, "d": 1}) == {"a": "<5", "b": 5, "c": 0, "d": "<5"}
