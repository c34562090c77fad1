"""The cohort evaluation report as a static HTML page with SVG charts (``lbb report``).

The numbers come from the feedback service's report (``GET /api/cohorts/{id}/report``), already
small-number suppressed: a count shown as "<5" is drawn as such and never guessed at.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx
import networkx as nx
from jinja2 import Environment, select_autoescape
from matplotlib import rcParams
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from lbb.gateway import bearer

rcParams["svg.hashsalt"] = "lbb-report"  # stable ids: the same report renders to the same SVG
rcParams["svg.fonttype"] = "none"  # text stays text (small files, searchable)

CHARTS = {
    "completion": "completion.svg",
    "dimensions": "strengths_by_dimension.svg",
    "sectors": "strengths_by_sector.svg",
    "network": "collaboration_network.svg",
}
SUPPRESSED_NOTE = "<5"
SECTOR_COLOURS = {
    "acute": "#005EB8",
    "community": "#41B6E6",
    "mental_health": "#7C2855",
    "ambulance": "#ED8B00",
    "primary_care": "#009639",
    "icb": "#003087",
    "local_authority": "#AE2573",
    "social_care": "#8A1538",
    "fire_rescue": "#DA291C",
    "police": "#330072",
    "vcse": "#FFB81C",
    "education": "#00A499",
    "healthwatch": "#768692",
}


def fetch(gateway_url: str, cohort_id: str, token: str | None = None, timeout_s: float = 30) -> dict[str, Any]:
    """The report JSON from the gateway; without a token, a dev-mode board token is asked for."""
    try:
        return _fetch(gateway_url, cohort_id, token, timeout_s)
    except httpx.HTTPError as exc:
        raise RuntimeError(f"could not reach the gateway at {gateway_url}: {exc.__class__.__name__}") from exc


def _fetch(gateway_url: str, cohort_id: str, token: str | None, timeout_s: float) -> dict[str, Any]:
    with httpx.Client(base_url=gateway_url, timeout=timeout_s) as client:
        headers = bearer(client, token, "lbb-report", "board")
        answer = client.get(f"/api/cohorts/{cohort_id}/report", headers=headers)
        if answer.status_code != 200:
            raise RuntimeError(f"the gateway answered {answer.status_code}: {answer.text[:500]}")
        report: dict[str, Any] = answer.json()
        return report


def _label(value: Any) -> str:
    return SUPPRESSED_NOTE if value == SUPPRESSED_NOTE else str(value)


ACRONYMS = {"icb": "ICB", "vcse": "VCSE"}


def _humanise(key: str) -> str:
    return ACRONYMS.get(key, key.replace("_", " ").capitalize())


def completion_chart(report: Mapping[str, Any]) -> Figure:
    fig = Figure(figsize=(7, 2.6), layout="constrained")
    ax = fig.add_subplot()
    rows = [
        ("Exchanges completed", report["exchange"]["completion_rate"]),
        ("Feedback submitted", report["feedback"]["completion_rate"]),
    ]
    for y, (_, rate) in enumerate(rows):
        if rate is None:
            ax.barh(y, 1.0, color="none", edgecolor="#999999", hatch="//")
            ax.text(0.5, y, "suppressed (fewer than 5)", ha="center", va="center", color="#555555")
        else:
            ax.barh(y, rate, color="#005EB8")
            inside = rate > 0.85
            ax.text(
                rate - 0.02 if inside else rate + 0.02,
                y,
                f"{rate:.0%}",
                va="center",
                ha="right" if inside else "left",
                color="white" if inside else "black",
            )
    ax.set_yticks(range(len(rows)), [r[0] for r in rows])
    ax.set_xlim(0, 1)
    ax.xaxis.set_major_formatter(lambda x, _: f"{x:.0%}")
    ax.invert_yaxis()
    ax.set_title("Completion rates")
    return fig


def dimensions_chart(report: Mapping[str, Any]) -> Figure:
    rows = report["strengths_by_dimension"]
    fig = Figure(figsize=(9, 5), layout="constrained")
    ax_mean, ax_top = fig.subplots(1, 2, sharey=True)
    names = [_humanise(r["dimension"]) for r in rows]
    for y, r in enumerate(rows):
        if r["mean"] is None:
            ax_mean.text(0.1, y, f"{_label(r['ratings'])} ratings", va="center", color="#555555")
        else:
            ax_mean.barh(y, r["mean"], color="#005EB8")
            ax_mean.text(r["mean"] + 0.05, y, f"{r['mean']:.1f}", va="center")
        top = r["top_strength"]
        if isinstance(top, int):
            ax_top.barh(y, top, color="#009639")
            ax_top.text(top + 0.1, y, str(top), va="center")
        else:
            ax_top.text(0.1, y, _label(top), va="center", color="#555555")
    ax_mean.set_yticks(range(len(rows)), names)
    ax_mean.invert_yaxis()
    ax_mean.set_xlim(0, 5.5)
    ax_mean.set_title("Mean rating (1-5)")
    ax_top.set_title("Picked as a top strength")
    fig.suptitle("Leadership strengths by Healthcare Leadership Model dimension")
    return fig


def sectors_chart(report: Mapping[str, Any]) -> Figure:
    sectors = report["strengths_by_sector"]
    dimensions = [r["dimension"] for r in report["strengths_by_dimension"]]
    fig = Figure(figsize=(10, 1.6 + 0.5 * max(len(sectors), 1)), layout="constrained")
    ax = fig.add_subplot()
    if not sectors:
        ax.text(0.5, 0.5, "no released feedback yet", ha="center", va="center")
        ax.set_axis_off()
        return fig
    cells = [[s["dimensions"][d] for d in dimensions] for s in sectors]
    masked = [[c["mean"] if c["mean"] is not None else float("nan") for c in row] for row in cells]
    image = ax.imshow(masked, cmap="Blues", vmin=1, vmax=5, aspect="auto")
    for i, row in enumerate(cells):
        for j, c in enumerate(row):
            label = f"{c['mean']:.1f}" if c["mean"] is not None else "0" if c["ratings"] == 0 else _label(c["ratings"])
            colour = "white" if c["mean"] is not None and c["mean"] > 3.5 else "black"
            ax.text(j, i, label, ha="center", va="center", fontsize=8, color=colour)
    ax.set_xticks(range(len(dimensions)), [_humanise(d) for d in dimensions], rotation=35, ha="right")
    ax.set_yticks(range(len(sectors)), [f"{_humanise(s['sector'])} ({_label(s['fellows_rated'])})" for s in sectors])
    fig.colorbar(image, ax=ax, label="mean rating")
    ax.set_title("Mean rating by the rated fellow's sector (cells under 5 ratings suppressed)")
    return fig


def network_chart(report: Mapping[str, Any]) -> Figure:
    network = report["collaboration_network"]
    graph = nx.Graph()
    for node in network["nodes"]:
        graph.add_node(node["organisation_id"], **node)
    for edge in network["edges"]:
        graph.add_edge(edge["source"], edge["target"], **edge)
    fig = Figure(figsize=(10, 7.5), layout="constrained")
    ax = fig.add_subplot()
    ax.set_axis_off()
    ax.set_title("Cross-organisation collaboration network")
    if graph.number_of_nodes() == 0:
        ax.text(0.5, 0.5, "no pairs yet", ha="center", va="center")
        return fig
    # Organisations on a circle grouped by sector, links as chords: readable for one ICS's partners
    # (tens of organisations), reproducible, and a young cohort's many small components do not collapse.
    ordered = sorted(graph.nodes, key=lambda n: (graph.nodes[n].get("sector", ""), graph.nodes[n].get("code", "")))
    layout = nx.circular_layout(ordered)
    paired = [(a, b) for a, b, d in graph.edges(data=True) if d.get("pairs") not in (0, None)]
    ideas = [(a, b) for a, b, d in graph.edges(data=True) if d.get("opportunities") not in (0, None)]
    nx.draw_networkx_edges(graph, layout, edgelist=paired, ax=ax, edge_color="#999999", width=2, node_size=900)
    nx.draw_networkx_edges(
        graph, layout, edgelist=ideas, ax=ax, edge_color="#009639", width=4, style="dashed", node_size=900
    )
    colours = [SECTOR_COLOURS.get(graph.nodes[n].get("sector", ""), "#425563") for n in graph.nodes]
    nx.draw_networkx_nodes(graph, layout, ax=ax, node_color=colours, node_size=900, alpha=0.9)
    for n, (x, y) in layout.items():
        ax.text(
            1.2 * x, 1.2 * y, graph.nodes[n].get("code", "?"), ha="center", va="center", fontsize=8, color="#212b32"
        )
    ax.set_xlim(-1.45, 1.45)
    ax.set_ylim(-1.35, 1.35)
    ax.set_aspect("equal")
    sectors = sorted({graph.nodes[n].get("sector", "") for n in graph.nodes})
    handles: list[Any] = [
        Patch(color=SECTOR_COLOURS.get(s, "#425563"), label=_humanise(s) if s else "unknown") for s in sectors
    ]
    handles += [
        Line2D([], [], color="#999999", lw=2, label="paired fellows"),
        Line2D([], [], color="#009639", lw=4, ls="--", label="collaboration opportunity"),
    ]
    fig.legend(handles=handles, loc="outside right upper", fontsize=8, frameon=False)
    return fig


PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Cohort evaluation report {{ report.cohort_id }}</title>
<style>
 body { font-family: Arial, sans-serif; margin: 2rem auto; max-width: 1000px; color: #212b32; }
 h1 { color: #005eb8; } table { border-collapse: collapse; margin: 1rem 0; }
 td, th { border: 1px solid #d8dde0; padding: .3rem .6rem; text-align: left; }
 img { max-width: 100%; } .note { color: #4c6272; font-size: .9rem; }
</style>
</head>
<body>
<h1>Cohort evaluation report</h1>
<p>Cohort <code>{{ report.cohort_id }}</code>, generated {{ report.generated_at }}.</p>
<p class="note">Small numbers are suppressed: {{ report.suppression }}.</p>

<h2>Exchange and feedback completion</h2>
<table>
 <tr><th>Fellows</th><td>{{ report.fellows }}</td></tr>
 <tr><th>Pairs</th><td>{{ report.exchange.pairs }}</td></tr>
 <tr><th>Exchanges completed</th><td>{{ report.exchange.completed }}</td></tr>
 <tr><th>Exchanges not completed</th><td>{{ report.exchange.not_completed }}</td></tr>
 <tr><th>Exchange completion rate</th><td>{{ pct(report.exchange.completion_rate) }}</td></tr>
 <tr><th>Feedback requested</th><td>{{ report.feedback.requested }}</td></tr>
 <tr><th>Feedback submitted</th><td>{{ report.feedback.submitted }}</td></tr>
 <tr><th>Feedback released</th><td>{{ report.feedback.released }}</td></tr>
 <tr><th>Feedback missing at the due date</th><td>{{ report.feedback.missing }}</td></tr>
 <tr><th>Feedback completion rate</th><td>{{ pct(report.feedback.completion_rate) }}</td></tr>
</table>
<img src="{{ charts.completion }}" alt="Exchange and feedback completion rates">

{% set kind = (report.programme or {}).get("kind") %}
{% if kind and kind != "exchange" %}
<h2>{{ KIND_TITLES.get(kind, human(kind)) }}: the programme's own measures</h2>
<table>
 {% for key, value in report.programme[kind].items() if value is not mapping %}
 <tr><th>{{ human(key) }}</th><td>{{ shown(key, value) }}</td></tr>
 {% endfor %}
 {% for key, value in report.programme[kind].items() if value is mapping %}
 {% for sub, v in value.items() %}<tr><th>{{ human(key) }} at {{ sub }} months</th><td>{{ v }}</td></tr>{% endfor %}
 {% endfor %}
 {% if report.reflections_sent is defined %}
 <tr><th>Reflections sent to sharers</th><td>{{ report.reflections_sent }}</td></tr>
 {% endif %}
</table>
{% if kind == "paired_learning" and report.self_assessment %}
<h3>Self-assessment: mean change from before to after</h3>
<table>
 <tr><th>Dimension</th><th>Fellows who gave both</th><th>Mean change</th></tr>
 {% for dimension, r in report.self_assessment.items() %}
 <tr><td>{{ human(dimension) }}</td><td>{{ r.fellows }}</td><td>{{ change(r.mean_change) }}</td></tr>
 {% endfor %}
</table>
{% endif %}
{% endif %}

<h2>Leadership strengths by dimension</h2>
<img src="{{ charts.dimensions }}" alt="Mean rating and top strengths per dimension">
<table>
 <tr><th>Dimension</th><th>Ratings</th><th>Mean</th><th>Top strength</th>
 {% for s in range(1, 6) %}<th>{{ s }}</th>{% endfor %}</tr>
 {% for r in report.strengths_by_dimension %}
 <tr><td>{{ human(r.dimension) }}</td><td>{{ r.ratings }}</td><td>{{ num(r.mean) }}</td><td>{{ r.top_strength }}</td>
 {% for s in range(1, 6) %}<td>{{ r.distribution[s|string] }}</td>{% endfor %}</tr>
 {% endfor %}
</table>

<h2>Leadership strengths by sector</h2>
<img src="{{ charts.sectors }}" alt="Mean rating per dimension and sector">

<h2>Collaboration network</h2>
<p>Organisations as nodes; grey lines join organisations whose staff were paired, green dashed lines
organisations whose fellows named ways to work closer together.</p>
<img src="{{ charts.network }}" alt="Network of organisations linked by pairs and collaboration opportunities">
<table>
 <tr><th>Organisation</th><th>Organisation</th><th>Pairs</th><th>Collaboration opportunities</th></tr>
 {% for e in report.collaboration_network.edges %}
 <tr><td>{{ codes.get(e.source, e.source) }}</td><td>{{ codes.get(e.target, e.target) }}</td>
 <td>{{ e.pairs }}</td><td>{{ e.opportunities }}</td></tr>
 {% endfor %}
</table>
</body>
</html>
"""


