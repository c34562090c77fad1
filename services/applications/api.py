"""HTTP routes of the applications service (the gateway calls these): parse (the bodies of
``shared.contract``), run a command or a query in one transaction, answer."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, cast

from fastapi import APIRouter, Query, status

from services.applications import commands, queries
from services.applications.settings import ApplicationsSettings
from shared import privacy
from shared.contract import (
    BoardDecision,
    CreateCohort,
    Created,
    CreateOrganisation,
    Empty,
    SubjectAccess,
    SubmitApplication,
)
from shared.identity import CallerDep
from shared.routing import add_routes
from shared.service import RuntimeDep

router = APIRouter()


# --- organisations and cohorts --------------------------------------------------------------


@router.get("/organisations")
async def list_organisations(runtime: RuntimeDep, caller: CallerDep) -> list[dict[str, Any]]:
    async with runtime.transaction() as s:
        return await queries.organisations(s, caller)


@router.post("/organisations", status_code=status.HTTP_201_CREATED)
async def create_organisation(body: CreateOrganisation, runtime: RuntimeDep, caller: CallerDep) -> Created:
    caller.require("admin")
    async with runtime.transaction() as s:
        return Created(id=await commands.create_organisation(s, body.code, body.name, body.sector, body.place))


@router.get("/cohorts")
async def list_cohorts(runtime: RuntimeDep, caller: CallerDep) -> list[dict[str, Any]]:
    """Every cohort, newest first, and whether it takes applications now."""
    async with runtime.transaction() as s:
        return await queries.cohorts(s)


@router.post("/cohorts", status_code=status.HTTP_201_CREATED)
async def create_cohort(body: CreateCohort, runtime: RuntimeDep, caller: CallerDep) -> Created:
    caller.require("admin")
    async with runtime.transaction() as s:
        return Created(id=await commands.create_cohort(s, body, caller.sub))


@router.get("/cohorts/{cohort_id}")
async def get_cohort(cohort_id: uuid.UUID, runtime: RuntimeDep, caller: CallerDep) -> dict[str, Any]:
    async with runtime.transaction() as s:
        return await queries.cohort(s, cohort_id, caller)


@router.post("/cohorts/{cohort_id}/close", status_code=status.HTTP_202_ACCEPTED)
async def close_cohort(cohort_id: uuid.UUID, body: Empty, runtime: RuntimeDep, caller: CallerDep) -> Created:
    """Close the application window now; later applications are refused."""
    caller.require("admin")
    async with runtime.transaction() as s:
        await commands.close_cohort(s, cohort_id)
    return Created(id=cohort_id)


@router.get("/cohorts/{cohort_id}/shortlisting")
async def shortlisting(cohort_id: uuid.UUID, runtime: RuntimeDep, caller: CallerDep) -> dict[str, Any]:
    """The board's fair-shortlisting view: who applied, in aggregate, with small numbers suppressed."""
    caller.require("board")
    async with runtime.transaction() as s:
        return await queries.shortlisting(s, cohort_id)


@router.put("/organisations/{organisation_id}")
async def update_organisation(
    organisation_id: uuid.UUID, body: CreateOrganisation, runtime: RuntimeDep, caller: CallerDep
) -> Created:
    caller.require("admin")
    async with runtime.transaction() as s:
        await commands.update_organisation(s, organisation_id, body.code, body.name, body.sector, body.place)
    return Created(id=organisation_id)


@router.post("/organisations/{organisation_id}/retire", status_code=status.HTTP_202_ACCEPTED)
async def retire_organisation(
    organisation_id: uuid.UUID, body: Empty, runtime: RuntimeDep, caller: CallerDep
) -> Created:
    caller.require("admin")
    async with runtime.transaction() as s:
        await commands.retire_organisation(s, organisation_id, datetime.now(UTC))
    return Created(id=organisation_id)


@router.get("/cohorts/{cohort_id}/decisions")
async def decisions(cohort_id: uuid.UUID, runtime: RuntimeDep, caller: CallerDep) -> list[dict[str, Any]]:
    """The decision trail of the cohort's applications, for the board's and admins' exports."""
    caller.require("board", "admin")
    async with runtime.transaction() as s:
        return await queries.decisions(s, cohort_id)


@router.post("/cohorts/{cohort_id}/enrol", status_code=status.HTTP_202_ACCEPTED)
async def enrol(cohort_id: uuid.UUID, body: Empty, runtime: RuntimeDep, caller: CallerDep) -> dict[str, Any]:
    caller.require("board")
    async with runtime.transaction() as s:
        return await commands.enrol(s, caller, cohort_id, cast(ApplicationsSettings, runtime.settings).person_key())


