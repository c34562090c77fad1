"""The evaluation report's charts as inline SVG, built in plain Python (no plotting library): the
staff report page and ``lbb report`` draw the same pictures from the same report JSON.

Counts arrive already disclosure-controlled (shared/disclosure.py): a "<5" or "suppressed" is drawn
as words, never guessed at. Every chart is ``role="img"`` with a title; the page puts a table beside it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from markupsafe import Markup, escape

BLUE, GREEN, GREY, TEXT = "#005eb8", "#007f3b", "#768692", "#212b32"
SECTOR_COLOURS = {
    "acute": "#005eb8",
    "community": "#41b6e6",
    "mental_health": "#7c2855",
    "ambulance": "#ed8b00",
    "primary_care": "#009639",
    "icb": "#003087",
    "local_authority": "#ae2573",
    "social_care": "#8a1538",
    "fire_rescue": "#da291c",
    "police": "#330072",
    "vcse": "#ffb81c",
    "education": "#00a499",
    "healthwatch": "#768692",
}
ACRONYMS = {"icb": "ICB", "vcse": "VCSE"}


def humanise(key: str) -> str:
    """``local_authority`` → "Local authority"; the acronyms stay capitals."""
    return ACRONYMS.get(key, key.replace("_", " ").capitalize())


def _svg(width: int, height: int, title: str, body: Iterable[str]) -> Markup:
    return Markup(
        f'<svg xmlns="http://www.w3.org/2000/svg" class="lbb-chart" viewBox="0 0 {width} {height}" '
        f'role="img" aria-label="{escape(title)}" font-family="Arial, sans-serif" font-size="13">'
        f"<title>{escape(title)}</title>{''.join(body)}</svg>"
    )


def _text(x: float, y: float, words: object, anchor: str = "start", fill: str = TEXT, size: int = 13) -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" dominant-baseline="middle" fill="{fill}" '
        f'font-size="{size}">{escape(str(words))}</text>'
    )


def _bar(x: float, y: float, width: float, height: float, fill: str) -> str:
    return f'<rect x="{x:.1f}" y="{y:.1f}" width="{max(width, 0):.1f}" height="{height:.1f}" fill="{fill}"/>'


def bars(title: str, rows: Sequence[tuple[str, float | None, str]], maximum: float, colour: str = BLUE) -> Markup:
    """Horizontal bars: (label, value or None when suppressed, what to write at the bar's end)."""
    label_w, bar_w, row_h = 260, 380, 30
    body = [_text(0, 14, title, size=15)]
    for i, (label, value, said) in enumerate(rows):
        y = 34 + i * row_h
        body.append(_text(label_w - 8, y + 10, label, anchor="end"))
        if value is None:
            body.append(
                f'<rect x="{label_w}" y="{y}" width="{bar_w}" height="20" fill="none" stroke="{GREY}" '
                'stroke-dasharray="4 3"/>'
            )
            body.append(_text(label_w + bar_w / 2, y + 10, said, anchor="middle", fill="#4c6272"))
        else:
            width = bar_w * (value / maximum if maximum else 0)
            body.append(_bar(label_w, y, width, 20, colour))
            body.append(_text(label_w + width + 6, y + 10, said))
    return _svg(label_w + bar_w + 60, 44 + len(rows) * row_h, title, body)


def completion_chart(report: Mapping[str, Any]) -> Markup:
    rows = []
    for label, rate in (
        ("Exchanges completed", report["exchange"]["completion_rate"]),
        ("Feedback submitted", report["feedback"]["completion_rate"]),
    ):
        rows.append((label, rate, "suppressed (fewer than 5)" if rate is None else f"{rate:.0%}"))
    return bars("Completion rates", rows, 1.0)


def dimensions_chart(report: Mapping[str, Any]) -> Markup:
    rows = [
        (humanise(r["dimension"]), r["mean"], f"{r['ratings']} ratings" if r["mean"] is None else f"{r['mean']:.1f}")
        for r in report["strengths_by_dimension"]
    ]
    return bars("Mean rating (1 to 5) by Healthcare Leadership Model dimension", rows, 5.0)


def _shade(mean: float) -> str:
    """From pale to NHS blue as the mean goes from 1 to 5."""
    t = min(max((mean - 1) / 4, 0), 1)
    r, g, b = (int(a + (z - a) * t) for a, z in ((232, 0), (240, 94), (246, 184)))
    return f"#{r:02x}{g:02x}{b:02x}"


def sectors_chart(report: Mapping[str, Any]) -> Markup:
    sectors = report["strengths_by_sector"]
    dimensions = [r["dimension"] for r in report["strengths_by_dimension"]]
    title = "Mean rating by the rated fellow's sector (cells under 5 ratings suppressed)"
    if not sectors:
        return _svg(640, 60, title, [_text(0, 14, title, size=15), _text(0, 44, "No released feedback yet.")])
    label_w, cell_w, cell_h, head_h = 220, 62, 28, 120
    body = [_text(0, 14, title, size=15)]
    for j, d in enumerate(dimensions):
        x, y = label_w + j * cell_w + cell_w / 2, head_h - 6
        body.append(
            f'<text transform="translate({x:.1f},{y}) rotate(-40)" fill="{TEXT}" font-size="12">'
            f"{escape(humanise(d))}</text>"
        )
    for i, s in enumerate(sectors):
        y = head_h + i * cell_h
        body.append(_text(label_w - 8, y + cell_h / 2, f"{humanise(s['sector'])} ({s['fellows_rated']})", "end"))
        for j, d in enumerate(dimensions):
            cell = s["dimensions"][d]
            x = label_w + j * cell_w
            mean = cell["mean"]
            body.append(_bar(x + 1, y + 1, cell_w - 2, cell_h - 2, _shade(mean) if mean is not None else "#f0f4f5"))
            said = f"{mean:.1f}" if mean is not None else ("0" if cell["ratings"] == 0 else str(cell["ratings"]))
            light = mean is not None and mean > 3.2
            body.append(_text(x + cell_w / 2, y + cell_h / 2, said, "middle", "#ffffff" if light else TEXT, 12))
    return _svg(label_w + len(dimensions) * cell_w + 10, head_h + len(sectors) * cell_h + 10, title, body)


@dataclass(frozen=True)
class Node:
    key: str
    label: str
    sector: str = ""


@dataclass(frozen=True)
class Link:
    a: str
    b: str
    exchanges: int | str = 0
    working: int | str = 0  # opportunities (started or delivered, on the ICS map)


def _some(n: int | str) -> bool:
    return n not in (0, None, "0")


def network(title: str, nodes: Sequence[Node], links: Sequence[Link], working: str, empty: str) -> Markup:
    """Organisations on a circle grouped by sector, links as chords: grey for exchanges, green dashed
    for ``working`` (opportunities). Reproducible, and readable for one ICS's tens of partners."""
    size, legend_w = 640, 230
    body = [_text(0, 14, title, size=15)]
    if not nodes:
        return _svg(size, 60, title, [*body, _text(0, 44, empty)])
    ordered = sorted(nodes, key=lambda n: (n.sector, n.label))
    cx, cy, radius = size / 2, size / 2 + 10, size / 2 - 110
    at = {
        n.key: (
            cx + radius * math.cos(2 * math.pi * i / len(ordered) - math.pi / 2),
            cy + radius * math.sin(2 * math.pi * i / len(ordered) - math.pi / 2),
        )
        for i, n in enumerate(ordered)
    }
    for link in links:
        if link.a not in at or link.b not in at:
            continue
        (x1, y1), (x2, y2) = at[link.a], at[link.b]
        if _some(link.exchanges):
            body.append(
                f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" stroke="{GREY}" stroke-width="2"/>'
            )
        if _some(link.working):
            body.append(
                f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" stroke="{GREEN}" stroke-width="4" '
                'stroke-dasharray="8 5"/>'
            )
    for n in ordered:
        x, y = at[n.key]
        body.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="13" fill="{SECTOR_COLOURS.get(n.sector, GREY)}"/>')
        lx, ly = cx + (x - cx) * 1.2, cy + (y - cy) * 1.2
        anchor = "middle" if abs(lx - cx) < 30 else ("start" if lx > cx else "end")
        body.append(_text(lx, ly, n.label, anchor, size=15))
    legend = [
        (SECTOR_COLOURS.get(s, GREY), humanise(s) if s else "Sector not known")
        for s in sorted({n.sector for n in nodes})
    ]
    y = 40
    for colour, said in legend:
        body.append(f'<circle cx="{size + 10}" cy="{y}" r="7" fill="{colour}"/>' + _text(size + 24, y, said, size=12))
        y += 22
    body.append(f'<line x1="{size}" y1="{y}" x2="{size + 20}" y2="{y}" stroke="{GREY}" stroke-width="2"/>')
    body.append(_text(size + 24, y, "exchange (paired fellows)", size=12))
    body.append(
        f'<line x1="{size}" y1="{y + 22}" x2="{size + 20}" y2="{y + 22}" stroke="{GREEN}" stroke-width="4" '
        'stroke-dasharray="8 5"/>'
    )
    body.append(_text(size + 24, y + 22, working, size=12))
    return _svg(size + legend_w, size + 20, title, body)


def network_chart(report: Mapping[str, Any]) -> Markup:
    """The cohort's collaboration network: its organisations linked by pairs and by named opportunities."""
    net = report["collaboration_network"]
    nodes = [Node(n["organisation_id"], n.get("code", "?"), n.get("sector", "")) for n in net["nodes"]]
    links = [Link(e["source"], e["target"], e["pairs"], e["opportunities"]) for e in net["edges"]]
    return network(
        "The cohort's collaboration network", nodes, links, "collaboration opportunity named", "No pairs yet."
    )


def map_chart(ics_map: Mapping[str, Any], sectors: Mapping[str, str]) -> Markup:
    """The ICS collaboration map across every cohort (``GET /api/collaboration/map``), organisations by
    code (the table beside it gives their names), coloured by ``sectors`` (code → sector)."""
    nodes = [Node(code, code, sectors.get(code, "")) for code in ics_map["organisations"]]
    links = [Link(x["a"], x["b"], x["exchanges"], _sum(x["started"], x["delivered"])) for x in ics_map["links"]]
    return network("The ICS collaboration map", nodes, links, "opportunity started or delivered", "No links yet.")


def _sum(a: int | str, b: int | str) -> int | str:
    return a + b if isinstance(a, int) and isinstance(b, int) else f"{a} + {b}"


def charts(report: Mapping[str, Any]) -> dict[str, Markup]:
    """Every chart of a cohort's report, by name (the page's and ``lbb report``'s files)."""
    return {
        "completion": completion_chart(report),
        "dimensions": dimensions_chart(report),
        "sectors": sectors_chart(report),
        "network": network_chart(report),
    }


def report_context(
    report: Mapping[str, Any], organisations: Iterable[Mapping[str, Any]], ics_map: Mapping[str, Any] | None
) -> dict[str, Any]:
    """What ``_report.html`` needs: the report, its charts, the ICS map and its chart, organisations'
    names by id and by code, and the formatters of rates and means."""
    organisations = list(organisations)
    names = {str(o["id"]): o["name"] for o in organisations} | {o["code"]: o["name"] for o in organisations}
    sectors = {o["code"]: o["sector"] for o in organisations}
    return {
        "report": report,
        "charts": charts(report),
        "ics_map": ics_map,
        "ics_chart": map_chart(ics_map, sectors) if ics_map is not None else None,
        "names": names,
        "pct": lambda v: "suppressed" if v is None else f"{v:.0%}",
        "num": lambda v: "suppressed" if v is None else f"{v:.2f}",
        "human": humanise,
        "shown": measure,
        "change": lambda v: "suppressed" if v is None else f"{v:+.1f}",
        "kind_titles": KIND_TITLES,
    }


KIND_TITLES = {"shadowing": "Shadowing", "mentoring": "Mentoring", "paired_learning": "Paired learning"}


def measure(key: str, value: Any) -> str:
    """A programme's measure as shown: rates as percentages, counts as the service gave them."""
    if value is None:
        return "suppressed"
    if key.endswith("_rate") and isinstance(value, float):
        return f"{value:.0%}"
    return str(value)
