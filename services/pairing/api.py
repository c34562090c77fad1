"""HTTP routes of the pairing service: pairs, swaps, publishing, visits, a fellow's own pairs.

Which fellows a caller is comes from the caller's token subject (``queries.fellow_ids_of``), never
from a header.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, cast

from fastapi import APIRouter, status
from sqlalchemy.ext.asyncio import AsyncSession

from services.pairing import (
    board,
    commands,
    measures,
    meeting_plans,
    mentoring,
    projects,
    queries,
    reflections,
    visits,
)
from services.pairing.domain import Weights
from services.pairing.settings import PairingSettings
from shared import privacy
from shared.contract import (
    AddMilestone,
    CloseMentoring,
    Created,
    Empty,
    Exclusion,
    Lock,
    MentoringAgreement,
    MentoringCheckIn,
    MentoringMeeting,
    MoveMeeting,
    MoveVisit,
    PairingWeights,
    PlanMeeting,
    Presentation,
    ScheduleVisit,
    ShadowingReflection,
    StartProject,
    Swap,
)
from shared.identity import Caller, CallerDep
from shared.routing import add_routes
from shared.service import RuntimeDep, ServiceRuntime

router = APIRouter()


@asynccontextmanager
async def as_fellow(runtime: ServiceRuntime, caller: Caller) -> AsyncIterator[tuple[AsyncSession, set[uuid.UUID]]]:
    """A transaction, and the fellows the caller is in it (none for someone who is not one): what
    every route of a pair's own members starts with; the route's command answers 404 for the rest."""
    async with runtime.transaction() as s:
        yield s, await queries.fellow_ids_of(s, caller.sub)


def _settings(runtime: ServiceRuntime) -> PairingSettings:
    return cast(PairingSettings, runtime.settings)


@router.get("/cohorts/{cohort_id}/pairing")
async def pairing_status(cohort_id: uuid.UUID, runtime: RuntimeDep, caller: CallerDep) -> dict[str, Any]:
    caller.require("board", "admin")
    async with runtime.transaction() as s:
        return await queries.pairing_status(s, cohort_id, _settings(runtime).pairing_weights)


@router.get("/cohorts/{cohort_id}/pairs")
async def list_pairs(cohort_id: uuid.UUID, runtime: RuntimeDep, caller: CallerDep) -> list[dict[str, Any]]:
    async with runtime.transaction() as s:
        return await queries.cohort_pairs(s, cohort_id, caller.role, caller.sub)


@router.get("/pairs/mine")
async def my_pairs(runtime: RuntimeDep, caller: CallerDep) -> list[dict[str, Any]]:
    """The caller's published pairs, partners and visits; nobody else's."""
    async with runtime.transaction() as s:
        return await queries.my_pairs(s, caller.sub)


@router.post("/cohorts/{cohort_id}/pairs/publish", status_code=status.HTTP_202_ACCEPTED)
async def publish_pairs(cohort_id: uuid.UUID, body: Empty, runtime: RuntimeDep, caller: CallerDep) -> dict[str, Any]:
    caller.require("board")
    async with runtime.transaction() as s:
        published = await commands.publish_pairs(s, cohort_id)
    return {"id": cohort_id, "published": published}


@router.post("/cohorts/{cohort_id}/pairs/swap", status_code=status.HTTP_202_ACCEPTED)
async def swap(cohort_id: uuid.UUID, body: Swap, runtime: RuntimeDep, caller: CallerDep) -> dict[str, Any]:
    caller.require("board")
    async with runtime.transaction() as s:
        pairs = await commands.swap(s, cohort_id, body.fellow_a, body.fellow_b, _settings(runtime))
    return {"id": cohort_id, "pairs": pairs}


# --- the board's tools: exclusions, locks, weights, preview, alternatives -----------------------


@router.post("/cohorts/{cohort_id}/exclusions", status_code=status.HTTP_201_CREATED)
async def exclude(cohort_id: uuid.UUID, body: Exclusion, runtime: RuntimeDep, caller: CallerDep) -> Created:
    caller.require("board")
    async with runtime.transaction() as s:
        await board.exclude(s, cohort_id, [body.fellow_a, body.fellow_b], caller.sub)
    return Created(id=cohort_id)


@router.post("/cohorts/{cohort_id}/pairs/lock", status_code=status.HTTP_202_ACCEPTED)
async def lock(cohort_id: uuid.UUID, body: Lock, runtime: RuntimeDep, caller: CallerDep) -> Created:
    caller.require("board")
    async with runtime.transaction() as s:
        await board.lock(s, cohort_id, body.fellow_ids, caller.sub, _settings(runtime))
    return Created(id=cohort_id)


@router.post("/cohorts/{cohort_id}/pairs/unlock", status_code=status.HTTP_202_ACCEPTED)
async def unlock(cohort_id: uuid.UUID, body: Lock, runtime: RuntimeDep, caller: CallerDep) -> Created:
    caller.require("board")
    async with runtime.transaction() as s:
        await board.unlock(s, cohort_id, body.fellow_ids)
    return Created(id=cohort_id)


@router.put("/cohorts/{cohort_id}/weights")
async def set_weights(
    cohort_id: uuid.UUID, body: PairingWeights, runtime: RuntimeDep, caller: CallerDep
) -> dict[str, Any]:
    caller.require("board")
    weights = Weights.model_validate(body.model_dump())
    async with runtime.transaction() as s:
        await board.set_weights(s, cohort_id, weights, caller.sub)
    return {"id": cohort_id, **weights.model_dump()}


@router.post("/cohorts/{cohort_id}/pairing/preview")
async def preview(cohort_id: uuid.UUID, body: Empty, runtime: RuntimeDep, caller: CallerDep) -> dict[str, Any]:
    caller.require("board")
    async with runtime.transaction() as s:
        return await board.preview(s, cohort_id, _settings(runtime))


@router.get("/cohorts/{cohort_id}/fellows/{fellow_id}/alternatives")
async def fellow_alternatives(
    cohort_id: uuid.UUID, fellow_id: uuid.UUID, runtime: RuntimeDep, caller: CallerDep
) -> list[dict[str, Any]]:
    caller.require("board")
    async with runtime.transaction() as s:
        return await board.alternatives_of(s, cohort_id, fellow_id, _settings(runtime))


@router.post("/pairs/{pair_id}/visits", status_code=status.HTTP_201_CREATED)
async def schedule_visit(pair_id: uuid.UUID, body: ScheduleVisit, runtime: RuntimeDep, caller: CallerDep) -> Created:
    async with as_fellow(runtime, caller) as (s, mine):
        visit_id = await visits.schedule_visit(s, pair_id, mine, body.host_fellow_id, body.date, caller.sub)
    return Created(id=visit_id)


@router.post("/visits/{visit_id}/complete", status_code=status.HTTP_202_ACCEPTED)
async def complete_visit(visit_id: uuid.UUID, body: Empty, runtime: RuntimeDep, caller: CallerDep) -> Created:
    async with as_fellow(runtime, caller) as (s, mine):
        await visits.complete_visit(s, visit_id, mine)
    return Created(id=visit_id)


@router.post("/visits/{visit_id}/move", status_code=status.HTTP_202_ACCEPTED)
async def move_visit(visit_id: uuid.UUID, body: MoveVisit, runtime: RuntimeDep, caller: CallerDep) -> Created:
    async with as_fellow(runtime, caller) as (s, mine):
        await visits.move_visit(s, visit_id, mine, body.date)
    return Created(id=visit_id)


@router.post("/visits/{visit_id}/cancel", status_code=status.HTTP_202_ACCEPTED)
async def cancel_visit(visit_id: uuid.UUID, body: Empty, runtime: RuntimeDep, caller: CallerDep) -> Created:
    async with as_fellow(runtime, caller) as (s, mine):
        await visits.cancel_visit(s, visit_id, mine)
    return Created(id=visit_id)


add_routes(router, privacy.routes(queries.PERSONAL_DATA))  # POST /privacy/export (admins)


# --- mentoring: agreement, meetings, check-ins, closure (mentoring.py) -------------------------


@router.post("/pairs/{pair_id}/agreement", status_code=status.HTTP_202_ACCEPTED)
async def agree(pair_id: uuid.UUID, body: MentoringAgreement, runtime: RuntimeDep, caller: CallerDep) -> Created:
    async with as_fellow(runtime, caller) as (s, mine):
        await mentoring.agree(s, pair_id, mine, body.goals, body.meet_every_weeks, caller.sub)
    return Created(id=pair_id)


@router.post("/pairs/{pair_id}/meetings", status_code=status.HTTP_201_CREATED)
async def log_meeting(pair_id: uuid.UUID, body: MentoringMeeting, runtime: RuntimeDep, caller: CallerDep) -> Created:
    async with as_fellow(runtime, caller) as (s, mine):
        return Created(id=await mentoring.log_meeting(s, pair_id, mine, body.date, body.minutes, body.notes))


@router.get("/pairs/{pair_id}/meetings")
async def meetings(pair_id: uuid.UUID, runtime: RuntimeDep, caller: CallerDep) -> dict[str, Any]:
    """The pair's agreement and meetings with their notes: the mentor and the mentee alone."""
    async with as_fellow(runtime, caller) as (s, mine):
        return await mentoring.meetings(s, pair_id, mine)


