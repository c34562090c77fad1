"""Visits at the gateway, after scheduling: moving one to another day or cancelling it (the fellows of
the pair; the notifications service updates or cancels the calendar invitation), and in shadowing the
learner's reflection, a thank-you the sharer reads (the two of them alone). The pairing service owns
visits and reflections and decides."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request, Response

from services.gateway.api import ACCEPTED, CREATED, ERRORS, Fellow, forward
from shared.contract import Empty, MoveVisit, ShadowingReflection

router = APIRouter(prefix="/api", tags=["pairing"])


@router.post("/visits/{visit_id}/move", status_code=202, responses={**ACCEPTED, **ERRORS})
async def move_visit(visit_id: uuid.UUID, request: Request, caller: Fellow, body: MoveVisit) -> Response:
    """Another day for a visit that has not happened (inside the exchange window)."""
    return await forward(request, "pairing", "POST", f"/visits/{visit_id}/move", caller, body.forwarded())


@router.post("/visits/{visit_id}/cancel", status_code=202, responses={**ACCEPTED, **ERRORS})
async def cancel_visit(visit_id: uuid.UUID, request: Request, caller: Fellow, body: Empty | None = None) -> Response:
    """A visit that will not happen; the host's visit may be scheduled again."""
    return await forward(request, "pairing", "POST", f"/visits/{visit_id}/cancel", caller, {})


@router.post("/pairs/{pair_id}/reflection", status_code=201, responses=CREATED, tags=["shadowing"])
async def share_reflection(pair_id: uuid.UUID, request: Request, caller: Fellow, body: ShadowingReflection) -> Response:
    """The learner's thank-you after the visit: what they learnt, one idea to take back."""
    return await forward(request, "pairing", "POST", f"/pairs/{pair_id}/reflection", caller, body.forwarded())


@router.get("/pairs/{pair_id}/reflection", responses=ERRORS, tags=["shadowing"])
async def reflection(pair_id: uuid.UUID, request: Request, caller: Fellow) -> Response:
    """The learner's reflection: the learner and the sharer alone."""
    return await forward(request, "pairing", "GET", f"/pairs/{pair_id}/reflection", caller)
