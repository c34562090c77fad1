"""A cohort's exports and its evaluation report, for the Programme Board and the programme team
(issue 21): CSV of the applications with their decision trail, of the pairs and their visits, and of
the feedback completion; the report page with its charts and the ICS collaboration map.

The feedback completion is the report's own figures, disclosure-controlled by the feedback service
(shared/disclosure.py): a CSV says no more than the report does. The CSV is written row by row into a
streamed answer; a cell a spreadsheet would run as a formula is quoted as text.
"""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.responses import HTMLResponse, StreamingResponse

from services.gateway import charts
from services.gateway.board_pages import in_words
from services.gateway.sessions import Session, render, signed_in, words

router = APIRouter(prefix="/staff/cohorts", include_in_schema=False)
CSV = "text/csv; charset=utf-8"
FORMULA = ("=", "+", "-", "@", "\t", "\r")


async def board_or_admin(request: Request) -> Session:
    me = await signed_in(request)
    if me.caller.role not in ("board", "admin"):
        raise HTTPException(403, detail="exports and reports are for the Programme Board and administrators")
    return me


def cell(value: Any) -> str:
    """A value as a CSV cell; text a spreadsheet would take for a formula gets a leading apostrophe."""
    said = "" if value is None else str(value)
    return "'" + said if said.startswith(FORMULA) else said


def csv_lines(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Iterator[str]:
    """The header, then each row, as CSV text one line at a time."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    for row in _chain(header, rows):
        writer.writerow([cell(v) for v in row])
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()


def _chain(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Iterator[Sequence[Any]]:
    yield header
    yield from rows


def streamed(name: str, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> StreamingResponse:
    return StreamingResponse(
        csv_lines(header, rows),
        media_type=CSV,
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


APPLICATION_COLUMNS = ["application_id", "name", "email", "job_title", "organisation", "staff_group", "band", "role"]
APPLICATION_COLUMNS += ["state", "submitted_at", "step", "from_state", "to_state", "reason", "decided_by", "decided_at"]


def application_rows(applications: list[dict[str, Any]], trail: list[dict[str, Any]]) -> Iterator[list[Any]]:
    """One row per step of each application's decision trail (one row with no step when it has none)."""
    steps: dict[str, list[dict[str, Any]]] = {}
    for d in trail:
        steps.setdefault(d["application_id"], []).append(d)
    for a in applications:
        who = [a["id"], a["name"], a["email"], a["job_title"], a["organisation_name"], words(a["staff_group"])]
        who += [a["band"], a.get("role") or "", words(a["state"]), a["submitted_at"]]
        for d in steps.get(a["id"], [{}]):
            yield who + [d.get(k) for k in ("action", "from_state", "to_state", "reason", "decided_by", "decided_at")]


PAIR_COLUMNS = ["pair_id", "fellow", "organisation", "partner", "partner_organisation", "score", "reasons"]
PAIR_COLUMNS += ["locked", "published", "visit_date", "visit_host", "visit_completed"]


def pair_rows(pairs: list[dict[str, Any]], names: dict[str, str], organisations: dict[str, str]) -> Iterator[list[Any]]:
    """One row per visit of each pair (one with no visit when it has none); a trio's third is a partner."""
    for p in pairs:
        first, *others = p["fellow_ids"]
        pair = [p["id"], names.get(first, ""), organisations.get(first, "")]
        pair += [" and ".join(names.get(f, "") for f in others), " and ".join(organisations.get(f, "") for f in others)]
        pair += [p["score"], "; ".join(in_words(r) for r in p["reasons"]), "yes" if p.get("locked") else "no"]
        pair += ["yes" if p["published"] else "no"]
        for v in p.get("visits") or [{}]:
            host = names.get(v["host_fellow_id"], "") if v else ""
            yield [*pair, v.get("date"), host, ("yes" if v.get("completed") else "no") if v else None]


def _rate(value: float | None) -> str:
    return "suppressed" if value is None else f"{value:.2f}"


def feedback_rows(report: dict[str, Any]) -> list[list[Any]]:
    """The report's completion figures, as the report shows them (rounded, small numbers suppressed)."""
    exchange, feedback = report["exchange"], report["feedback"]
    return [
        ["fellows", report["fellows"]],
        ["pairs", exchange["pairs"]],
        ["exchanges_completed", exchange["completed"]],
        ["exchanges_not_completed", exchange["not_completed"]],
        ["exchange_completion_rate", _rate(exchange["completion_rate"])],
        ["feedback_requested", feedback["requested"]],
        ["feedback_submitted", feedback["submitted"]],
        ["feedback_released", feedback["released"]],
        ["feedback_missing_at_due_date", feedback["missing"]],
        ["feedback_completion_rate", _rate(feedback["completion_rate"])],
    ]


def file_stem(text: str) -> str:
    """A download's file name from ``text``: letters and digits kept (lower case), the rest ``-``."""
    return "".join(c if c.isalnum() else "-" for c in text).lower()


@router.get("/{cohort_id}/export/{part}.csv")
async def export(cohort_id: uuid.UUID, part: str, request: Request) -> Response:
    me = await board_or_admin(request)
    cohort = await me.api("GET", f"/api/cohorts/{cohort_id}")
    stem = file_stem(f"{cohort['programme']}-{cohort['name']}")
    if part == "feedback":
        report = await me.api("GET", f"/api/cohorts/{cohort_id}/report")
        return streamed(f"{stem}-feedback.csv", ["measure", "value"], feedback_rows(report))
    applications = await me.api("GET", "/api/applications", params={"cohort_id": str(cohort_id)})
    if part == "applications":
        trail = await me.api("GET", f"/api/cohorts/{cohort_id}/decisions")
        return streamed(f"{stem}-applications.csv", APPLICATION_COLUMNS, application_rows(applications, trail))
    if part == "pairs":
        pairs = await me.api("GET", f"/api/cohorts/{cohort_id}/pairs")
        names = {a["id"]: a["name"] for a in applications}
        organisations = {a["id"]: a["organisation_name"] for a in applications}
        return streamed(f"{stem}-pairs.csv", PAIR_COLUMNS, pair_rows(pairs, names, organisations))
    raise HTTPException(404)


@router.get("/{cohort_id}/report", response_class=HTMLResponse)
async def report(cohort_id: uuid.UUID, request: Request) -> Response:
    """The evaluation report in the browser: what ``lbb report`` writes, with the ICS collaboration map."""
    me = await board_or_admin(request)
    cohort = await me.api("GET", f"/api/cohorts/{cohort_id}")
    found = await me.api("GET", f"/api/cohorts/{cohort_id}/report")
    organisations = await me.api("GET", "/api/organisations")
    ics_map = await me.api("GET", "/api/collaboration/map")
    return render(request, "report.html", me, cohort=cohort, **charts.report_context(found, organisations, ics_map))
