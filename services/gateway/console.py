"""The programme team's console (issue 21): an admin adds organisations, creates cohorts of every kind
and keeps the staff directory (sponsors, board members), all through the pages. Server-rendered forms
with CSRF, no JavaScript; each posts to the contract's API and shows its refusal as an error summary."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.responses import HTMLResponse

from services.gateway.sessions import ApiError, Csrf, Session, back, check_csrf, render, signed_in
from shared.events import PLACES, SECTORS
from shared.programmes import KINDS

router = APIRouter(prefix="/staff/admin", include_in_schema=False)
PAGE = "/staff/admin"


async def _admin(request: Request) -> Session:
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
    return await _page(request, await _admin(request))


async def _post(request: Request, csrf: str, path: str, body: dict[str, Any], done: str) -> Response:
    me = await _admin(request)
    check_csrf(me, csrf)
    try:
        await me.api("POST", path, body)
    except ApiError as exc:
        return await _page(request, me, problem=exc.detail, form=body)
    return back(PAGE, message=done)


@router.post("/organisations", response_class=HTMLResponse)
async def add_organisation(request: Request, csrf: Csrf = "") -> Response:
    form = await request.form()
    body = {k: str(form.get(k, "")).strip() for k in ("code", "name", "sector", "place")}
    return await _post(request, csrf, "/api/organisations", body, f"{body['name']} ({body['code']}) added.")


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
