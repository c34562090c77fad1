"""The programme team's organisations, at the gateway: correct one, retire one. Adding and listing
are in api.py; the applications service owns organisations and decides."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request, Response

from services.gateway import schemas as s
from services.gateway.api import ACCEPTED, ERRORS, Admin, forward

router = APIRouter(prefix="/api", tags=["cohorts"])


@router.put("/organisations/{organisation_id}", responses=ERRORS)
async def update_organisation(
    organisation_id: uuid.UUID, request: Request, caller: Admin, body: s.CreateOrganisation
) -> Response:
    """Correct an organisation's code (ODS or ONS style, unique), name, sector and place (409: code taken)."""
    path = f"/organisations/{organisation_id}"
    return await forward(request, "applications", "PUT", path, caller, body.forwarded())


@router.post("/organisations/{organisation_id}/retire", status_code=202, responses={**ACCEPTED, **ERRORS})
async def retire_organisation(
    organisation_id: uuid.UUID, request: Request, caller: Admin, body: s.Empty | None = None
) -> Response:
    """The organisation takes no new applications from now (409 when already retired)."""
    path = f"/organisations/{organisation_id}/retire"
    return await forward(request, "applications", "POST", path, caller, {})
