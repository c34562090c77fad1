"""Staff pages under /staff: server-rendered HTML (Jinja2), plain forms, no JavaScript needed.

The pages are a client of the gateway's own API: each one calls ``/api/...`` in-process with the
signed-in person's bearer token (sessions.py), so they get exactly the API's validation and
authorisation. Every form carries a CSRF token derived from the session.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Form, HTTPException, Request, Response
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from services.gateway import pages_roles, sessions
from services.gateway.sessions import HERE, NHSUK, ApiError, Csrf, back, check_csrf, post, render, session, signed_in
from shared.events import LEADERSHIP_DIMENSIONS
from shared.routing import add_routes

router = APIRouter(prefix="/staff", include_in_schema=False)


ROUTERS = (sessions.router, router, pages_roles.router)  # after the gateway's own (main.ROUTERS)


def install(app: FastAPI) -> None:
    """The pages' routes, their static files, and an error page for refusals the API gave them."""
    add_routes(app, *ROUTERS)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    # The NHS design system's icons, where its stylesheet looks for them (``make assets`` copies them).
    app.mount("/assets", StaticFiles(directory=NHSUK / "assets", check_dir=False), name="assets")

    async def refused(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiError)
        me = await session(request)
        return render(request, "error.html", me, status_code=exc.status, detail=exc.detail, status=exc.status)

    app.add_exception_handler(ApiError, refused)


# --- home ---


@router.get("/", response_class=HTMLResponse)
async def home(request: Request) -> Response:
    me = await session(request)
    if me is None:
        return back("/staff/sign-in")
    cohorts = await me.api("GET", "/api/cohorts")
    return render(request, "home.html", me, cohorts=cohorts)


# --- applicants and fellows ---


@router.get("/apply/{cohort_id}", response_class=HTMLResponse)
async def apply_page(cohort_id: uuid.UUID, request: Request) -> Response:
    me = await signed_in(request)
    cohort = await me.api("GET", f"/api/cohorts/{cohort_id}")
    organisations = await me.api("GET", "/api/organisations")
    return render(request, "apply.html", me, cohort=cohort, organisations=organisations, form={})


@router.post("/apply/{cohort_id}", response_class=HTMLResponse)
async def apply(cohort_id: uuid.UUID, request: Request, csrf: Csrf = "") -> Response:
    me = await signed_in(request)
    check_csrf(me, csrf)
    form = await request.form()
    body: dict[str, Any] = {
        "cohort_id": str(cohort_id),
        **{k: str(form.get(k, "")) for k in ("name", "email", "job_title", "organisation_id", "staff_group", "band")},
        "statement": str(form.get("statement", "")),
        "availability": [str(d) for d in form.getlist("availability")] or None,
        "interests": [i.strip() for i in str(form.get("interests", "")).split(",") if i.strip()],
    }
    for optional in ("availability", "email"):  # no e-mail typed: the sign-in's own, when it has one
        if not body[optional]:
            del body[optional]
    body |= role_fields(form)
    try:
        await me.api("POST", "/api/applications", body)
    except ApiError as exc:
        cohort = await me.api("GET", f"/api/cohorts/{cohort_id}")
        organisations = await me.api("GET", "/api/organisations")
        return render(
            request,
            "apply.html",
            me,
            status_code=200,
            cohort=cohort,
            organisations=organisations,
            form=dict(form),
            problem=exc.detail,
        )
    return back("/staff/applications", message="Your application is in. Your sponsor has been asked to endorse it.")


def role_fields(form: Any) -> dict[str, Any]:
    """What a role brings, from the apply form of a kind with roles (the service checks it suits)."""
    listed = [w.strip() for w in str(form.get("wants", "")).split(",") if w.strip()]
    fields: dict[str, Any] = {
        "role": str(form.get("role", "")),
        "capacity": str(form.get("capacity", "")).strip(),
        "offer": {"summary": str(form.get("offer", "")).strip()} if str(form.get("offer", "")).strip() else None,
        "wants": listed,
    }
    return {k: v for k, v in fields.items() if v}


@router.get("/applications", response_class=HTMLResponse)
async def applications_page(request: Request) -> Response:
    me = await signed_in(request)
    params = {"state": "submitted"} if me.caller.role == "sponsor" else None
    applications = await me.api("GET", "/api/applications", params=params)
    cohorts = {c["id"]: c for c in await me.api("GET", "/api/cohorts")}
    return render(request, "applications.html", me, applications=applications, cohorts=cohorts)


@router.post("/applications/{application_id}/{action}")
async def application_action(application_id: uuid.UUID, action: str, request: Request, csrf: Csrf = "") -> Response:
    me = await signed_in(request)
    check_csrf(me, csrf)
    form = await request.form()
    target = str(form.get("back", "/staff/applications"))
    if not target.startswith("/staff/"):
        target = "/staff/applications"
    body: dict[str, Any] = {}
    if action == "decision":
        body = {"decision": str(form.get("decision", "")), "reason": str(form.get("reason", ""))}
    elif action not in ("endorse", "withdraw"):
        raise HTTPException(404)
    done = {"endorse": "Endorsed.", "withdraw": "Withdrawn.", "decision": "Decision recorded."}[action]
    return await post(me, csrf, f"/api/applications/{application_id}/{action}", body, target, done)


