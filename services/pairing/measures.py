"""Each programme kind's own measures for the cohort report (``lbb report``): counts only, protected by
``shared/disclosure.py``; never an offer, a note, a comment, a reflection or a project's words.

- shadowing: places offered by the sharers, places used by published matches (and left), learners
  enrolled and placed, visits done;
- mentoring: ``mentoring.cohort_progress`` (meetings per pair, check-ins answered at 3 and 6 months,
  closures);
- paired learning: projects started, milestones set and met, presentations given.

The exchange's own figures (completion, feedback, strengths, self-assessment change, reflections
sent) are the feedback service's part of the report.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.pairing import mentoring
from services.pairing.models import Fellow, Milestone, Pair, PairingRound, Project, Visit
from shared.disclosure import Sum, protect, rate
from shared.errors import NotFound


@dataclass(frozen=True)
class ShadowingFacts:
    places_offered: int
    learners: int
    places_used: int
    visits_done: int


def shadowing(facts: ShadowingFacts) -> dict[str, Any]:
    """Places offered = used + left, published together: ``protect`` hides a further cell where two of
    them would pin a hidden third."""
    counts = {
        "places_offered": facts.places_offered,
        "places_used": facts.places_used,
        "places_left": max(facts.places_offered - facts.places_used, 0),
        "learners": facts.learners,
        "learners_placed": facts.places_used,
        "learners_not_placed": max(facts.learners - facts.places_used, 0),
        "visits_done": facts.visits_done,
    }
    sums = [
        Sum("places_offered", ("places_used", "places_left")),
        Sum("learners", ("learners_placed", "learners_not_placed")),
    ]
    shown = protect(counts, sums)
    return shown | {"places_used_rate": rate(shown["places_used"], shown["places_offered"])}


@dataclass(frozen=True)
class ProjectFacts:
    pairs: int
    projects_started: int
    milestones_set: int
    milestones_met: int
    presentations: int


def paired_learning(facts: ProjectFacts) -> dict[str, Any]:
    counts = {
        "pairs": facts.pairs,
        "projects_started": facts.projects_started,
        "milestones_set": facts.milestones_set,
        "milestones_met": facts.milestones_met,
        "presentations": facts.presentations,
    }
    shown = protect(counts)
    return shown | {"milestones_met_rate": rate(shown["milestones_met"], shown["milestones_set"])}


async def _count(s: AsyncSession, query: Any) -> int:
    return int(await s.scalar(query) or 0)


async def _shadowing(s: AsyncSession, cohort_id: uuid.UUID, pair_ids: Iterable[uuid.UUID]) -> dict[str, Any]:
    ids = list(pair_ids)
    active = (Fellow.cohort_id == cohort_id, Fellow.withdrawn.is_(False))
    offered = await _count(s, select(func.sum(Fellow.capacity)).where(*active, Fellow.role == "sharer"))
    learners = await _count(s, select(func.count()).where(*active, Fellow.role == "learner"))
    visits = await _count(s, select(func.count()).where(Visit.pair_id.in_(ids), Visit.completed_at.is_not(None)))
    return shadowing(ShadowingFacts(offered, learners, len(ids), visits))


async def _paired_learning(s: AsyncSession, pair_ids: Iterable[uuid.UUID]) -> dict[str, Any]:
    ids = list(pair_ids)
    projects = select(Project.id).where(Project.pair_id.in_(ids)).scalar_subquery()
    started = await _count(s, select(func.count()).where(Project.pair_id.in_(ids)))
    presented = await _count(s, select(func.count()).where(Project.pair_id.in_(ids), Project.presented_on.is_not(None)))
    milestones = await s.execute(
        select(func.count(), func.count(Milestone.done_at)).where(Milestone.project_id.in_(projects))
    )
    set_, met = milestones.one()
    return paired_learning(ProjectFacts(len(ids), started, int(set_), int(met), presented))


async def cohort_measures(s: AsyncSession, cohort_id: uuid.UUID) -> dict[str, Any]:
    """The cohort's kind and that kind's measures, over its published matches."""
    round_ = await s.get(PairingRound, cohort_id)
    if round_ is None:
        raise NotFound("this cohort has not been paired yet")
    pair_ids = (
        await s.scalars(select(Pair.id).where(Pair.cohort_id == cohort_id, Pair.published_at.is_not(None)))
    ).all()
    measures: dict[str, Any] = {}
    if round_.kind == "shadowing":
        measures = await _shadowing(s, cohort_id, pair_ids)
    elif round_.kind == "mentoring":
        measures = {k: v for k, v in (await mentoring.cohort_progress(s, cohort_id)).items() if k != "cohort_id"}
    elif round_.kind == "paired_learning":
        measures = await _paired_learning(s, pair_ids)
    return {"kind": round_.kind, round_.kind: measures}
