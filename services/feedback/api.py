"""HTTP routes of the feedback service: parse, run a command or query in one transaction, answer.

A caller acts as a fellow through the fellows its token subject is (``queries.fellow_ids``), never
through a list the gateway sends.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, status

from services.feedback import assessment, collaboration, commands, domain, queries, settings
from shared import privacy
from shared.contract import Correction, Created, GiveFeedback, SelfAssessment, UpdateOpportunity
from shared.errors import NotFound
from shared.events import CollaborationStatus
from shared.identity import CallerDep
from shared.routing import add_routes
from shared.service import RuntimeDep

router = APIRouter()


def _submission(body: Correction) -> commands.Submission:
    return commands.Submission(dict(body.strengths), body.top_strengths, body.narrative, body.collaboration_ideas or [])


@router.post("/pairs/{pair_id}/feedback", status_code=status.HTTP_201_CREATED)
async def give_feedback(pair_id: uuid.UUID, body: GiveFeedback, runtime: RuntimeDep, caller: CallerDep) -> Created:
    async with runtime.transaction() as s:
        mine = await queries.fellow_ids(s, caller.sub)
        feedback_id = await commands.give_feedback(
            s, pair_id, mine, body.to_fellow_id, _submission(body), now=commands.system_clock()
        )
    return Created(id=feedback_id)


@router.put("/pairs/{pair_id}/feedback/{feedback_id}", status_code=status.HTTP_202_ACCEPTED)
async def correct_feedback(
    pair_id: uuid.UUID, feedback_id: uuid.UUID, body: Correction, runtime: RuntimeDep, caller: CallerDep
) -> Created:
    """Correct one's own feedback within the edit window, while it is unreleased."""
    edit_window = settings.of(runtime.settings).edit_window
    async with runtime.transaction() as s:
        mine = await queries.fellow_ids(s, caller.sub)
        corrected = await commands.correct_feedback(
            s, pair_id, feedback_id, mine, _submission(body), edit_window, now=commands.system_clock()
        )
    return Created(id=corrected)


@router.get("/pairs/{pair_id}/feedback")
async def my_pair_feedback(pair_id: uuid.UUID, runtime: RuntimeDep, caller: CallerDep) -> dict[str, Any]:
    """A fellow's view of their pair's feedback: what they gave (to correct it) and what is still due."""
    edit_window = settings.of(runtime.settings).edit_window
    async with runtime.transaction() as s:
        mine = await queries.fellow_ids(s, caller.sub)
        return await queries.pair_feedback(s, pair_id, mine, edit_window)


@router.get("/fellows/{fellow_id}/feedback")
async def released_feedback(fellow_id: uuid.UUID, runtime: RuntimeDep, caller: CallerDep) -> list[dict[str, Any]]:
    """Released feedback about one fellow: only to that fellow and the board; nothing before release."""
    async with runtime.transaction() as s:
        mine = frozenset() if caller.role in domain.STAFF else await queries.fellow_ids(s, caller.sub)
        if not domain.may_read_released(caller.role, fellow_id, mine):
            raise NotFound("no such fellow")
        return await queries.released_feedback(s, fellow_id)


@router.get("/cohorts/{cohort_id}/report")
async def cohort_report(cohort_id: uuid.UUID, runtime: RuntimeDep, caller: CallerDep) -> dict[str, Any]:
    """The cohort evaluation report (board and admin), small numbers suppressed."""
    caller.require(*domain.STAFF)
    async with runtime.transaction() as s:
        return await queries.cohort_report(s, cohort_id, now=commands.system_clock())


@router.get("/programmes/report")
async def programme_report(
    runtime: RuntimeDep, caller: CallerDep, cohort_id: Annotated[list[uuid.UUID], Query(max_length=100)]
) -> dict[str, Any]:
    """The report across the cohorts of a programme (board and admin): each cohort's measures side by
    side and the totals, small numbers suppressed across the whole table."""
    caller.require(*domain.STAFF)
    async with runtime.transaction() as s:
        return await queries.programme_report(s, cohort_id, now=commands.system_clock())


# --- self-assessment (paired learning) ---


@router.post("/fellows/{fellow_id}/self-assessments", status_code=status.HTTP_201_CREATED)
async def self_assess(fellow_id: uuid.UUID, body: SelfAssessment, runtime: RuntimeDep, caller: CallerDep) -> Created:
    """The fellow's own view of themselves, before or after: private, reported only in aggregate."""
    async with runtime.transaction() as s:
        mine = await queries.fellow_ids(s, caller.sub)
        await assessment.record(s, fellow_id, mine, body.stage, dict(body.strengths))
    return Created(id=fellow_id)


@router.get("/fellows/{fellow_id}/self-assessments")
async def my_self_assessments(fellow_id: uuid.UUID, runtime: RuntimeDep, caller: CallerDep) -> dict[str, Any]:
    async with runtime.transaction() as s:
        return await assessment.mine(s, fellow_id, await queries.fellow_ids(s, caller.sub))


# --- collaboration followed through ---


@router.get("/opportunities")
async def opportunities(
    runtime: RuntimeDep, caller: CallerDep, status: CollaborationStatus | None = None
) -> list[dict[str, Any]]:
    """Collaboration opportunities: a sponsor's organisation's, or every one for the board and admins."""
    caller.require(*collaboration.READERS)
    async with runtime.transaction() as s:
        return await queries.opportunities(s, caller, status)


@router.get("/opportunities/{opportunity_id}")
async def opportunity(opportunity_id: uuid.UUID, runtime: RuntimeDep, caller: CallerDep) -> dict[str, Any]:
    caller.require(*collaboration.READERS)
    async with runtime.transaction() as s:
        return await queries.opportunity(s, caller, opportunity_id)


@router.post("/opportunities/{opportunity_id}/update", status_code=status.HTTP_202_ACCEPTED)
async def update_opportunity(
    opportunity_id: uuid.UUID, body: UpdateOpportunity, runtime: RuntimeDep, caller: CallerDep
) -> Created:
    """The owners (the two organisations' sponsors, or an admin) move the opportunity on."""
    caller.require(*collaboration.OWNER_ROLES)
    async with runtime.transaction() as s:
        await commands.update_opportunity(
            s, caller, opportunity_id, body.status, body.next_step, body.reason, body.update, commands.system_clock()
        )
    return Created(id=opportunity_id)


@router.get("/collaboration/map")
async def collaboration_map(runtime: RuntimeDep, caller: CallerDep) -> dict[str, Any]:
    """Which organisations are linked through exchanges and opportunities started or delivered."""
    caller.require(*domain.STAFF)
    async with runtime.transaction() as s:
        return await queries.collaboration_map(s)


add_routes(router, privacy.routes(queries.PERSONAL_DATA))  # POST /privacy/export (admins)
