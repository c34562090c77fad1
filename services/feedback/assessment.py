"""Self-assessment before and after (paired learning, seed 003): each fellow rates themselves on the
leadership dimensions at the start and at the end. The ratings are the fellow's alone; the cohort
report shows the mean change per dimension, and only over ``evaluation.MEAN_BASE`` fellows or more who
rated that dimension at both stages (fewer would let a reader work out one fellow's view)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.feedback import evaluation
from services.feedback.models import Fellow, SelfAssessment
from shared.disclosure import rounded
from shared.errors import Conflict, NotFound
from shared.events import LEADERSHIP_DIMENSIONS


def mean_change(before: dict[uuid.UUID, dict[str, int]], after: dict[uuid.UUID, dict[str, int]]) -> dict[str, Any]:
    """Per dimension: how many fellows rated it at both stages (rounded) and their mean change, when
    there are enough of them (pure)."""
    out: dict[str, Any] = {}
    for d in LEADERSHIP_DIMENSIONS:
        changes = [after[f][d] - before[f][d] for f in before.keys() & after.keys() if d in before[f] and d in after[f]]
        shown = round(sum(changes) / len(changes), 1) if len(changes) >= evaluation.MEAN_BASE else None
        out[d] = {"fellows": rounded(len(changes)), "mean_change": shown}
    return out


async def record(
    s: AsyncSession, fellow_id: uuid.UUID, mine: frozenset[uuid.UUID], stage: str, strengths: dict[str, int]
) -> None:
    """The fellow's own self-assessment at ``stage``; once each ("before" first)."""
    fellow = await s.get(Fellow, fellow_id)
    if fellow is None or fellow_id not in mine:
        raise NotFound("no such fellow")
    if stage == "after" and await s.get(SelfAssessment, (fellow_id, "before")) is None:
        raise Conflict("give your self-assessment before the programme first")
    done = await s.execute(
        insert(SelfAssessment)
        .values(
            fellow_id=fellow_id,
            stage=stage,
            cohort_id=fellow.cohort_id,
            strengths=strengths,
            submitted_at=datetime.now(UTC),
        )
        .on_conflict_do_nothing()
        .returning(SelfAssessment.fellow_id)
    )
    if done.first() is None:
        raise Conflict(f"you have given your self-assessment {stage} the programme")


async def mine(s: AsyncSession, fellow_id: uuid.UUID, my_fellows: frozenset[uuid.UUID]) -> dict[str, Any]:
    if fellow_id not in my_fellows:
        raise NotFound("no such fellow")
    rows = (await s.scalars(select(SelfAssessment).where(SelfAssessment.fellow_id == fellow_id))).all()
    return {"fellow_id": fellow_id, **{r.stage: r.strengths for r in rows}}


async def cohort_change(s: AsyncSession, cohort_id: uuid.UUID) -> dict[str, Any]:
    rows = (await s.scalars(select(SelfAssessment).where(SelfAssessment.cohort_id == cohort_id))).all()
    before = {r.fellow_id: r.strengths for r in rows if r.stage == "before"}
    after = {r.fellow_id: r.strengths for r in rows if r.stage == "after"}
    return mean_change(before, after)
