"""Each kind's own measures for the cohort report: counts protected by shared/disclosure.py (rounded to
5, 1 to 4 hidden, a further cell suppressed where linked sums would pin a hidden one). Pure."""

from __future__ import annotations

from services.pairing import measures
from shared.disclosure import HIDDEN


def test_shadowing_counts_places_offered_used_and_left_and_the_visits_done() -> None:
    shown = measures.shadowing(
        measures.ShadowingFacts(places_offered=2400, learners=5000, places_used=2398, visits_done=1210)
    )
    assert shown["places_offered"] == 2400 and shown["places_used"] == 2400 and shown["visits_done"] == 1210
    assert shown["learners"] == 5000 and shown["learners_not_placed"] == 2600
    assert shown["places_used_rate"] == 1.0
    assert shown["places_left"] == HIDDEN, "two places left: hidden, and 2400 - 2400 does not pin it"


def test_a_small_shadowing_cohort_shows_no_count_that_singles_anyone_out() -> None:
    shown = measures.shadowing(measures.ShadowingFacts(places_offered=3, learners=5, places_used=3, visits_done=1))
    assert shown["places_offered"] == HIDDEN and shown["visits_done"] == HIDDEN and shown["learners"] == 5
    assert shown["places_used_rate"] is None  # a rate over fewer than 5 places is not shown
    assert shown["places_left"] == 0


def test_paired_learning_counts_projects_milestones_and_presentations() -> None:
    facts = measures.ProjectFacts(
        pairs=40, projects_started=36, milestones_set=120, milestones_met=90, presentations=20
    )
    shown = measures.paired_learning(facts)
    assert shown == {
        "pairs": 40,
        "projects_started": 35,
        "milestones_set": 120,
        "milestones_met": 90,
        "presentations": 20,
        "milestones_met_rate": 0.75,
    }
    small = measures.paired_learning(measures.ProjectFacts(2, 2, 3, 1, 0))
    assert small["projects_started"] == HIDDEN and small["presentations"] == 0 and small["milestones_met_rate"] is None