@router.get("/pair", response_class=HTMLResponse)
async def pair_page(request: Request) -> Response:
    me = await signed_in(request)
    pairs = await me.api("GET", "/api/pairs/mine")
    organisations = {o["id"]: o for o in await me.api("GET", "/api/organisations")}
    cohorts = {c: await me.api("GET", f"/api/cohorts/{c}") for c in {p["cohort_id"] for p in pairs}}
    today = datetime.now(UTC).date().isoformat()
    return render(request, "pair.html", me, pairs=pairs, organisations=organisations, cohorts=cohorts, today=today)


@router.post("/pairs/{pair_id}/visits")
async def schedule_visit(
    pair_id: uuid.UUID,
    request: Request,
    csrf: Csrf = "",
    host_fellow_id: Annotated[str, Form()] = "",
    date: Annotated[str, Form()] = "",
) -> Response:
    me = await signed_in(request)
    body = {"host_fellow_id": host_fellow_id, "date": date}
    done = "Visit scheduled. Your partner has been told."
    return await post(me, csrf, f"/api/pairs/{pair_id}/visits", body, "/staff/pair", done)


@router.post("/visits/{visit_id}/complete")
async def complete_visit(visit_id: uuid.UUID, request: Request, csrf: Csrf = "") -> Response:
    me = await signed_in(request)
    return await post(me, csrf, f"/api/visits/{visit_id}/complete", {}, "/staff/pair", "Visit marked complete.")


# In shadowing the learner's feedback is a reflection, a thank-you to the sharer (DESIGN.md "Programme kinds").
REFLECTION = {"learner": "reflection"}
THANKS = {
    "feedback": "Thank you: your feedback is in. It is released when your partner's is.",
    "reflection": "Thank you: your reflection is in. Your sharer reads it once theirs is in, or by the due date.",
}


@router.get("/pairs/{pair_id}/feedback", response_class=HTMLResponse)
async def feedback_page(pair_id: uuid.UUID, request: Request, role: str = "") -> Response:
    me = await signed_in(request)
    try:
        state = await me.api("GET", f"/api/pairs/{pair_id}/feedback")
    except ApiError as exc:
        return back("/staff/pair", error=exc.detail)
    wording = REFLECTION.get(role, "feedback")
    return render(
        request, "feedback.html", me, state=state, pair_id=pair_id, dimensions=LEADERSHIP_DIMENSIONS, wording=wording
    )


@router.post("/pairs/{pair_id}/feedback", response_class=HTMLResponse)
async def give_feedback(pair_id: uuid.UUID, request: Request, csrf: Csrf = "") -> Response:
    me = await signed_in(request)
    check_csrf(me, csrf)
    form = await request.form()
    strengths = pages_roles.ratings(form)
    wording = REFLECTION.get(str(form.get("role", "")), "feedback")
    ideas = [line.strip() for line in str(form.get("collaboration_ideas", "")).splitlines() if line.strip()]
    body = {
        "to_fellow_id": str(form.get("to_fellow_id", "")),
        "strengths": strengths,
        "narrative": str(form.get("narrative", "")),
        "collaboration_ideas": ideas,
    }
    try:
        await me.api("POST", f"/api/pairs/{pair_id}/feedback", body)
    except ApiError as exc:
        state = await me.api("GET", f"/api/pairs/{pair_id}/feedback")
        return render(
            request,
            "feedback.html",
            me,
            state=state,
            pair_id=pair_id,
            dimensions=LEADERSHIP_DIMENSIONS,
            problem=exc.detail,
            form=dict(form),
            wording=wording,
        )
    return back("/staff/pair", message=THANKS[wording])


@router.get("/feedback", response_class=HTMLResponse)
async def released_feedback(request: Request) -> Response:
    me = await signed_in(request)
    mine = await me.api("GET", "/api/applications", params={"state": "enrolled"})
    received: list[dict[str, Any]] = []
    for application in mine:
        received += await me.api("GET", f"/api/fellows/{application['id']}/feedback")
    return render(request, "released.html", me, received=received)


@router.get("/notifications", response_class=HTMLResponse)
async def notifications(request: Request) -> Response:
    me = await signed_in(request)
    return render(request, "notifications.html", me, notifications=await me.api("GET", "/api/notifications"))


# --- the Programme Board ---


# The cohort page itself (GET /staff/cohorts/{id}) and the pairing tools are in board_pages.py.


@router.post("/cohorts/{cohort_id}/{action}")
async def cohort_action(cohort_id: uuid.UUID, action: str, request: Request, csrf: Csrf = "") -> Response:
    me = await signed_in(request)
    check_csrf(me, csrf)
    paths = {"enrol": "enrol", "pairing": "pairing", "publish": "pairs/publish"}
    if action not in paths:
        raise HTTPException(404)
    page = f"/staff/cohorts/{cohort_id}"
    try:
        answer = await me.api("POST", f"/api/cohorts/{cohort_id}/{paths[action]}", {})
    except ApiError as exc:
        return back(page, error=exc.detail)
    done = {
        "enrol": f"Enrolled {len((answer or {}).get('enrolled', []))} shortlisted applicants.",
        "pairing": "Pairing requested: the pairs appear below when the pairing service has run.",
        "publish": "Pairs published: every fellow has been told.",
    }[action]
    return back(page, message=done)
