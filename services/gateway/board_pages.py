"""The Programme Board's pairing tools as pages (issue 21): swap two fellows, lock or let go of a pair,
rule a pair out, set the cohort's weights and preview a re-run, and read a fellow's alternatives, all
before publishing. Forms with CSRF, no JavaScript; each posts to the contract's API (board.py) and a
refusal comes back on the cohort page as an error summary. The pairing service decides."""

from __future__ import annotations

import re
import uuid
from typing import Any

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.responses import HTMLResponse

from services.gateway.sessions import (
    ApiError,
    Csrf,
    Session,
    back,
    check_csrf,
    post,
    render,
    signed_in,
    templates,
    words,
)
from shared.contract import PairingWeights
from shared.events import PLACES, SECTORS

router = APIRouter(prefix="/staff/cohorts", include_in_schema=False)
WEIGHTS = list(PairingWeights.model_fields)
_BETWEEN = re.compile(r"different (sectors|places) \((\w+) and (\w+)\)")


def _said(code: str) -> str:
    """A sector or place inside a sentence: "fire and rescue", "Milton Keynes", "elsewhere"."""
    if code in PLACES:
        return "elsewhere" if code == "other" else " ".join(w.capitalize() for w in code.split("_"))
    said = words(code) if code in SECTORS else code
    return said[:1].lower() + said[1:]


def in_words(reason: str) -> str:
    """A pairing reason as people say it: ``different places (milton_keynes and luton)`` → "different
    places (Milton Keynes, Luton)", ``1 weekday(s)`` → "1 weekday"."""
    said = _BETWEEN.sub(lambda m: f"different {m[1]} ({_said(m[2])}, {_said(m[3])})", reason)
    return re.sub(r"\b1 weekday\(s\)", "1 weekday", said).replace("weekday(s)", "weekdays")


templates.env.filters["in_words"] = in_words


async def board_member(request: Request) -> Session:
    me = await signed_in(request)
    if me.caller.role != "board":
        raise HTTPException(403, detail="the pairing tools are for the Programme Board")
    return me


def _fellows(form: Any, *names: str) -> list[str]:
    return [str(form.get(n, "")) for n in names]


@router.post("/{cohort_id}/pairs/{action}")
async def pair_action(cohort_id: uuid.UUID, action: str, request: Request, csrf: Csrf = "") -> Response:
    """``swap`` two fellows' partners, ``lock`` or ``unlock`` a pair, ``exclude`` a pair from any run."""
    me = await board_member(request)
    check_csrf(me, csrf)
    form = await request.form()
    a, b = _fellows(form, "fellow_a", "fellow_b")
    calls: dict[str, tuple[str, dict[str, Any], str]] = {
        "swap": ("pairs/swap", {"fellow_a": a, "fellow_b": b}, "Swapped: the two fellows changed partners."),
        "lock": ("pairs/lock", {"fellow_ids": [a, b]}, "Locked: a re-run keeps this pair."),
        "unlock": ("pairs/unlock", {"fellow_ids": [a, b]}, "Unlocked: a re-run may change this pair."),
        "exclude": ("exclusions", {"fellow_a": a, "fellow_b": b}, "Ruled out: these two are never paired."),
    }
    if action not in calls:
        raise HTTPException(404)
    path, body, done = calls[action]
    return await post(me, csrf, f"/api/cohorts/{cohort_id}/{path}", body, f"/staff/cohorts/{cohort_id}", done)


@router.post("/{cohort_id}/pairing/weights")
async def set_weights(cohort_id: uuid.UUID, request: Request, csrf: Csrf = "") -> Response:
    me = await board_member(request)
    check_csrf(me, csrf)
    form = await request.form()
    page = f"/staff/cohorts/{cohort_id}"
    try:
        body = {k: float(str(form.get(k, "")).strip()) for k in WEIGHTS}
    except ValueError:
        return back(page, error="every weight is a number from 0 to 20")
    done = "Weights saved: the cohort's next run uses them."
    return await post(me, csrf, f"/api/cohorts/{cohort_id}/weights", body, page, done, method="PUT")


@router.post("/{cohort_id}/pairing/preview")
async def preview(cohort_id: uuid.UUID, request: Request, csrf: Csrf = "") -> Response:
    me = await board_member(request)
    check_csrf(me, csrf)
    page = f"/staff/cohorts/{cohort_id}"
    try:
        found = await me.api("POST", f"/api/cohorts/{cohort_id}/pairing/preview", {})
    except ApiError as exc:
        return back(page, error=exc.detail)
    said = (
        f"A re-run now would score {found['total']:g} (at most {found['bound']:g} is possible) "
        f"and change {found['pairs_changed']} pair(s). Nothing has changed."
    )
    return back(page, message=said)


@router.get("/{cohort_id}/fellows/{fellow_id}/alternatives", response_class=HTMLResponse)
async def alternatives(cohort_id: uuid.UUID, fellow_id: uuid.UUID, request: Request) -> Response:
    """The fellow's best other partners, with the reasons and what forcing each would cost the cohort."""
    me = await board_member(request)
    cohort = await me.api("GET", f"/api/cohorts/{cohort_id}")
    found = await me.api("GET", f"/api/cohorts/{cohort_id}/fellows/{fellow_id}/alternatives")
    applications = await me.api("GET", "/api/applications", params={"cohort_id": str(cohort_id)})
    names = {a["id"]: a["name"] for a in applications}
    organisations = {a["id"]: a["organisation_name"] for a in applications}
    pairs = await me.api("GET", f"/api/cohorts/{cohort_id}/pairs")
    now = next((p for p in pairs if str(fellow_id) in p["fellow_ids"]), None)
    partner = next((f for f in (now or {}).get("fellow_ids", []) if f != str(fellow_id)), None)
    return render(
        request,
        "alternatives.html",
        me,
        cohort=cohort,
        fellow_id=str(fellow_id),
        alternatives=found,
        names=names,
        organisations=organisations,
        partner=partner,
        published=bool(now and now["published"]),
    )


@router.get("/{cohort_id}", response_class=HTMLResponse)
async def cohort_page(cohort_id: uuid.UUID, request: Request) -> Response:
    """The board's page of a cohort: fair shortlisting in names and words, decisions with their reasons,
    enrolment, the pairs with their reasons and the tools to change them before publishing."""
    me = await board_member(request)
    cohort = await me.api("GET", f"/api/cohorts/{cohort_id}")
    counts = await me.api("GET", f"/api/cohorts/{cohort_id}/shortlisting")
    applications = await me.api("GET", "/api/applications", params={"cohort_id": str(cohort_id)})
    decisions = await me.api("GET", f"/api/cohorts/{cohort_id}/decisions")
    pairs = await me.api("GET", f"/api/cohorts/{cohort_id}/pairs")
    pairing = await me.api("GET", f"/api/cohorts/{cohort_id}/pairing")
    organisations = {o["code"]: o["name"] for o in await me.api("GET", "/api/organisations")}
    return render(
        request,
        "cohort.html",
        me,
        cohort=cohort,
        counts=counts,
        applications=applications,
        decisions=[d for d in decisions if d["reason"]],
        pairs=pairs,
        names={a["id"]: a["name"] for a in applications},
        fellow_organisations={a["id"]: a["organisation_name"] for a in applications},
        organisation_names=organisations,
        weights={k: pairing["weights"][k] for k in WEIGHTS},
    )
