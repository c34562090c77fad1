"""The Programme Board's tools for a cohort's pairing, at the gateway: exclusions, locks, the cohort's
own weights, a preview of a re-run and each fellow's alternatives. The pairing service decides."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request, Response

from services.gateway import schemas as s
from services.gateway.api import ACCEPTED, CREATED, ERRORS, Board, BoardOrAdmin, forward

router = APIRouter(prefix="/api", tags=["pairing"])


@router.post("/cohorts/{cohort_id}/exclusions", status_code=201, responses=CREATED, tags=["pairing"])
async def exclude(cohort_id: uuid.UUID, request: Request, caller: Board, body: s.Exclusion) -> Response:
    """Never match these two fellows (409 while they are a locked pair, or once the pairs are published)."""
    return await forward(request, "pairing", "POST", f"/cohorts/{cohort_id}/exclusions", caller, body.forwarded())


@router.post("/cohorts/{cohort_id}/pairs/lock", status_code=202, responses={**ACCEPTED, **ERRORS}, tags=["pairing"])
async def lock_pair(cohort_id: uuid.UUID, request: Request, caller: Board, body: s.Lock) -> Response:
    """A re-run keeps this pair (409 with the reason when a hard rule forbids it)."""
    return await forward(request, "pairing", "POST", f"/cohorts/{cohort_id}/pairs/lock", caller, body.forwarded())


@router.post("/cohorts/{cohort_id}/pairs/unlock", status_code=202, responses={**ACCEPTED, **ERRORS}, tags=["pairing"])
async def unlock_pair(cohort_id: uuid.UUID, request: Request, caller: Board, body: s.Lock) -> Response:
    return await forward(request, "pairing", "POST", f"/cohorts/{cohort_id}/pairs/unlock", caller, body.forwarded())


@router.put("/cohorts/{cohort_id}/weights", responses={409: ACCEPTED[409], **ERRORS}, tags=["pairing"])
async def set_weights(cohort_id: uuid.UUID, request: Request, caller: Board, body: s.PairingWeights) -> Response:
    """The cohort's own pairing weights, 0-20 each; its next run uses them."""
    return await forward(request, "pairing", "PUT", f"/cohorts/{cohort_id}/weights", caller, body.forwarded())


@router.post("/cohorts/{cohort_id}/pairing/preview", responses={409: ACCEPTED[409], **ERRORS}, tags=["pairing"])
async def preview_pairing(
    cohort_id: uuid.UUID, request: Request, caller: Board, body: s.Empty | None = None
) -> Response:
    """What a re-run would give now (total, bound, pairs changed); nothing changes."""
    return await forward(request, "pairing", "POST", f"/cohorts/{cohort_id}/pairing/preview", caller, {})


@router.get("/cohorts/{cohort_id}/fellows/{fellow_id}/alternatives", responses=ERRORS, tags=["pairing"])
async def alternatives(cohort_id: uuid.UUID, fellow_id: uuid.UUID, request: Request, caller: Board) -> Response:
    """The fellow's five best other partners, and what forcing each would cost the cohort's total."""
    path = f"/cohorts/{cohort_id}/fellows/{fellow_id}/alternatives"
    return await forward(request, "pairing", "GET", path, caller)


@router.get("/cohorts/{cohort_id}/decisions", responses=ERRORS, tags=["cohorts"])
async def decisions(cohort_id: uuid.UUID, request: Request, caller: BoardOrAdmin) -> Response:
    """The decision trail of the cohort's applications: every change, who made it, when and why."""
    return await forward(request, "applications", "GET", f"/cohorts/{cohort_id}/decisions", caller)
