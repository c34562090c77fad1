"""Mentoring at the gateway: a mentoring pair's agreement, meetings, check-ins and closure (the mentor
and the mentee alone), and the board's view of a cohort's progress (counts only). The pairing service
owns the relationship and decides."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request, Response

from services.gateway.api import ACCEPTED, CREATED, ERRORS, BoardOrAdmin, Fellow, forward
from shared.contract import (
    CloseMentoring,
    Empty,
    MentoringAgreement,
    MentoringCheckIn,
    MentoringMeeting,
    MoveMeeting,
    PlanMeeting,
)

router = APIRouter(prefix="/api", tags=["mentoring"])


@router.post("/pairs/{pair_id}/agreement", status_code=202, responses={**ACCEPTED, **ERRORS})
async def agree(pair_id: uuid.UUID, request: Request, caller: Fellow, body: MentoringAgreement) -> Response:
    """Goals and how often to meet (either of the pair; the latest word stands)."""
    return await forward(request, "pairing", "POST", f"/pairs/{pair_id}/agreement", caller, body.forwarded())


@router.post("/pairs/{pair_id}/meetings", status_code=201, responses=CREATED)
async def log_meeting(pair_id: uuid.UUID, request: Request, caller: Fellow, body: MentoringMeeting) -> Response:
    """A meeting that happened; its notes are seen by the pair alone."""
    return await forward(request, "pairing", "POST", f"/pairs/{pair_id}/meetings", caller, body.forwarded())


@router.get("/pairs/{pair_id}/meetings", responses=ERRORS)
async def meetings(pair_id: uuid.UUID, request: Request, caller: Fellow) -> Response:
    return await forward(request, "pairing", "GET", f"/pairs/{pair_id}/meetings", caller)


@router.post("/pairs/{pair_id}/meetings/planned", status_code=201, responses=CREATED)
async def plan_meeting(pair_id: uuid.UUID, request: Request, caller: Fellow, body: PlanMeeting) -> Response:
    """A meeting in the diary: both of the pair get a calendar invitation."""
    path = f"/pairs/{pair_id}/meetings/planned"
    return await forward(request, "pairing", "POST", path, caller, body.forwarded())


@router.post("/meetings/{meeting_id}/move", status_code=202, responses={**ACCEPTED, **ERRORS})
async def move_meeting(meeting_id: uuid.UUID, request: Request, caller: Fellow, body: MoveMeeting) -> Response:
    """Another day or time for a planned meeting: the invitation is updated."""
    return await forward(request, "pairing", "POST", f"/meetings/{meeting_id}/move", caller, body.forwarded())


@router.post("/meetings/{meeting_id}/cancel", status_code=202, responses={**ACCEPTED, **ERRORS})
async def cancel_meeting(
    meeting_id: uuid.UUID, request: Request, caller: Fellow, body: Empty | None = None
) -> Response:
    """A planned meeting that will not happen: the invitation is cancelled."""
    return await forward(request, "pairing", "POST", f"/meetings/{meeting_id}/cancel", caller, {})


@router.post("/pairs/{pair_id}/check-ins", status_code=201, responses=CREATED)
async def check_in(pair_id: uuid.UUID, request: Request, caller: Fellow, body: MentoringCheckIn) -> Response:
    """Is it working, at 3 and at 6 months (private; the board sees how many answered)."""
    return await forward(request, "pairing", "POST", f"/pairs/{pair_id}/check-ins", caller, body.forwarded())


@router.post("/pairs/{pair_id}/close", status_code=202, responses={**ACCEPTED, **ERRORS})
async def close(pair_id: uuid.UUID, request: Request, caller: Fellow, body: CloseMentoring) -> Response:
    """Close with a reflection; the relationship ends when both have, and feedback opens."""
    return await forward(request, "pairing", "POST", f"/pairs/{pair_id}/close", caller, body.forwarded())


@router.get("/cohorts/{cohort_id}/mentoring", responses=ERRORS)
async def progress(cohort_id: uuid.UUID, request: Request, caller: BoardOrAdmin) -> Response:
    """A mentoring cohort's progress in counts: agreements, pairs that met, check-ins answered."""
    return await forward(request, "pairing", "GET", f"/cohorts/{cohort_id}/mentoring", caller)
