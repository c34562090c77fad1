"""The programme kinds' rules (shared/programmes.py), pure."""

from __future__ import annotations

import pytest

from shared import programmes
from shared.errors import Invalid


def test_every_role_of_every_kind_is_a_known_role_and_hosts_have_places() -> None:
    for kind in programmes.KINDS.values():
        assert set(kind.roles) <= set(programmes.ROLE_NAMES)
        if kind.host:
            assert {kind.host, kind.guest} == set(kind.roles) and kind.places[0] >= 1
            assert programmes.check_application(kind.name, kind.host, kind.places[1], kind.host == "sharer", False)
    assert set(programmes.KINDS) == set(programmes.KIND_NAMES)


@pytest.mark.parametrize(
    ("kind", "role", "capacity", "offer", "wants", "places"),
    [
        ("exchange", "fellow", None, False, False, 1),
        ("shadowing", "sharer", 10, True, False, 10),
        ("shadowing", "learner", None, False, True, 1),
        ("mentoring", "mentor", 3, False, False, 3),
        ("mentoring", "mentee", None, False, False, 1),
        ("paired_learning", "fellow", None, False, False, 1),
    ],
)
def test_what_each_role_brings(
    kind: str, role: str, capacity: int | None, offer: bool, wants: bool, places: int
) -> None:
    assert programmes.check_application(kind, role, capacity, offer, wants) == places


@pytest.mark.parametrize(
    ("kind", "role", "capacity", "offer", "reason"),
    [
        ("shadowing", "sharer", 0, True, "capacity: a sharer takes 1 to 10, not 0"),
        ("mentoring", "mentor", None, False, "capacity: a mentor says how many"),
        ("exchange", "fellow", 2, False, "capacity: only a sharer or mentor has places"),
        ("exchange", "learner", None, False, "role: an exchange cohort takes fellow, not learner"),
    ],
)
def test_what_a_role_may_not_bring(kind: str, role: str, capacity: int | None, offer: bool, reason: str) -> None:
    with pytest.raises(Invalid, match=reason):
        programmes.check_application(kind, role, capacity, offer, False)


def test_a_cohort_takes_the_pairing_mode_of_its_kind() -> None:
    assert programmes.cohort_settings("exchange", None, False) == "peer"
    assert programmes.cohort_settings("exchange", "bipartite", False) == "bipartite"
    assert programmes.cohort_settings("shadowing", None, False) == "bipartite"
    assert programmes.cohort_settings("mentoring", None, True) == "bipartite"
    with pytest.raises(Invalid, match="reciprocal"):
        programmes.cohort_settings("paired_learning", None, True)
