"""Staff pages of the programme kinds with roles (DESIGN.md "Programme kinds"): a mentoring pair's space
(agreement, meetings with private notes, check-ins, closure) and a paired-learning pair's joint project
and each fellow's self-assessment. Shadowing's learner and sharer act on the "My pair" page (pages.py).

Like pages.py, every page is a client of the gateway's own API with the signed-in person's token, so
the owning services decide; a refusal comes back to the page it came from as an error summary.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.responses import HTMLResponse

from services.gateway.sessions import ApiError, Csrf, Session, post, render, signed_in
from shared.events import LEADERSHIP_DIMENSIONS

router = APIRouter(prefix="/staff", include_in_schema=False)


async def my_pair(me: Session, pair_id: uuid.UUID) -> dict[str, Any]:
    """The caller's published pair (with partners and roles); 404 for any other."""
    found = next((p for p in await me.api("GET", "/api/pairs/mine") if p["id"] == str(pair_id)), None)
    if found is None:
        raise ApiError(404, "no such pair")
    return dict(found)


def lines(typed: object) -> list[str]:
    return [line.strip() for line in str(typed or "").splitlines() if line.strip()]


def text(form: Any, field: str) -> str:
    return str(form.get(field, "")).strip()


def number(typed: object) -> int | str:
    """A whole number typed in a form, or the text as typed (the API says what is wrong with it)."""
    found = str(typed or "").strip()
    return int(found) if found.isdigit() else found


def ratings(form: Any) -> dict[str, int]:
    return {d: int(str(form[d])) for d in LEADERSHIP_DIMENSIONS if str(form.get(d, "")).isdigit()}


def without_blanks(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if v not in ("", None)}


# --- mentoring: the mentor and the mentee ---


@router.get("/pairs/{pair_id}/mentoring", response_class=HTMLResponse)
async def mentoring_page(pair_id: uuid.UUID, request: Request) -> Response:
    me = await signed_in(request)
    pair = await my_pair(me, pair_id)
    space = await me.api("GET", f"/api/pairs/{pair_id}/meetings")
    organisations = {o["id"]: o for o in await me.api("GET", "/api/organisations")}
    today = datetime.now(UTC).date().isoformat()
    return render(
        request, "mentoring.html", me, pair=pair, space=space, organisations=organisations, today=today
    )  # fmt: skip


# What each form sends the API (from the form's fields) and what the page then says.
Action = tuple[Callable[[Any], dict[str, Any]], str]
MENTORING: dict[str, Action] = {
    "agreement": (
        lambda f: {"goals": lines(f.get("goals")), "meet_every_weeks": number(f.get("every"))},
        "Agreement saved. Your partner sees it here too.",
    ),
    "meetings": (
        lambda f: without_blanks(
            {"date": text(f, "date"), "minutes": number(f.get("minutes")), "notes": text(f, "notes")}
        ),
        "Meeting logged.",
    ),
    "check-ins": (
        lambda f: without_blanks(
            {"month": number(f.get("month")), "working": number(f.get("working")), "comment": text(f, "comment")}
        ),
        "Thank you: your check-in is in. The Programme Board sees only how many answered.",
    ),
    "close": (
        lambda f: {"reflection": text(f, "reflection")},
        "You have closed the relationship. It ends when your partner closes too; then feedback opens.",
    ),
}
PROJECT: dict[str, Action] = {
    "": (lambda f: {k: text(f, k) for k in ("title", "aim", "measure")}, "Project started."),
    "/milestones": (lambda f: {"title": text(f, "title"), "due": text(f, "due")}, "Milestone added."),
    "/presentation": (lambda f: {"date": text(f, "date"), "summary": text(f, "summary")}, "Presentation recorded."),
}


async def act(request: Request, csrf: str, action: Action | None, path: str, page: str) -> Response:
    if action is None:
        raise HTTPException(404)
    me = await signed_in(request)
    read, done = action
    return await post(me, csrf, path, read(await request.form()), page, done)


@router.post("/pairs/{pair_id}/mentoring/{action}")
async def mentoring_action(pair_id: uuid.UUID, action: str, request: Request, csrf: Csrf = "") -> Response:
    page = f"/staff/pairs/{pair_id}/mentoring"
    return await act(request, csrf, MENTORING.get(action), f"/api/pairs/{pair_id}/{action}", page)


# --- paired learning: the pair's joint improvement project, each fellow's self-assessment ---


@router.get("/pairs/{pair_id}/project", response_class=HTMLResponse)
async def project_page(pair_id: uuid.UUID, request: Request) -> Response:
    me = await signed_in(request)
    pair = await my_pair(me, pair_id)
    project = await me.api("GET", f"/api/pairs/{pair_id}/project")
    today = datetime.now(UTC).date().isoformat()
    return render(request, "project.html", me, pair=pair, project=project, today=today)


@router.post("/pairs/{pair_id}/project")
async def start_project(pair_id: uuid.UUID, request: Request, csrf: Csrf = "") -> Response:
    return await act(request, csrf, PROJECT[""], f"/api/pairs/{pair_id}/project", f"/staff/pairs/{pair_id}/project")


@router.post("/pairs/{pair_id}/project/{action}")
async def project_action(pair_id: uuid.UUID, action: str, request: Request, csrf: Csrf = "") -> Response:
    path = f"/api/pairs/{pair_id}/project/{action}"
    return await act(request, csrf, PROJECT.get(f"/{action}"), path, f"/staff/pairs/{pair_id}/project")


@router.post("/pairs/{pair_id}/project/milestones/{milestone_id}/done")
async def milestone_done(pair_id: uuid.UUID, milestone_id: uuid.UUID, request: Request, csrf: Csrf = "") -> Response:
    me = await signed_in(request)
    path = f"/api/pairs/{pair_id}/project/milestones/{milestone_id}/done"
    return await post(me, csrf, path, {}, f"/staff/pairs/{pair_id}/project", "Milestone done.")


@router.get("/fellows/{fellow_id}/self-assessment", response_class=HTMLResponse)
async def self_assessment_page(fellow_id: uuid.UUID, request: Request) -> Response:
    me = await signed_in(request)
    mine = await me.api("GET", f"/api/fellows/{fellow_id}/self-assessments")
    stage = "before" if "before" not in mine else "after" if "after" not in mine else None
    return render(
        request, "self_assessment.html", me, fellow_id=fellow_id, mine=mine, stage=stage,
        dimensions=LEADERSHIP_DIMENSIONS,
    )  # fmt: skip


@router.post("/fellows/{fellow_id}/self-assessment")
async def self_assess(fellow_id: uuid.UUID, request: Request, csrf: Csrf = "") -> Response:
    me = await signed_in(request)
    form = await request.form()
    body = {"stage": str(form.get("stage", "")), "strengths": ratings(form)}
    page = f"/staff/fellows/{fellow_id}/self-assessment"
    done = "Thank you: your self-assessment is saved. It is yours alone; the report shows only averages."
    return await post(me, csrf, f"/api/fellows/{fellow_id}/self-assessments", body, page, done)
