"""The evaluation report across the cohorts of a programme (issue 21): ``GET
/api/programmes/{programme}/report`` (board and admins) and its page
``/staff/programmes/{programme}/report``; ``lbb report --programme`` prints the same.

The programme is the cohorts' ``programme`` string (URL-encoded in the path). Applications names the
programme's cohorts; the feedback service counts them and applies the disclosure control to the whole
table at once (each cohort's cells as its own report shows them, the totals rounded, and no hidden
count derivable from the totals: ``services/feedback/evaluation.py``); the gateway only adds the
cohorts' names."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.responses import HTMLResponse

from services.gateway.api import ERRORS, BoardOrAdmin, answered, call
from services.gateway.charts import humanise
from services.gateway.exports import board_or_admin
from services.gateway.sessions import render, templates

router = APIRouter(prefix="/api", tags=["feedback"])
pages = APIRouter(prefix="/staff/programmes", include_in_schema=False)


@router.get("/programmes/{programme:path}/report", responses=ERRORS)
async def programme_report(programme: str, request: Request, caller: BoardOrAdmin) -> dict[str, Any]:
    """The evaluation report's measures for every cohort of the programme side by side (oldest first),
    with the totals; counts rounded to 5 and small ones suppressed across the whole table. 404 when
    no cohort has this programme."""
    listed = answered(await call(request, "applications", "GET", "/cohorts", caller), "applications")
    if listed.status_code != 200:
        raise HTTPException(listed.status_code, detail=listed.json().get("detail", "could not list the cohorts"))
    cohorts = sorted(
        (c for c in listed.json() if c["programme"] == programme), key=lambda c: (c["opens_at"], c["name"])
    )
    if not cohorts:
        raise HTTPException(404, detail="no cohort of this programme")
    params = {"cohort_id": [c["id"] for c in cohorts]}
    counted = answered(await call(request, "feedback", "GET", "/programmes/report", caller, params=params), "feedback")
    if counted.status_code != 200:
        raise HTTPException(counted.status_code, detail=counted.json().get("detail", "could not count"))
    report = counted.json()
    for column, cohort in zip(report["cohorts"], cohorts, strict=True):
        column |= {"name": cohort["name"], "kind": cohort.get("kind") or "exchange"}
    report["total"]["name"] = "All cohorts"
    return {"programme": programme, **report}


@pages.get("/{programme:path}/report", response_class=HTMLResponse)
async def programme_page(programme: str, request: Request) -> Response:
    """The report across the programme's cohorts: a table per measure, a cohort per column, the totals."""
    me = await board_or_admin(request)
    report = await me.api("GET", f"/api/programmes/{path_of(programme)}/report")
    return render(request, "programme_report.html", me, report=report, tables=tables(report))


def path_of(programme: str) -> str:
    """The programme's part of a URL: every character but letters and digits percent-encoded."""
    return quote(programme, safe="")


templates.env.filters["path_part"] = path_of


def _pct(value: float | None) -> str:
    return "suppressed" if value is None else f"{value:.0%}"


def _mean(value: float | None) -> str:
    return "suppressed" if value is None else f"{value:.1f}"


COMPLETION: list[tuple[str, Callable[[dict[str, Any]], Any]]] = [
    ("Fellows", lambda r: r["fellows"]),
    ("Pairs", lambda r: r["exchange"]["pairs"]),
    ("Exchanges completed", lambda r: r["exchange"]["completed"]),
    ("Exchanges not completed", lambda r: r["exchange"]["not_completed"]),
    ("Exchange completion rate", lambda r: _pct(r["exchange"]["completion_rate"])),
    ("Feedback requested", lambda r: r["feedback"]["requested"]),
    ("Feedback submitted", lambda r: r["feedback"]["submitted"]),
    ("Feedback released", lambda r: r["feedback"]["released"]),
    ("Feedback missing at the due date", lambda r: r["feedback"]["missing"]),
    ("Feedback completion rate", lambda r: _pct(r["feedback"]["completion_rate"])),
]
STRENGTHS: list[tuple[str, str, Callable[[Any], str]]] = [
    ("Leadership strengths: ratings", "ratings", str),
    ("Leadership strengths: mean score (1 to 5)", "mean", _mean),
    ("Named as a top strength", "top_strength", str),
]


def tables(report: dict[str, Any]) -> list[dict[str, Any]]:
    """The report as tables, one per measure, a column per cohort and one for the totals: what the page
    shows and ``lbb report --programme`` prints."""
    columns = [*report["cohorts"], report["total"]]
    header = [c["name"] for c in columns]
    found = [
        {
            "title": "Exchange and feedback completion",
            "header": header,
            "rows": [[label, *(str(pick(c)) for c in columns)] for label, pick in COMPLETION],
        }
    ]
    dimensions = [d["dimension"] for d in report["total"]["strengths_by_dimension"]]
    for title, key, said in STRENGTHS:
        rows = [
            [humanise(d), *(said(c["strengths_by_dimension"][i][key]) for c in columns)]
            for i, d in enumerate(dimensions)
        ]
        found.append({"title": title, "header": header, "rows": rows})
    return found
