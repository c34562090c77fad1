"""The cohort evaluation report of the feedback service: pure, no I/O; small numbers suppressed."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from services.feedback.domain import FellowFacts
from shared.disclosure import HIDDEN, SUPPRESSED, Shown, Sum, protect, rate
from shared.events import LEADERSHIP_DIMENSIONS

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
class RequestFacts:
    from_fellow_id: uuid.UUID
    to_fellow_id: uuid.UUID
    missing: bool


@dataclass(frozen=True)
class CohortFacts:
    """What the report of one cohort is made of (``opportunities``: the organisation ids each
    collaboration opportunity links)."""

    fellows: list[FellowFacts]
    pairs: list[PairFacts]
    requests: list[RequestFacts]
    feedback: list[FeedbackFacts]
    opportunities: list[tuple[uuid.UUID, ...]]

    @classmethod
    def merged(cls, many: Iterable[CohortFacts]) -> CohortFacts:
        """Several cohorts' facts as one (a programme's totals)."""
        many = list(many)
        return cls(*([x for f in many for x in getattr(f, name)] for name in cls.__dataclass_fields__))


@dataclass(frozen=True)
class Tally:
    """A report's true counts before disclosure control, the sums an outsider knows between them
    (``Sum``), and what the report shows beside the counts (means, sectors, the network)."""

    counts: dict[str, int]
    sums: list[Sum]
    scores: dict[str, list[int]]
    by_sector: dict[str, dict[str, list[int]]]
    organisations: dict[uuid.UUID, FellowFacts]
    edges: list[tuple[uuid.UUID, uuid.UUID]]


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
    counted = tally(CohortFacts(list(fellows), list(pairs), list(requests), list(feedback), list(opportunities)))
    return shaped(str(cohort_id), counted, protect(counted.counts, counted.sums))


def tally(facts: CohortFacts) -> Tally:
    """The true counts of a cohort's (or several cohorts') report and the sums that link them."""
    fellows_by_id = {f.id: f for f in facts.fellows}
    pairs, requests, feedback = facts.pairs, facts.requests, facts.feedback
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
    for linked in facts.opportunities:
        orgs = sorted(set(linked))
        for i, a in enumerate(orgs):
            for b in orgs[i + 1 :]:
                edge(a, b)["opportunities"] += 1

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
    return Tally(counts, sums, scores, by_sector, organisations, sorted(edges))


SUPPRESSION = (
    f"counts are rounded to the nearest 5; 1 to 4 are shown as {HIDDEN!r}; "
    f"{SUPPRESSED!r} marks a count hidden because it would give a small one away; rates come from "
    f"the rounded counts and need at least 5 in their base; means need {MEAN_BASE} ratings"
)


def shaped(cohort_id: str, t: Tally, shown: Mapping[str, Shown]) -> dict[str, Any]:
    """The report as published: the counts as ``shown`` (after disclosure control), rates from them."""
    in_network = {o for key in t.edges for o in key}
    organisations = t.organisations
    return {
        "cohort_id": cohort_id,
        "suppression": SUPPRESSION,
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
                "mean": mean(t.scores[d]),
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
            for sector, dims in sorted(t.by_sector.items())
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
                for a, b in t.edges
            ],
        },
    }


# --- the report across the cohorts of a programme ----------------------------------------------------

TOTAL = "total"
PROGRAMME_PARTS = ("cohort_id", "fellows", "exchange", "feedback", "strengths_by_dimension")


def programme_report(cohorts: Mapping[str, CohortFacts]) -> dict[str, Any]:
    """The measures of every cohort of a programme side by side, and their totals, under the same
    disclosure control as a cohort's own report, applied to all the columns at once (``programme_cells``).
    A total's mean is shown only when no cohort hides its own (it would be derivable from the others)."""
    tallies = {c: tally(facts) for c, facts in cohorts.items()}
    together = tally(CohortFacts.merged(cohorts.values()))
    _, _, shown = programme_cells(tallies, together)

    def column(name: str, t: Tally) -> dict[str, Any]:
        report = shaped(name, t, {k: shown[f"{name}|{k}"] for k in t.counts})
        return {k: report[k] for k in PROGRAMME_PARTS}

    total = column(TOTAL, together)
    for row in total["strengths_by_dimension"]:
        if any(0 < len(t.scores[row["dimension"]]) < MEAN_BASE for t in tallies.values()):
            row["mean"] = None
    return {
        "suppression": SUPPRESSION,
        "cohorts": [column(c, t) for c, t in tallies.items()],
        "total": total,
    }


def programme_cells(
    tallies: Mapping[str, Tally], together: Tally
) -> tuple[dict[str, int], list[Sum], dict[str, Shown]]:
    """Every cell of a programme's table (``<cohort>|<count>`` and ``total|<count>``), the sums an
    outsider knows between them, and the cells as published: each cohort's cells start as its own
    report shows them (what is suppressed there stays suppressed), the totals are rounded like any
    cell, and a total being the sum of the cohorts' cells is one more known sum, so further cells are
    suppressed until no hidden count can be derived from the whole table."""
    counts: dict[str, int] = {}
    published: dict[str, Shown] = {}
    sums: list[Sum] = []
    for name, t in [*tallies.items(), (TOTAL, together)]:
        counts |= {f"{name}|{k}": n for k, n in t.counts.items()}
        sums += [Sum(f"{name}|{s.total}", tuple(f"{name}|{p}" for p in s.parts), s.exact) for s in t.sums]
        if name != TOTAL:  # as the cohort's own report shows them
            published |= {f"{name}|{k}": v for k, v in protect(t.counts, t.sums).items()}
    for key in together.counts:
        sums.append(Sum(f"{TOTAL}|{key}", tuple(f"{c}|{key}" for c, t in tallies.items() if key in t.counts)))
    return counts, sums, protect(counts, sums, published)