@router.post("/pairs/{pair_id}/meetings/planned", status_code=status.HTTP_201_CREATED)
async def plan_meeting(pair_id: uuid.UUID, body: PlanMeeting, runtime: RuntimeDep, caller: CallerDep) -> Created:
    async with as_fellow(runtime, caller) as (s, mine):
        return Created(id=await meeting_plans.plan(s, pair_id, mine, body.date, body.starts_at, body.minutes))


@router.post("/meetings/{meeting_id}/move", status_code=status.HTTP_202_ACCEPTED)
async def move_meeting(meeting_id: uuid.UUID, body: MoveMeeting, runtime: RuntimeDep, caller: CallerDep) -> Created:
    async with as_fellow(runtime, caller) as (s, mine):
        await meeting_plans.move(s, meeting_id, mine, body.date, body.starts_at)
    return Created(id=meeting_id)


@router.post("/meetings/{meeting_id}/cancel", status_code=status.HTTP_202_ACCEPTED)
async def cancel_meeting(meeting_id: uuid.UUID, body: Empty, runtime: RuntimeDep, caller: CallerDep) -> Created:
    async with as_fellow(runtime, caller) as (s, mine):
        await meeting_plans.cancel(s, meeting_id, mine)
    return Created(id=meeting_id)


@router.post("/pairs/{pair_id}/check-ins", status_code=status.HTTP_201_CREATED)
async def check_in(pair_id: uuid.UUID, body: MentoringCheckIn, runtime: RuntimeDep, caller: CallerDep) -> Created:
    async with as_fellow(runtime, caller) as (s, mine):
        await mentoring.check_in(s, pair_id, mine, body.month, body.working, body.comment)
    return Created(id=pair_id)


