"""Feedback rules: pure, no I/O."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from shared import events as ev
from shared.disclosure import HIDDEN, SUPPRESSED, Sum, protect, rate
from shared.events import LEADERSHIP_DIMENSIONS

MIN_DIMENSIONS = 3
MAX_TOP_STRENGTHS = 3

# Why a pair's feedback was released (``exchange_pair.release_reason``).
ALL_SUBMITTED = "all_submitted"
DEADLINE = "deadline"

# Roles that read any fellow's released feedback and the cohort report.
STAFF = ("board", "admin")


# --- who the caller is, and what they may read ------------------------------------------------


def acts_as_fellow(withdrawn_at: datetime | None) -> bool:
    """An enrolled fellow is one to the service until their application is withdrawn; enrolled
    again, they are one again (the withdrawal is cleared)."""
    return withdrawn_at is None


def my_fellow_in(pair_fellow_ids: Iterable[uuid.UUID], my_fellow_ids: frozenset[uuid.UUID]) -> uuid.UUID | None:
    """Which fellow of a pair the caller is; None for anyone else (answered like a wrong id)."""
    return next((f for f in pair_fellow_ids if f in my_fellow_ids), None)


def may_read_released(role: str, fellow_id: uuid.UUID, my_fellow_ids: frozenset[uuid.UUID]) -> bool:
    """Released feedback about a fellow is read by that fellow, the board and admins."""
    return role in STAFF or fellow_id in my_fellow_ids


def strengths_problem(strengths: dict[str, int]) -> str | None:
    unknown = sorted(set(strengths) - set(LEADERSHIP_DIMENSIONS))
    if unknown:
        return f"unknown leadership dimensions: {', '.join(unknown)}; use {', '.join(LEADERSHIP_DIMENSIONS)}"
    if len(strengths) < MIN_DIMENSIONS:
        return f"rate at least {MIN_DIMENSIONS} of the nine leadership dimensions"
    bad = sorted(k for k, v in strengths.items() if not 1 <= v <= 5)
    if bad:
        return f"ratings are 1 to 5: check {', '.join(bad)}"
    return None


def top_strengths_problem(strengths: Mapping[str, int], top: list[str]) -> str | None:
    if not top:
        return "pick at least one top strength"
    if len(top) > MAX_TOP_STRENGTHS:
        return f"pick at most {MAX_TOP_STRENGTHS} top strengths"
    if len(set(top)) != len(top):
        return "each top strength once"
    unrated = [t for t in top if t not in strengths]
    if unrated:
        return f"top strengths must be among the dimensions you rated: {', '.join(unrated)}"
    return None


def default_top_strengths(strengths: Mapping[str, int]) -> list[str]:
    """When the giver picks none: the best-rated dimensions (up to three, in the model's order)."""
    best = max(strengths.values())
    return [d for d in LEADERSHIP_DIMENSIONS if strengths.get(d) == best][:MAX_TOP_STRENGTHS]


def top_strengths(strengths: Mapping[str, int], top: list[str] | None) -> tuple[list[str], str | None]:
    """The top strengths a rating names (the giver's pick, or by default the best-rated), or why
    the rating is refused."""
    problem = strengths_problem(dict(strengths))
    if problem:
        return [], problem
    chosen = top if top is not None else default_top_strengths(strengths)
    return chosen, top_strengths_problem(strengths, chosen)


def partners(fellow_ids: list[uuid.UUID], fellow: uuid.UUID) -> list[uuid.UUID]:
    return [f for f in fellow_ids if f != fellow]


def expected(fellow_ids: list[uuid.UUID]) -> set[tuple[uuid.UUID, uuid.UUID]]:
    """Every (giver, receiver) of a pair or trio: each fellow writes about each partner."""
    return {(a, b) for a in fellow_ids for b in partners(fellow_ids, a)}


def all_submitted(fellow_ids: list[uuid.UUID], submitted: set[tuple[uuid.UUID, uuid.UUID]]) -> bool:
    """Blind release: every fellow has written about every partner."""
    return expected(fellow_ids) <= submitted


def unanswered(
    requested: Iterable[tuple[uuid.UUID, uuid.UUID]], answered: set[tuple[uuid.UUID, uuid.UUID]]
) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """The (giver, receiver) requests nobody has answered yet: still due, or missing at the deadline."""
    return [r for r in requested if r not in answered]


def giving_problem(
    exchange_completed_at: datetime | None, released_at: datetime | None, due_at: datetime | None, now: datetime
) -> str | None:
    """Whether a pair takes feedback (or corrections) now: after the exchange, before release and due date."""
    if exchange_completed_at is None:
        return "feedback opens when the exchange is complete"
    if released_at is not None:
        return "the feedback of this pair has been released; no more can be given"
    if due_at is not None and now > due_at:
        return f"feedback was due by {due_at.isoformat()}"
    return None


def due_at(exchange_completed_at: datetime, due_after: timedelta) -> datetime:
    """Deterministic from the event, so a redelivered ExchangeCompleted computes the same due date."""
    return exchange_completed_at + due_after


def correction_problem(
    submitted_at: datetime, released_at: datetime | None, now: datetime, edit_window: timedelta
) -> str | None:
    if released_at is not None:
        return "this feedback has been released and can no longer be corrected"
    if now > submitted_at + edit_window:
        return f"corrections are possible for {_human(edit_window)} after submitting; that time has passed"
    return None


def _human(delta: timedelta) -> str:
    hours = delta.total_seconds() / 3600
    if hours >= 24 and hours % 24 == 0:
        days = int(hours // 24)
        return f"{days} day{'s' if days != 1 else ''}"
    if hours >= 1 and hours == int(hours):
        return f"{int(hours)} hour{'s' if hours != 1 else ''}"
    return f"{int(delta.total_seconds() // 60)} minutes"


# --- release ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class GivenFacts:
    """One unreleased feedback of a pair, as far as its release is concerned."""

    id: uuid.UUID
    from_fellow_id: uuid.UUID
    to_fellow_id: uuid.UUID
    strengths: Mapping[str, int]
    top_strengths: list[str]
    collaboration_ideas: list[str]


@dataclass(frozen=True)
class Opportunity:
    """A collaboration idea of released feedback, linking the giver's and receiver's organisations."""

    id: uuid.UUID
    feedback_id: uuid.UUID
    idea: str
    organisation_codes: list[str]
    organisation_ids: list[uuid.UUID]


def release(
    pair_id: uuid.UUID, given: Iterable[GivenFacts], fellows: Mapping[uuid.UUID, FellowFacts], now: datetime
) -> tuple[list[Opportunity], list[ev.Event]]:
    """What releasing a pair's feedback causes: FeedbackReleased for each, and a collaboration
    opportunity (with its event) for each idea."""
    opportunities: list[Opportunity] = []
    events: list[ev.Event] = []
    for f in given:
        events.append(
            ev.FeedbackReleased(
                feedback_id=f.id,
                pair_id=pair_id,
                to_fellow_id=f.to_fellow_id,
                strengths=dict(f.strengths),
                top_strengths=f.top_strengths,
                released_at=now,
            )
        )
        linked = [fellows[x] for x in (f.from_fellow_id, f.to_fellow_id) if x in fellows]
        organisation_ids = list(dict.fromkeys(x.organisation_id for x in linked))
        codes = list(dict.fromkeys(x.organisation_code for x in linked))
        for idea in f.collaboration_ideas:
            opportunity = Opportunity(uuid.uuid4(), f.id, idea, codes, organisation_ids)
            opportunities.append(opportunity)
            events.append(
                ev.CollaborationOpportunityIdentified(
                    opportunity_id=opportunity.id,
                    pair_id=pair_id,
                    organisation_ids=organisation_ids,
                    identified_at=now,
                )
            )
    return opportunities, events


# --- the cohort evaluation report --------------------------------------------------------------


MEAN_BASE = 10  # a mean score is shown only over at least this many ratings, to one decimal


def mean(values: list[int]) -> float | None:
    """A mean score over at least ``MEAN_BASE`` ratings, to one decimal (coarse enough that, with the
    rounded counts beside it, it does not give a single rating away)."""
    if len(values) < MEAN_BASE:
        return None
    return round(sum(values) / len(values), 1)


@dataclass(frozen=True)
class PairFacts:
    id: uuid.UUID
    fellow_ids: list[uuid.UUID]
    exchange_completed: bool


@dataclass(frozen=True)
class FeedbackFacts:
    from_fellow_id: uuid.UUID
    to_fellow_id: uuid.UUID
    strengths: Mapping[str, int]
    top_strengths: list[str]
    released: bool


@dataclass(frozen=True)
class FellowFacts:
    id: uuid.UUID
    organisation_id: uuid.UUID
    organisation_code: str
    sector: str
    place: str


@dataclass(frozen=True)
class RequestFacts:
    from_fellow_id: uuid.UUID
    to_fellow_id: uuid.UUID
    missing: bool


def cohort_report(
    cohort_id: uuid.UUID,
    *,
    fellows: Iterable[FellowFacts],
    pairs: Iterable[PairFacts],
    requests: Iterable[RequestFacts],
    feedback: Iterable[FeedbackFacts],
    opportunities: Iterable[tuple[uuid.UUID, ...]],
) -> dict[str, Any]:
    """The cohort evaluation report: completion rates, strengths, the collaboration network.

    Published under disclosure control (shared/disclosure.py): counts rounded to 5, small ones
    hidden, further cells suppressed where a sum (pairs = completed + not completed; a dimension's
    ratings = its distribution = its sectors' ratings) would give a hidden one away.
    ``opportunities`` are the organisation ids each collaboration opportunity links.
    """
    fellows_by_id = {f.id: f for f in fellows}
    pairs = list(pairs)
    requests = list(requests)
    feedback = list(feedback)
    completed = [p for p in pairs if p.exchange_completed]

    scores: dict[str, list[int]] = {d: [] for d in LEADERSHIP_DIMENSIONS}
    top: dict[str, int] = dict.fromkeys(LEADERSHIP_DIMENSIONS, 0)
    by_sector: dict[str, dict[str, list[int]]] = {}
    receivers_by_sector: dict[str, set[uuid.UUID]] = {}
    for f in feedback:
        if not f.released:  # blind until release, in aggregate too
            continue
        sector = fellows_by_id[f.to_fellow_id].sector if f.to_fellow_id in fellows_by_id else "unknown"
        receivers_by_sector.setdefault(sector, set()).add(f.to_fellow_id)
        sector_scores = by_sector.setdefault(sector, {d: [] for d in LEADERSHIP_DIMENSIONS})
        for dimension, score in f.strengths.items():
            scores[dimension].append(score)
            sector_scores[dimension].append(score)
        for dimension in f.top_strengths:
            top[dimension] += 1

    organisations: dict[uuid.UUID, FellowFacts] = {}
    for fellow in fellows_by_id.values():
        organisations.setdefault(fellow.organisation_id, fellow)
    edges: dict[tuple[uuid.UUID, uuid.UUID], dict[str, int]] = {}

    def edge(a: uuid.UUID, b: uuid.UUID) -> dict[str, int]:
        key = (min(a, b), max(a, b))
        return edges.setdefault(key, {"pairs": 0, "opportunities": 0})

    for p in pairs:
        orgs = sorted({fellows_by_id[f].organisation_id for f in p.fellow_ids if f in fellows_by_id})
        for i, a in enumerate(orgs):
            for b in orgs[i + 1 :]:
                edge(a, b)["pairs"] += 1
    for linked in opportunities:
        orgs = sorted(set(linked))
        for i, a in enumerate(orgs):
            for b in orgs[i + 1 :]:
                edge(a, b)["opportunities"] += 1
    in_network = {o for key in edges for o in key}

    submitted = len(feedback)
    counts: dict[str, int] = {
        "fellows": len(fellows_by_id),
        "pairs": len(pairs),
        "completed": len(completed),
        "not_completed": len(pairs) - len(completed),
        "requested": len(requests),
        "submitted": submitted,
        "released": sum(1 for f in feedback if f.released),
        "missing": sum(1 for r in requests if r.missing),
    }
    for d in LEADERSHIP_DIMENSIONS:
        counts |= {f"{d}:ratings": len(scores[d]), f"{d}:top": top[d]}
        counts |= {f"{d}:{score}": scores[d].count(score) for score in range(1, 6)}
    for sector, dims in by_sector.items():
        counts[f"{sector}:rated"] = len(receivers_by_sector[sector])
        counts |= {f"{sector}:{d}": len(values) for d, values in dims.items()}
    for (a, b), edge_counts in edges.items():
        counts |= {f"{a}-{b}:{k}": n for k, n in edge_counts.items()}
    sums = [
        Sum("pairs", ("completed", "not_completed")),
        Sum("requested", ("submitted", "missing"), exact=False),
        Sum("submitted", ("released",), exact=False),
        *(Sum(f"{d}:ratings", tuple(f"{d}:{score}" for score in range(1, 6))) for d in LEADERSHIP_DIMENSIONS),
        *(Sum(f"{d}:ratings", tuple(f"{sector}:{d}" for sector in by_sector)) for d in LEADERSHIP_DIMENSIONS),
    ]
    shown = protect(counts, sums)
    return {
        "cohort_id": str(cohort_id),
        "suppression": f"counts are rounded to the nearest 5; 1 to 4 are shown as {HIDDEN!r}; "
        f"{SUPPRESSED!r} marks a count hidden because it would give a small one away; rates come from "
        f"the rounded counts and need at least 5 in their base; means need {MEAN_BASE} ratings",
        "fellows": shown["fellows"],
        "exchange": {
            "pairs": shown["pairs"],
            "completed": shown["completed"],
            "not_completed": shown["not_completed"],
            "completion_rate": rate(shown["completed"], shown["pairs"]),
        },
        "feedback": {
            "requested": shown["requested"],
            "submitted": shown["submitted"],
            "released": shown["released"],
            "missing": shown["missing"],
            "completion_rate": rate(shown["submitted"], shown["requested"]),
        },
        "strengths_by_dimension": [
            {
                "dimension": d,
                "ratings": shown[f"{d}:ratings"],
                "mean": mean(scores[d]),
                "top_strength": shown[f"{d}:top"],
                "distribution": {str(score): shown[f"{d}:{score}"] for score in range(1, 6)},
            }
            for d in LEADERSHIP_DIMENSIONS
        ],
        "strengths_by_sector": [
            {
                "sector": sector,
                "fellows_rated": shown[f"{sector}:rated"],
                "dimensions": {
                    d: {"ratings": shown[f"{sector}:{d}"], "mean": mean(values)} for d, values in dims.items()
                },
            }
            for sector, dims in sorted(by_sector.items())
        ],
        "collaboration_network": {
            "nodes": [
                {
                    "organisation_id": str(o),
                    "code": organisations[o].organisation_code,
                    "sector": organisations[o].sector,
                    "place": organisations[o].place,
                }
                for o in sorted(in_network, key=lambda o: organisations[o].organisation_code)
                if o in organisations
            ],
            "edges": [
                {
                    "source": str(a),
                    "target": str(b),
                    "pairs": shown[f"{a}-{b}:pairs"],
                    "opportunities": shown[f"{a}-{b}:opportunities"],
                }
                for a, b in sorted(edges)
            ],
        },
    }
