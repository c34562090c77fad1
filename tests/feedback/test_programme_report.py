"""The report across a programme's cohorts (pure): each cohort's column says no more than its own
report, the totals are rounded like any cell, and over random programmes no hidden count can be
derived from the whole table (the totals being the sums of the cohorts' cells included), nor from
a cohort's own report where every cell around a small total is already "<5" (four "<5" ratings adding
up to a "<5" total are each 1: one of them is widened to "suppressed")."""

from __future__ import annotations

import random
import uuid

from services.feedback import domain, evaluation
from shared.disclosure import HIDDEN, SUPPRESSED, pinned, rounded
from shared.events import LEADERSHIP_DIMENSIONS

SECTORS = ("acute", "local_authority", "police", "vcse")


def cohort(rng: random.Random, pairs: int, completed: int, released_share: float) -> evaluation.CohortFacts:
    """A cohort of ``pairs`` pairs across organisations, ``completed`` of them complete, feedback both
    ways on the completed ones, about ``released_share`` of it released."""
    orgs = [uuid.uuid4() for _ in range(6)]
    fellows, facts, requests, feedback = [], [], [], []
    for i in range(pairs):
        a, b = (
            domain.FellowFacts(uuid.uuid4(), org, f"O{org.hex[:4]}", rng.choice(SECTORS), "luton")
            for org in rng.sample(orgs, 2)
        )
        fellows += [a, b]
        done = i < completed
        facts.append(evaluation.PairFacts(uuid.uuid4(), [a.id, b.id], done))
        for giver, receiver in ((a.id, b.id), (b.id, a.id)):
            requests.append(evaluation.RequestFacts(giver, receiver, missing=not done))
            if done:
                strengths = {d: rng.randint(1, 5) for d in rng.sample(LEADERSHIP_DIMENSIONS, 3)}
                top = [next(iter(strengths))]
                feedback.append(
                    evaluation.FeedbackFacts(giver, receiver, strengths, top, rng.random() < released_share)
                )
    return evaluation.CohortFacts(fellows, facts, requests, feedback, [])


def _hidden(value: object) -> bool:
    return value in (HIDDEN, SUPPRESSED, None)


def test_a_cohorts_column_hides_what_its_own_report_hides_and_the_totals_are_rounded() -> None:
    rng = random.Random(21)
    big, small = cohort(rng, 9, 7, 1.0), cohort(rng, 2, 2, 1.0)
    found = evaluation.programme_report({"big": big, "small": small})
    assert [c["cohort_id"] for c in found["cohorts"]] == ["big", "small"] and found["total"]["cohort_id"] == "total"
    for name, facts, column in (("big", big, found["cohorts"][0]), ("small", small, found["cohorts"][1])):
        own = evaluation.cohort_report(uuid.uuid4(), **vars(facts))
        for part in ("exchange", "feedback"):
            for key, value in own[part].items():
                if _hidden(value):
                    assert _hidden(column[part][key]), (name, part, key)
        assert column["fellows"] == own["fellows"] or _hidden(column["fellows"])
    assert found["cohorts"][1]["fellows"] == HIDDEN and found["cohorts"][1]["exchange"]["pairs"] == HIDDEN
    assert found["total"]["fellows"] == rounded(22) and found["total"]["exchange"]["pairs"] == rounded(11)
    assert found["total"]["exchange"]["completed"] == rounded(9)


def test_no_hidden_count_can_be_derived_from_a_programmes_whole_table() -> None:
    rng = random.Random(7)
    for _ in range(25):
        cohorts = {
            f"c{i}": cohort(rng, (n := rng.randint(1, 9)), rng.randint(0, n), rng.random())
            for i in range(rng.randint(2, 4))
        }
        tallies = {c: evaluation.tally(f) for c, f in cohorts.items()}
        together = evaluation.tally(evaluation.CohortFacts.merged(cohorts.values()))
        counts, sums, shown = evaluation.programme_cells(tallies, together)
        assert set(shown) == set(counts)
        assert pinned(shown, sums) == []
        for c, t in tallies.items():  # what each cohort's own report hides stays hidden
            own = evaluation.protect(t.counts, t.sums)
            assert pinned(own, t.sums) == []
            assert all(shown[f"{c}|{k}"] in (HIDDEN, SUPPRESSED) for k, v in own.items() if v in (HIDDEN, SUPPRESSED))