@router.post("/pairs/{pair_id}/close", status_code=status.HTTP_202_ACCEPTED)
async def close(pair_id: uuid.UUID, body: CloseMentoring, runtime: RuntimeDep, caller: CallerDep) -> dict[str, Any]:
    async with as_fellow(runtime, caller) as (s, mine):
        closed = await mentoring.close(s, pair_id, mine, body.reflection)
    return {"id": pair_id, "closed": closed}


@router.get("/cohorts/{cohort_id}/mentoring")
async def mentoring_progress(cohort_id: uuid.UUID, runtime: RuntimeDep, caller: CallerDep) -> dict[str, Any]:
    """The board's view of a mentoring cohort: counts only, never a note, comment or reflection."""
    caller.require("board", "admin")
    async with runtime.transaction() as s:
        return await mentoring.cohort_progress(s, cohort_id)


@router.get("/cohorts/{cohort_id}/measures")
async def cohort_measures(cohort_id: uuid.UUID, runtime: RuntimeDep, caller: CallerDep) -> dict[str, Any]:
    """The cohort's kind and its own measures for the report (board and admin): counts only."""
    caller.require("board", "admin")
    async with runtime.transaction() as s:
        return await measures.cohort_measures(s, cohort_id)


# --- paired learning: the joint project (projects.py) -----------------------------------------


@router.post("/pairs/{pair_id}/project", status_code=status.HTTP_201_CREATED)
async def start_project(pair_id: uuid.UUID, body: StartProject, runtime: RuntimeDep, caller: CallerDep) -> Created:
    async with as_fellow(runtime, caller) as (s, mine):
        return Created(id=await projects.start(s, pair_id, mine, body.title, body.aim, body.measure, caller.sub))


@router.get("/pairs/{pair_id}/project")
async def project(pair_id: uuid.UUID, runtime: RuntimeDep, caller: CallerDep) -> dict[str, Any]:
    async with as_fellow(runtime, caller) as (s, mine):
        return await projects.of_pair(s, pair_id, mine)


@router.post("/pairs/{pair_id}/project/milestones", status_code=status.HTTP_201_CREATED)
async def add_milestone(pair_id: uuid.UUID, body: AddMilestone, runtime: RuntimeDep, caller: CallerDep) -> Created:
    async with as_fellow(runtime, caller) as (s, mine):
        return Created(id=await projects.add_milestone(s, pair_id, mine, body.title, body.due))


@router.post("/pairs/{pair_id}/project/milestones/{milestone_id}/done", status_code=status.HTTP_202_ACCEPTED)
async def milestone_done(
    pair_id: uuid.UUID, milestone_id: uuid.UUID, body: Empty, runtime: RuntimeDep, caller: CallerDep
) -> Created:
    async with as_fellow(runtime, caller) as (s, mine):
        await projects.milestone_done(s, pair_id, mine, milestone_id)
    return Created(id=milestone_id)


@router.post("/pairs/{pair_id}/project/presentation", status_code=status.HTTP_202_ACCEPTED)
async def present(pair_id: uuid.UUID, body: Presentation, runtime: RuntimeDep, caller: CallerDep) -> Created:
    async with as_fellow(runtime, caller) as (s, mine):
        await projects.present(s, pair_id, mine, body.date, body.summary)
    return Created(id=pair_id)


# --- shadowing: the learner's reflection, a thank-you to the sharer (reflections.py) ------------


@router.post("/pairs/{pair_id}/reflection", status_code=status.HTTP_201_CREATED)
async def share_reflection(
    pair_id: uuid.UUID, body: ShadowingReflection, runtime: RuntimeDep, caller: CallerDep
) -> Created:
    async with as_fellow(runtime, caller) as (s, mine):
        await reflections.share(s, pair_id, mine, body.learnt, body.take_back)
    return Created(id=pair_id)


@router.get("/pairs/{pair_id}/reflection")
async def reflection(pair_id: uuid.UUID, runtime: RuntimeDep, caller: CallerDep) -> dict[str, Any]:
    """The learner's reflection: the learner and the sharer alone."""
    async with as_fellow(runtime, caller) as (s, mine):
        return await reflections.of_pair(s, pair_id, mine)