KIND_TITLES = {"shadowing": "Shadowing", "mentoring": "Mentoring", "paired_learning": "Paired learning"}


def _measure(key: str, value: Any) -> str:
    """A measure as shown: rates as percentages, means to one decimal, counts as the service gave them."""
    if value is None:
        return "suppressed"
    if key.endswith("_rate") and isinstance(value, float):
        return f"{value:.0%}"
    return str(value)


def render(report: Mapping[str, Any], out: Path) -> Path:
    """Write ``index.html``, its SVG charts and ``report.json`` into ``out``; returns the page's path."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").write_text(json.dumps(report, indent=2, sort_keys=True))
    figures = {
        "completion": completion_chart(report),
        "dimensions": dimensions_chart(report),
        "sectors": sectors_chart(report),
        "network": network_chart(report),
    }
    for name, fig in figures.items():
        fig.savefig(out / CHARTS[name], format="svg", metadata={"Date": None})
    env = Environment(autoescape=select_autoescape(default=True, default_for_string=True))
    page = env.from_string(PAGE).render(
        report=report,
        charts=CHARTS,
        codes={n["organisation_id"]: n["code"] for n in report["collaboration_network"]["nodes"]},
        pct=lambda v: "suppressed" if v is None else f"{v:.0%}",
        num=lambda v: "suppressed" if v is None else f"{v:.2f}",
        human=_humanise,
        shown=_measure,
        change=lambda v: "suppressed" if v is None else f"{v:+.1f}",
        KIND_TITLES=KIND_TITLES,
    )
    path = out / "index.html"
    path.write_text(page)
    return path
