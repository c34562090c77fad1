"""The cohort evaluation report as a static HTML page with SVG charts (``lbb report``).

The numbers come from the feedback service's report (``GET /api/cohorts/{id}/report``), already
small-number suppressed: a count shown as "<5" is drawn as such and never guessed at. The page says
what the staff page ``/staff/cohorts/{id}/report`` says: both render the gateway's ``_report.html``
with the charts of ``services/gateway/charts.py`` (inline SVG, also written as files beside the page),
and the ICS collaboration map (``GET /api/collaboration/map``) when the gateway gave it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx
from jinja2 import Environment, FileSystemLoader, select_autoescape

from lbb.gateway import ask, bearer
from services.gateway import charts

CHARTS = {
    "completion": "completion.svg",
    "dimensions": "strengths_by_dimension.svg",
    "sectors": "strengths_by_sector.svg",
    "network": "collaboration_network.svg",
    "ics_map": "collaboration_map.svg",
}
TEMPLATES = Path(charts.__file__).parent / "templates"
EXTRAS = {"organisations": "organisations.json", "collaboration_map": "collaboration_map.json"}


def fetch(gateway_url: str, cohort_id: str, token: str | None = None, timeout_s: float = 30) -> dict[str, Any]:
    """The report JSON from the gateway, with the organisations and the ICS collaboration map beside it
    (keys ``organisations`` and ``collaboration_map``); without a token, a dev-mode board token is asked for."""
    try:
        return _fetch(gateway_url, cohort_id, token, timeout_s)
    except httpx.HTTPError as exc:
        raise RuntimeError(f"could not reach the gateway at {gateway_url}: {exc.__class__.__name__}") from exc


def _fetch(gateway_url: str, cohort_id: str, token: str | None, timeout_s: float) -> dict[str, Any]:
    with httpx.Client(base_url=gateway_url, timeout=timeout_s) as client:
        headers = bearer(client, token, "lbb-report", "board")
        found: dict[str, Any] = {}
        for key, path in (
            ("report", f"/api/cohorts/{cohort_id}/report"),
            ("organisations", "/api/organisations"),
            ("collaboration_map", "/api/collaboration/map"),
        ):
            answer = client.get(path, headers=headers)
            if answer.status_code != 200:
                raise RuntimeError(f"the gateway answered {answer.status_code}: {answer.text[:500]}")
            found[key] = answer.json()
        report: dict[str, Any] = found.pop("report")
        return report | found


def fetch_programme(
    gateway_url: str, programme: str, token: str | None = None, timeout_s: float = 30
) -> dict[str, Any]:
    """The report across a programme's cohorts from the gateway (``GET /api/programmes/{programme}/report``)."""
    from services.gateway.programme_report import path_of

    path = f"/api/programmes/{path_of(programme)}/report"
    return ask(gateway_url, "GET", path, ("lbb-report", "board"), token, timeout_s=timeout_s)


def render(data: Mapping[str, Any], out: Path) -> Path:
    """Write ``index.html``, its SVG charts, ``report.json`` (and the organisations and the ICS map when
    given) into ``out``; returns the page's path."""
    out.mkdir(parents=True, exist_ok=True)
    report = {k: v for k, v in data.items() if k not in EXTRAS}
    organisations = data.get("organisations") or []
    ics_map = data.get("collaboration_map")
    (out / "report.json").write_text(json.dumps(report, indent=2, sort_keys=True))
    for key, name in EXTRAS.items():
        if data.get(key) is not None:
            (out / name).write_text(json.dumps(data[key], indent=2, sort_keys=True))
    context = charts.report_context(report, organisations, ics_map)
    pictures = {**context["charts"], "ics_map": context["ics_chart"]}
    for key, name in CHARTS.items():
        if pictures.get(key) is not None:
            (out / name).write_text(str(pictures[key]))
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(default=True))
    page = env.from_string(PAGE).render(**context)
    path = out / "index.html"
    path.write_text(page)
    return path


PAGE = """<!doctype html>
<html lang="en-GB">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Cohort evaluation report {{ report.cohort_id }}</title>
<style>
 body { font-family: Arial, sans-serif; margin: 2rem auto; max-width: 1100px; padding: 0 1rem; color: #212b32; }
 h1, h2 { color: #005eb8; } table { border-collapse: collapse; margin: 1rem 0; }
 td, th { border: 1px solid #d8dde0; padding: .3rem .6rem; text-align: left; }
 caption { text-align: left; font-weight: bold; } .lbb-chart { width: 100%; height: auto; }
 .lbb-figure { display: grid; grid-template-columns: minmax(0, 3fr) minmax(16rem, 2fr); gap: 0 2rem; }
 @media (max-width: 48rem) { .lbb-figure { grid-template-columns: minmax(0, 1fr); } }
</style>
</head>
<body>
<main>
<h1>Cohort evaluation report</h1>
<p>Cohort <code>{{ report.cohort_id }}</code>.</p>
{% include "_report.html" %}
</main>
</body>
</html>
"""
