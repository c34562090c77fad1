"""The programme team's console (issue 21): an admin adds organisations, creates cohorts of every kind
and keeps the staff directory (sponsors, board members), all through the pages. Server-rendered forms
with CSRF, no JavaScript; each posts to the contract's API and shows its refusal as an error summary."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.responses import HTMLResponse

from services.gateway.sessions import ApiError, Csrf, Session, back, check_csrf, render, signed_in
from shared.events import PLACES, SECTORS
from shared.programmes import KINDS

router = APIRouter(prefix="/staff/admin", include_in_schema=False)
PAGE = "/staff/admin"


async def admin(request: Request) -> Session:
    me = await signed_in(request)
    if me.caller.role != "admin":
        raise HTTPException(403, detail="the console is for the programme team's administrators")
    return me


async def _page(
    request: Request, me: Session, problem: str | None = None, form: dict[str, Any] | None = None
) -> Response:
    organisations = await me.api("GET", "/api/organisations")
    return render(
        request,
        "console.html",
        me,
        organisations=organisations,
        cohorts=await me.api("GET", "/api/cohorts"),
        staff=await me.api("GET", "/api/notifications/staff-contacts"),
        organisation_names={o["id"]: o["name"] for o in organisations},
        sectors=SECTORS,
        places=PLACES,
        kinds=list(KINDS.values()),
        problem=problem,
        form=form or {},
    )


@router.get("", response_class=HTMLResponse)
async def console(request: Request) -> Response:
    return await _page(request, await admin(request))


async def _post(request: Request, csrf: str, path: str, body: dict[str, Any], done: str) -> Response:
    me = await admin(request)
    check_csrf(me, csrf)
    try:
        await me.api("POST", path, body)
    except ApiError as exc:
        return await _page(request, me, problem=exc.detail, form=body)
    return back(PAGE, message=done)


@router.post("/organisations", response_class=HTMLResponse)
async def add_organisation(request: Request, csrf: Csrf = "") -> Response:
    form = await request.form()
    body = _organisation_form(form)
    return await _post(request, csrf, "/api/organisations", body, f"{body['name']} ({body['code']}) added.")


def _organisation_form(form: Any) -> dict[str, str]:
    return {k: str(form.get(k, "")).strip() for k in ("code", "name", "sector", "place")}


async def _organisation_page(
    request: Request, me: Session, organisation_id: uuid.UUID, problem: str | None = None, form: Any = None
) -> Response:
    found = next((o for o in await me.api("GET", "/api/organisations") if o["id"] == str(organisation_id)), None)
    if found is None:
        raise HTTPException(404, detail="no such organisation")
    return render(
        request,
        "organisation.html",
        me,
        organisation=found,
        form=form or found,
        sectors=SECTORS,
        places=PLACES,
        problem=problem,
    )


@router.get("/organisations/{organisation_id}", response_class=HTMLResponse)
async def organisation_page(organisation_id: uuid.UUID, request: Request) -> Response:
    return await _organisation_page(request, await admin(request), organisation_id)


@router.post("/organisations/{organisation_id}", response_class=HTMLResponse)
async def change_organisation(organisation_id: uuid.UUID, request: Request, csrf: Csrf = "") -> Response:
    me = await admin(request)
    check_csrf(me, csrf)
    body = _organisation_form(await request.form())
    try:
        await me.api("PUT", f"/api/organisations/{organisation_id}", body)
    except ApiError as exc:
        return await _organisation_page(request, me, organisation_id, problem=exc.detail, form=body)
    return back(PAGE, message=f"{body['name']} ({body['code']}) changed.")


@router.post("/organisations/{organisation_id}/retire", response_class=HTMLResponse)
async def retire_organisation(organisation_id: uuid.UUID, request: Request, csrf: Csrf = "") -> Response:
    me = await admin(request)
    check_csrf(me, csrf)
    try:
        await me.api("POST", f"/api/organisations/{organisation_id}/retire", {})
    except ApiError as exc:
        return await _organisation_page(request, me, organisation_id, problem=exc.detail)
    return back(PAGE, message="Retired: the organisation takes no new applications.")


@router.post("/cohorts", response_class=HTMLResponse)
async def create_cohort(request: Request, csrf: Csrf = "") -> Response:
    form = await request.form()
    body: dict[str, Any] = {
        "programme": str(form.get("programme", "")).strip(),
        "name": str(form.get("name", "")).strip(),
        "kind": str(form.get("kind", "exchange")),
        "capacity": str(form.get("capacity", "")).strip(),
        "auto_enrol": "auto_enrol" in form.getlist("options"),
        "reciprocal": "reciprocal" in form.getlist("options"),
    }
    if str(form.get("places_per_organisation", "")).strip():
        body["places_per_organisation"] = str(form.get("places_per_organisation")).strip()
    if form.get("pairing_mode"):
        body["pairing_mode"] = str(form.get("pairing_mode"))
    return await _post(request, csrf, "/api/cohorts", body, f"Cohort {body['name']} created.")


@router.post("/staff", response_class=HTMLResponse)
async def register_staff(request: Request, csrf: Csrf = "") -> Response:
    form = await request.form()
    body = {k: str(form.get(k, "")).strip() for k in ("role", "subject", "name", "email", "organisation_id")}
    if not body["organisation_id"]:
        del body["organisation_id"]
    return await _post(request, csrf, "/api/notifications/staff-contacts", body, f"{body['name']} registered.")
