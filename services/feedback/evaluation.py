"""The cohort evaluation report of the feedback service: pure, no I/O; small numbers suppressed."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from services.feedback.domain import FellowFacts
from shared.disclosure import HIDDEN, SUPPRESSED, Sum, protect, rate
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
