"""Subject access and erasure through the gateway (admins).

``POST /api/privacy/export`` puts together what every service holds about one person. Applications
names the person (their applications and token subjects, from the e-mail address they applied with);
each service answers for its own schema. ``POST /api/privacy/erase`` asks applications to have every
service erase that person (202 with the erasure's id); ``GET /api/privacy/erasures/{id}`` shows which
services have done so."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, HTTPException, Request, Response, status

from services.gateway.api import ACCEPTED, ERRORS, Admin, answered, call, forward
from shared.contract import SubjectAccess
from shared.registry import NAMES

router = APIRouter(prefix="/api", tags=["privacy"])


@router.post("/privacy/export", responses=ERRORS)
async def export(request: Request, caller: Admin, body: SubjectAccess) -> dict[str, Any]:
    """Everything the system holds about the person who applied with this e-mail address, by service
    and table (JSON; ``lbb privacy export`` writes it as a readable page too)."""
    found = answered(
        await call(request, "applications", "POST", "/privacy/people", caller, body.forwarded()), "applications"
    )
    if found.status_code != 200:
        raise HTTPException(found.status_code, detail=found.json().get("detail", "could not look the person up"))
    person = found.json()

    async def held_by(service: str) -> tuple[str, Any]:
        answer = answered(await call(request, service, "POST", "/privacy/export", caller, person), service)
        if answer.status_code != 200:
            raise HTTPException(status.HTTP_502_BAD_GATEWAY, detail=f"the {service} service could not export")
        return service, answer.json()

    services = dict(await asyncio.gather(*(held_by(name) for name in NAMES)))
    return {
        "email": body.email,
        "person": person,
        "generated_at": datetime.now(UTC).isoformat(),
        "services": services,
    }


@router.post("/privacy/erase", status_code=202, responses={**ACCEPTED, **ERRORS})
async def erase(request: Request, caller: Admin, body: SubjectAccess) -> Response:
    """Erase the person who applied with this e-mail address in every service: 202 with the
    erasure's id (asking again answers the same id); 404 when nobody applied with it."""
    return await forward(request, "applications", "POST", "/privacy/erase", caller, body.forwarded())


@router.get("/privacy/erasures/{erasure_id}", responses=ERRORS)
async def erasure(erasure_id: uuid.UUID, request: Request, caller: Admin) -> Response:
    """An erasure: when it was asked for and, per service, when that service erased the person
    (null: not yet); ``complete`` once all have."""
    return await forward(request, "applications", "GET", f"/privacy/erasures/{erasure_id}", caller)
