"""Paired learning at the gateway: a pair's joint improvement project (pairing) and each fellow's
self-assessment before and after (feedback). The fellows of the pair alone; the owning services decide."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request, Response

from services.gateway.api import ACCEPTED, CREATED, ERRORS, Fellow, forward
from shared.contract import AddMilestone, Empty, Presentation, SelfAssessment, StartProject

router = APIRouter(prefix="/api", tags=["paired learning"])


@router.post("/pairs/{pair_id}/project", status_code=201, responses=CREATED)
async def start_project(pair_id: uuid.UUID, request: Request, caller: Fellow, body: StartProject) -> Response:
    """The pair's joint improvement project: title, aim and how they will measure it (one per pair)."""
    return await forward(request, "pairing", "POST", f"/pairs/{pair_id}/project", caller, body.forwarded())


@router.get("/pairs/{pair_id}/project", responses=ERRORS)
async def project(pair_id: uuid.UUID, request: Request, caller: Fellow) -> Response:
    return await forward(request, "pairing", "GET", f"/pairs/{pair_id}/project", caller)


@router.post("/pairs/{pair_id}/project/milestones", status_code=201, responses=CREATED)
async def add_milestone(pair_id: uuid.UUID, request: Request, caller: Fellow, body: AddMilestone) -> Response:
    """A milestone due inside the cohort's dates (422 otherwise)."""
    return await forward(request, "pairing", "POST", f"/pairs/{pair_id}/project/milestones", caller, body.forwarded())


@router.post("/pairs/{pair_id}/project/milestones/{milestone_id}/done", status_code=202, responses=ACCEPTED)
async def milestone_done(
    pair_id: uuid.UUID, milestone_id: uuid.UUID, request: Request, caller: Fellow, body: Empty | None = None
) -> Response:
    path = f"/pairs/{pair_id}/project/milestones/{milestone_id}/done"
    return await forward(request, "pairing", "POST", path, caller, {})


@router.post("/pairs/{pair_id}/project/presentation", status_code=202, responses={**ACCEPTED, **ERRORS})
async def present(pair_id: uuid.UUID, request: Request, caller: Fellow, body: Presentation) -> Response:
    return await forward(request, "pairing", "POST", f"/pairs/{pair_id}/project/presentation", caller, body.forwarded())


@router.post("/fellows/{fellow_id}/self-assessments", status_code=201, responses=CREATED)
async def self_assess(fellow_id: uuid.UUID, request: Request, caller: Fellow, body: SelfAssessment) -> Response:
    """Your own view of yourself, before or after: private to you, reported only in aggregate."""
    return await forward(
        request, "feedback", "POST", f"/fellows/{fellow_id}/self-assessments", caller, body.forwarded()
    )


@router.get("/fellows/{fellow_id}/self-assessments", responses=ERRORS)
async def my_self_assessments(fellow_id: uuid.UUID, request: Request, caller: Fellow) -> Response:
    return await forward(request, "feedback", "GET", f"/fellows/{fellow_id}/self-assessments", caller)
