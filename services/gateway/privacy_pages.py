"""The governance issue's privacy tasks as console pages (issue 21), for admins: a subject access
export (shown per service, or downloaded as JSON) and an erasure, asked for with the address typed
twice, then its status page with each service's erased time. Server-rendered forms with CSRF, no
JavaScript; each calls the gateway's own privacy routes (privacy.py), which decide."""

from __future__ import annotations

import json
import uuid
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse

from services.gateway.console import admin
from services.gateway.exports import file_stem
from services.gateway.sessions import ApiError, Csrf, Session, back, check_csrf, render

router = APIRouter(prefix="/staff/privacy", include_in_schema=False)
PAGE = "/staff/privacy"


def _page(request: Request, me: Session, problems: list[dict[str, str]] | None = None, **form: str) -> HTMLResponse:
    """The privacy page; ``problems`` are the error summary's entries, each linking to its field."""
    status = 422 if problems else 200
    return render(request, "privacy.html", me, status_code=status, problems=problems or [], form=form)


@router.get("", response_class=HTMLResponse)
async def privacy(request: Request) -> Response:
    return _page(request, await admin(request))


def _held(services: dict[str, dict[str, list[Any]]]) -> list[dict[str, Any]]:
    """Per service, per table, how many records it holds about the person (what the page lists)."""
    return [
        {"service": name, "tables": [{"table": t, "records": len(rows)} for t, rows in tables.items()]}
        for name, tables in services.items()
    ]


@router.post("/export", response_class=HTMLResponse)
async def export(request: Request, csrf: Csrf = "") -> Response:
    """``show``: what every service holds, per table; ``download``: the whole export as a JSON file."""
    me = await admin(request)
    check_csrf(me, csrf)
    form = await request.form()
    email = str(form.get("email", "")).strip()
    if not email:
        return _page(
            request, me, [{"text": "Enter the e-mail address the person applied with", "href": "#export-email"}]
        )
    try:
        found = await me.api("POST", "/api/privacy/export", {"email": email})
    except ApiError as exc:
        return _page(request, me, [{"text": exc.detail, "href": "#export-email"}], export_email=email)
    if form.get("as") == "download":
        name = file_stem(email)
        return Response(
            json.dumps(found, indent=2, ensure_ascii=False),
            media_type="application/json",
            headers={"Content-Disposition": f'attachment; filename="subject-access-{name}.json"'},
        )
    return render(request, "privacy_export.html", me, found=found, held=_held(found["services"]))


@router.post("/erase", response_class=HTMLResponse)
async def erase(request: Request, csrf: Csrf = "") -> Response:
    """Erase the person after the address is typed a second time, then show the erasure's progress."""
    me = await admin(request)
    check_csrf(me, csrf)
    form = await request.form()
    email, again = (str(form.get(k, "")).strip() for k in ("email", "confirm"))
    problems = []
    if not email:
        problems.append({"text": "Enter the e-mail address of the person to erase", "href": "#erase-email"})
    if email.lower() != again.lower():
        problems.append({"text": "Type the same e-mail address again to confirm the erasure", "href": "#erase-confirm"})
    if problems:
        return _page(request, me, problems, erase_email=email)
    try:
        found = await me.api("POST", "/api/privacy/erase", {"email": email})
    except ApiError as exc:
        return _page(request, me, [{"text": exc.detail, "href": "#erase-email"}], erase_email=email)
    return back(f"{PAGE}/erasures/{found['id']}", message="Erasure asked for: each service erases the person.")


@router.get("/erasures/{erasure_id}", response_class=HTMLResponse)
async def erasure(erasure_id: uuid.UUID, request: Request) -> Response:
    """An erasure: when it was asked for, and per service when that service erased the person."""
    me = await admin(request)
    found = await me.api("GET", f"/api/privacy/erasures/{erasure_id}")  # a refusal: the error page
    done = sum(1 for at in found["services"].values() if at)
    return render(request, "erasure.html", me, erasure=found, done=done)
