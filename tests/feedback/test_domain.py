"""The feedback rules and the report's arithmetic, without any I/O."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from services.feedback import domain, evaluation

A, B, C = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
T0 = datetime(2027, 3, 1, 12, tzinfo=UTC)


def test_fewer_than_three_dimensions_are_refused_with_a_readable_reason() -> None:
    assert domain.strengths_problem({"leading_with_care": 4, "engaging_the_team": 5}) == (
        "rate at least 3 of the nine leadership dimensions"
    )


def test_unknown_dimensions_and_out_of_range_ratings_are_named() -> None:
    problem = domain.strengths_problem({"charisma": 5, "leading_with_care": 4, "engaging_the_team": 5})
    assert problem is not None and "charisma" in problem and "inspiring_shared_purpose" in problem
    problem = domain.strengths_problem({"leading_with_care": 0, "engaging_the_team": 6, "holding_to_account": 3})
    assert problem == "ratings are 1 to 5: check engaging_the_team, leading_with_care"


def test_three_valid_ratings_pass() -> None:
    assert domain.strengths_problem({"leading_with_care": 1, "engaging_the_team": 5, "holding_to_account": 3}) is None


def test_top_strengths_must_be_rated_and_at_most_three() -> None:
    rated = {"leading_with_care": 4, "engaging_the_team": 5, "holding_to_account": 3, "sharing_the_vision": 2}
    assert domain.top_strengths_problem(rated, ["engaging_the_team"]) is None
    assert domain.top_strengths_problem(rated, []) == "pick at least one top strength"
    assert "at most 3" in (domain.top_strengths_problem(rated, list(rated)) or "")
    assert "influencing_for_results" in (domain.top_strengths_problem(rated, ["influencing_for_results"]) or "")


def test_without_a_pick_the_best_rated_dimensions_are_the_top_strengths() -> None:
    rated = {"holding_to_account": 5, "leading_with_care": 5, "engaging_the_team": 3}
    assert domain.default_top_strengths(rated) == ["leading_with_care", "holding_to_account"]


def test_a_pair_is_complete_when_both_wrote_about_each_other() -> None:
    assert not domain.all_submitted([A, B], {(A, B)})
    assert domain.all_submitted([A, B], {(A, B), (B, A)})


def test_a_trio_needs_all_six_feedbacks() -> None:
    five = domain.expected([A, B, C]) - {(C, A)}
    assert len(domain.expected([A, B, C])) == 6
    assert not domain.all_submitted([A, B, C], five)
    assert domain.all_submitted([A, B, C], five | {(C, A)})


def test_the_due_date_follows_from_the_exchange_so_redelivery_computes_the_same() -> None:
    assert domain.due_at(T0, timedelta(days=14)) == datetime(2027, 3, 15, 12, tzinfo=UTC)


def test_corrections_are_possible_only_inside_the_window_and_before_release() -> None:
    window = timedelta(hours=48)
    assert domain.correction_problem(T0, None, T0 + timedelta(hours=47), window) is None
    assert "2 days" in (domain.correction_problem(T0, None, T0 + timedelta(hours=49), window) or "")
    assert "released" in (domain.correction_problem(T0, T0, T0 + timedelta(hours=1), window) or "")


def test_a_mean_score_needs_ten_ratings_and_is_shown_to_one_decimal() -> None:
    assert evaluation.mean([5, 4, 3, 2, 1] * 1 + [4] * 4) is None and evaluation.mean([5, 4, 3, 2, 1] * 2) == 3.0


def _fellow(org: uuid.UUID, code: str, sector: str) -> domain.FellowFacts:
    return domain.FellowFacts(uuid.uuid4(), org, code, sector, "luton")


def test_the_report_counts_completion_strengths_and_the_network() -> None:
    orgs = [uuid.uuid4() for _ in range(6)]
    fellows = [_fellow(orgs[i], f"ORG{i}", "acute" if i < 3 else "local_authority") for i in range(6)]
    f = [x.id for x in fellows]
    pairs = [
        evaluation.PairFacts(uuid.uuid4(), [f[0], f[3]], True),
        evaluation.PairFacts(uuid.uuid4(), [f[1], f[4]], True),
        evaluation.PairFacts(uuid.uuid4(), [f[2], f[5]], True),
    ]
    requests = [evaluation.RequestFacts(a, b, missing=False) for p in pairs for a, b in domain.expected(p.fellow_ids)]
    scores = {"leading_with_care": 4, "engaging_the_team": 5, "holding_to_account": 2}
    feedback = [
        evaluation.FeedbackFacts(a, b, scores, ["engaging_the_team"], released=True)
        for p in pairs
        for a, b in domain.expected(p.fellow_ids)
    ]
    unreleased = evaluation.FeedbackFacts(f[0], f[3], {"developing_capability": 1}, [], released=False)
    report = evaluation.cohort_report(
        uuid.uuid4(),
        fellows=fellows,
        pairs=pairs,
        requests=requests,
        feedback=[*feedback, unreleased],
        opportunities=[(orgs[0], orgs[3]), (orgs[0], orgs[3])],
    )
    # counts rounded to 5 (6 fellows, 6 requests, 7 given), means only over ten ratings
    assert report["fellows"] == 5
    assert report["exchange"] == {"pairs": "<5", "completed": "<5", "not_completed": 0, "completion_rate": None}
    assert report["feedback"]["requested"] == 5 and report["feedback"]["submitted"] == 5
    by_dimension = {r["dimension"]: r for r in report["strengths_by_dimension"]}
    assert by_dimension["engaging_the_team"]["mean"] is None and by_dimension["engaging_the_team"]["top_strength"] == 5
    assert by_dimension["engaging_the_team"]["distribution"] == {"1": 0, "2": 0, "3": 0, "4": 0, "5": 5}
    assert by_dimension["developing_capability"]["ratings"] == 0, "unreleased feedback stays out, even in aggregate"
    sectors = {s["sector"]: s for s in report["strengths_by_sector"]}
    assert sectors["acute"]["dimensions"]["leading_with_care"] == {"ratings": "<5", "mean": None}
    edges = {(e["source"], e["target"]): e for e in report["collaboration_network"]["edges"]}
    assert len(edges) == 3 and len(report["collaboration_network"]["nodes"]) == 6
    key = (str(min(orgs[0], orgs[3])), str(max(orgs[0], orgs[3])))
    assert edges[key]["opportunities"] == "<5" and edges[key]["pairs"] == "<5"


def test_in_shadowing_only_the_learner_writes_to_the_sharer_and_ratings_are_optional() -> None:
    roles = {A: "learner", B: "sharer"}
    assert domain.expected([A, B], roles) == {(A, B)}
    assert domain.expected([A, B], {A: "fellow", B: "fellow"}) == {(A, B), (B, A)}
    assert domain.all_submitted([A, B], {(A, B)}, roles) and not domain.all_submitted([A, B], {(A, B)})
    assert domain.writing_problem(A, B, [A, B], roles) is None
    assert "learner writes" in (domain.writing_problem(B, A, [A, B], roles) or "")
    assert "partner" in (domain.writing_problem(A, C, [A, B], roles) or "")
    assert domain.top_strengths({}, None, ratings_optional=True) == ([], None)
    assert domain.top_strengths({}, None)[1] == "rate at least 3 of the nine leadership dimensions"
    assert "at least 3" in (domain.top_strengths({"leading_with_care": 5}, None, ratings_optional=True)[1] or "")
    assert "among the dimensions" in (domain.top_strengths({}, ["leading_with_care"], ratings_optional=True)[1] or "")
