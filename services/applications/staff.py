"""Read routes the staff pages need: the cohorts, and the applications a caller may see."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Query
from sqlalchemy import select

from services.applications import domain
from services.applications.api import _application_view
from services.applications.models import Application, Cohort, Organisation, Programme
from shared.errors import Invalid
from shared.identity import CallerDep
from shared.service import RuntimeDep

router = APIRouter()


@router.get("/cohorts")
async def list_cohorts(runtime: RuntimeDep, caller: CallerDep) -> list[dict[str, Any]]:
    """Every cohort, newest first, and whether it takes applications now."""
    now = datetime.now(UTC)
    async with runtime.transaction() as s:
        rows = (
            await s.execute(select(Cohort, Programme).join(Programme).order_by(Cohort.opens_at.desc(), Cohort.id))
        ).all()
    return [
        {
            "id": c.id,
            "programme": p.name,
            "name": c.name,
            "capacity": c.capacity,
            "pairing_mode": c.pairing_mode,
            "opens_at": c.opens_at,
            "closes_at": c.closes_at,
            "open": c.opens_at <= now and (c.closes_at is None or now < c.closes_at),
        }
        for c, p in rows
    ]


@router.get("/applications")
async def list_applications(
    runtime: RuntimeDep,
    caller: CallerDep,
    cohort_id: uuid.UUID | None = None,
    state: str | None = Query(default=None),
) -> list[dict[str, Any]]:
    """What the caller may see: their own (applicant), their organisation's (sponsor), all (board, admin)."""
    if state is not None and state not in domain.STATES:
        raise Invalid(f"state must be one of {', '.join(domain.STATES)}")
    query = (
        select(Application, Organisation.name)
        .join(Organisation, Organisation.id == Application.organisation_id)
        .order_by(Application.submitted_at, Application.id)
        .limit(1000)
    )
    if caller.role == "sponsor":
        query = query.where(Application.organisation_id == caller.organisation_id)
    elif caller.role not in ("board", "admin"):
        query = query.where(Application.owner_sub == caller.sub)
    if cohort_id is not None:
        query = query.where(Application.cohort_id == cohort_id)
    if state is not None:
        query = query.where(Application.state == state)
    async with runtime.transaction() as s:
        rows = (await s.execute(query)).all()
    return [_application_view(a) | {"organisation_name": name} for a, name in rows]
