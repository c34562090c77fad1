"""Paired learning's joint improvement project (seed 003: a registrar and a Band 7/8a manager work on an
improvement together and present it to executives): the rules and the transaction scripts.

One project per pair (title, aim, measure), milestones with due dates inside the cohort's dates, each
marked done once, and a presentation with its summary. Either fellow of the pair may act; nobody else
sees the project's words. Integration events carry ids and dates only.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.pairing.commands import my_pair
from services.pairing.models import Milestone, Pair, PairingRound, Project, outbox
from shared import events as ev
from shared.errors import Conflict, Invalid, NotFound
from shared.views import view

KIND = "paired_learning"


async def _learning_pair(s: AsyncSession, pair_id: uuid.UUID, mine: Iterable[uuid.UUID]) -> tuple[Pair, PairingRound]:
    """The published paired-learning pair (locked) and its round; 404 for anyone not of the pair."""
    found = await my_pair(s, pair_id, mine, KIND, "only a paired-learning pair has a joint project")
    return found.pair, found.round


async def _project(s: AsyncSession, pair: Pair) -> Project:
    project = await s.scalar(select(Project).where(Project.pair_id == pair.id).with_for_update())
    if project is None:
        raise Conflict("start the pair's project first")
    return project


def due_problem(due: date, starts: date, ends: date) -> str | None:
    if not starts <= due <= ends:
        return f"due: a milestone falls inside the cohort's dates, {starts.isoformat()} to {ends.isoformat()}"
    return None


async def start(
    s: AsyncSession, pair_id: uuid.UUID, mine: Iterable[uuid.UUID], title: str, aim: str, measure: str, by: str
) -> uuid.UUID:
    pair, _ = await _learning_pair(s, pair_id, mine)
    now = datetime.now(UTC)
    project = Project(
        id=uuid.uuid4(), pair_id=pair.id, title=title, aim=aim, measure=measure, created_by=by, created_at=now
    )
    s.add(project)
    try:
        await s.flush()
    except IntegrityError as exc:
        raise Conflict("this pair already has its project") from exc
    await outbox.add(s, ev.ProjectStarted(pair_id=pair.id, project_id=project.id, started_at=now))
    return project.id


async def add_milestone(
    s: AsyncSession, pair_id: uuid.UUID, mine: Iterable[uuid.UUID], title: str, due: date
) -> uuid.UUID:
    pair, pairing_round = await _learning_pair(s, pair_id, mine)
    project = await _project(s, pair)
    problem = due_problem(due, pairing_round.exchange_starts, pairing_round.exchange_ends)
    if problem:
        raise Invalid(problem)
    now = datetime.now(UTC)
    milestone = Milestone(id=uuid.uuid4(), project_id=project.id, title=title, due=due, created_at=now)
    s.add(milestone)
    await s.flush()
    await outbox.add(  # notifications reminds the pair before it is due
        s,
        ev.ProjectMilestoneSet(pair_id=pair.id, project_id=project.id, milestone_id=milestone.id, due=due, set_at=now),
    )
    return milestone.id


async def milestone_done(
    s: AsyncSession, pair_id: uuid.UUID, mine: Iterable[uuid.UUID], milestone_id: uuid.UUID
) -> None:
    pair, _ = await _learning_pair(s, pair_id, mine)
    project = await _project(s, pair)
    milestone = await s.get(Milestone, milestone_id, with_for_update=True)
    if milestone is None or milestone.project_id != project.id:
        raise NotFound("no such milestone")
    if milestone.done_at is not None:
        raise Conflict("this milestone is already done")
    milestone.done_at = datetime.now(UTC)
    await outbox.add(
        s,
        ev.ProjectMilestoneDone(
            pair_id=pair.id,
            project_id=project.id,
            milestone_id=milestone.id,
            due=milestone.due,
            done_at=milestone.done_at,
        ),
    )


async def present(s: AsyncSession, pair_id: uuid.UUID, mine: Iterable[uuid.UUID], day: date, summary: str) -> None:
    pair, _ = await _learning_pair(s, pair_id, mine)
    project = await _project(s, pair)
    if project.presented_on is not None:
        raise Conflict("the project has been presented")
    project.presented_on, project.presentation_summary = day, summary
    await outbox.add(s, ev.ProjectPresented(pair_id=pair.id, project_id=project.id, presented_on=day))


async def of_pair(s: AsyncSession, pair_id: uuid.UUID, mine: Iterable[uuid.UUID]) -> dict[str, Any]:
    """The pair's project with its milestones, for the two of them."""
    pair, _ = await _learning_pair(s, pair_id, mine)
    project = await s.scalar(select(Project).where(Project.pair_id == pair.id))
    if project is None:
        return {"pair_id": pair.id, "project": None}
    milestones = (
        await s.scalars(select(Milestone).where(Milestone.project_id == project.id).order_by(Milestone.due))
    ).all()
    return {
        "pair_id": pair.id,
        "project": view(project, "id title aim measure presented_on presentation_summary created_at"),
        "milestones": [view(m, "id title due done_at") for m in milestones],
    }