@router.post("/cohorts/{cohort_id}/pairing", status_code=status.HTTP_202_ACCEPTED)
async def request_pairing(cohort_id: uuid.UUID, body: Empty, runtime: RuntimeDep, caller: CallerDep) -> Created:
    """Ask for a pairing round; 409 once the cohort's pairs are published."""
    caller.require("board")
    async with runtime.transaction() as s:
        await commands.request_pairing(s, cohort_id)
    return Created(id=cohort_id)


# --- applications ---------------------------------------------------------------------------


@router.post("/applications", status_code=status.HTTP_201_CREATED)
async def submit_application(body: SubmitApplication, runtime: RuntimeDep, caller: CallerDep) -> Created:
    caller.require("applicant")
    async with runtime.transaction() as s:
        person_key = cast(ApplicationsSettings, runtime.settings).person_key()
        return Created(id=await commands.submit_application(s, body, caller, runtime.settings.dev_mode, person_key))


@router.get("/applications")
async def list_applications(
    runtime: RuntimeDep,
    caller: CallerDep,
    cohort_id: uuid.UUID | None = None,
    state: str | None = Query(default=None),
) -> list[dict[str, Any]]:
    """What the caller may see: their own (applicant), their organisation's (sponsor), all (board, admin)."""
    async with runtime.transaction() as s:
        return await queries.applications(s, caller, cohort_id, state)


@router.get("/applications/mine")
async def my_applications(runtime: RuntimeDep, caller: CallerDep) -> list[dict[str, Any]]:
    async with runtime.transaction() as s:
        return await queries.my_applications(s, caller)


@router.get("/applications/{application_id}")
async def get_application(application_id: uuid.UUID, runtime: RuntimeDep, caller: CallerDep) -> dict[str, Any]:
    async with runtime.transaction() as s:
        return await queries.application(s, caller, application_id)


@router.post("/applications/{application_id}/endorse", status_code=status.HTTP_202_ACCEPTED)
async def endorse(application_id: uuid.UUID, body: Empty, runtime: RuntimeDep, caller: CallerDep) -> Created:
    caller.require("sponsor")
    async with runtime.transaction() as s:
        await commands.endorse(s, caller, application_id, cast(ApplicationsSettings, runtime.settings).person_key())
    return Created(id=application_id)


@router.post("/applications/{application_id}/decision", status_code=status.HTTP_202_ACCEPTED)
async def decide(application_id: uuid.UUID, body: BoardDecision, runtime: RuntimeDep, caller: CallerDep) -> Created:
    caller.require("board")
    async with runtime.transaction() as s:
        await commands.decide(s, caller, application_id, body.decision, body.reason)
    return Created(id=application_id)


@router.post("/applications/{application_id}/withdraw", status_code=status.HTTP_202_ACCEPTED)
async def withdraw(application_id: uuid.UUID, body: Empty, runtime: RuntimeDep, caller: CallerDep) -> Created:
    async with runtime.transaction() as s:
        await commands.withdraw(s, caller, application_id)
    return Created(id=application_id)


add_routes(router, privacy.routes(queries.PERSONAL_DATA))  # POST /privacy/export (admins)


@router.post("/privacy/people")
async def person(body: SubjectAccess, runtime: RuntimeDep, caller: CallerDep) -> privacy.Person:
    """Whom a subject access request is about: their applications and token subjects (admins)."""
    caller.require("admin")
    async with runtime.transaction() as s:
        return await queries.person(s, body.email)


@router.post("/privacy/erase", status_code=status.HTTP_202_ACCEPTED)
async def erase(body: SubjectAccess, runtime: RuntimeDep, caller: CallerDep) -> Created:
    """Erase the person who applied with this address in every service (admins); asking again
    answers the same erasure."""
    caller.require("admin")
    key = cast(ApplicationsSettings, runtime.settings).person_key()
    async with runtime.transaction() as s:
        return Created(id=await commands.request_erasure(s, body.email, key, caller.sub))


@router.get("/privacy/erasures/{erasure_id}")
async def erasure(erasure_id: uuid.UUID, runtime: RuntimeDep, caller: CallerDep) -> dict[str, Any]:
    """Which services have erased the person so far (admins)."""
    caller.require("admin")
    async with runtime.transaction() as s:
        return await queries.erasure(s, erasure_id)
