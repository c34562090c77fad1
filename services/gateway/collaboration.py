"""Collaboration followed through, at the gateway: the opportunities each exchange named, their owners'
updates, and the ICS's collaboration map. The feedback service owns them and decides everything."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response

from services.gateway.api import ACCEPTED, ERRORS, BoardOrAdmin, forward, role
from shared.contract import UpdateOpportunity
from shared.events import CollaborationStatus
from shared.identity import Caller

router = APIRouter(prefix="/api", tags=["collaboration"])
Reader = Annotated[Caller, Depends(role("sponsor", "board", "admin"))]
Owner = Annotated[Caller, Depends(role("sponsor", "admin"))]


@router.get("/opportunities", responses=ERRORS)
async def opportunities(request: Request, caller: Reader, status: CollaborationStatus | None = Query(None)) -> Response:
    """A sponsor sees their organisation's opportunities (with the idea and the owners' notes); the
    board every opportunity's state, never the free text."""
    return await forward(
        request, "feedback", "GET", "/opportunities", caller, params={"status": status} if status else None
    )


@router.get("/opportunities/{opportunity_id}", responses=ERRORS)
async def opportunity(opportunity_id: uuid.UUID, request: Request, caller: Reader) -> Response:
    return await forward(request, "feedback", "GET", f"/opportunities/{opportunity_id}", caller)


@router.post("/opportunities/{opportunity_id}/update", status_code=202, responses={**ACCEPTED, **ERRORS})
async def update_opportunity(
    opportunity_id: uuid.UUID, request: Request, caller: Owner, body: UpdateOpportunity
) -> Response:
    """Move an opportunity on (idea → exploring → started → delivered, or dropped with a reason); the
    update answers the check-in that is due."""
    return await forward(
        request, "feedback", "POST", f"/opportunities/{opportunity_id}/update", caller, body.forwarded()
    )


@router.get("/collaboration/map", responses=ERRORS)
async def collaboration_map(request: Request, caller: BoardOrAdmin) -> Response:
    """Organisations linked through exchanges and through opportunities started or delivered."""
    return await forward(request, "feedback", "GET", "/collaboration/map", caller)
