"""The cohort evaluation report on a seeded cohort: JSON through the gateway and `lbb report`'s page."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from lbb.cli import app as cli
from lbb.devstack import Stack
from shared.disclosure import rounded
from shared.events import LEADERSHIP_DIMENSIONS
from tests.conftest import Api
from tests.feedback.flow import cohort_with_pairs, complete_exchange, feedback_state, give
from tests.flows import ADMIN, BOARD


def shown(n: int) -> int | str:
    return rounded(n)


async def test_the_report_counts_a_seeded_cohort_and_suppresses_small_numbers(
    api: Api, stack: Stack, tmp_path: Path
) -> None:
    cohort = await cohort_with_pairs(api, 12, name="Report")
    assert len(cohort.pairs) == 6
    completed, left_out = cohort.pairs[:5], cohort.pairs[5]
    ratings: list[tuple[str, dict[str, int]]] = []  # (receiver, strengths)
    tops: Counter[str] = Counter()
    ideas = 0
    for i, pair in enumerate(completed):
        await complete_exchange(api, cohort, pair)
        a, b = pair["fellow_ids"]
        for j, (giver, receiver) in enumerate(((a, b), (b, a))):
            k = 2 * i + j
            strengths = {"leading_with_care": 4, "engaging_the_team": 5, "holding_to_account": 1 + k % 5}
            if k < 2:
                strengths["influencing_for_results"] = 2
            top = ["engaging_the_team"] if k % 2 else ["leading_with_care", "engaging_the_team"]
            with_ideas = [f"Joint workshop {k}"] if i < 2 else []
            await give(
                api, cohort, pair["id"], giver, receiver, strengths=strengths, top_strengths=top,
                collaboration_ideas=with_ideas,
            )  # fmt: skip
            ratings.append((receiver, strengths))
            tops.update(top)
            ideas += len(with_ideas)
        await feedback_state(api, cohort, pair, lambda state: state["released_at"] is not None)

    for who in (
        cohort.who[left_out["fellow_ids"][0]],
        ("sam", "sponsor", cohort.organisation[left_out["fellow_ids"][0]]["id"]),
    ):
        assert (await api.call("GET", f"/api/cohorts/{cohort.id}/report", who)).status_code == 403
    answer = await api.call("GET", f"/api/cohorts/{cohort.id}/report", BOARD)
    assert answer.status_code == 200, answer.text
    report = answer.json()
    assert (await api.call("GET", f"/api/cohorts/{cohort.id}/report", ADMIN)).status_code == 200

    # disclosure control: counts rounded to 5 (12 fellows, 6 pairs, 5 completed, 1 not), and a rate
    # from the rounded counts (from the true ones it would give the hidden count away)
    assert report["fellows"] == 10
    assert report["exchange"] == {"pairs": 5, "completed": 5, "not_completed": "<5", "completion_rate": 1.0}
    assert report["feedback"] == {
        "requested": 10,
        "submitted": 10,
        "released": 10,
        "missing": 0,
        "completion_rate": 1.0,
    }
    by_dimension = {r["dimension"]: r for r in report["strengths_by_dimension"]}
    assert [r["dimension"] for r in report["strengths_by_dimension"]] == list(LEADERSHIP_DIMENSIONS)
    assert by_dimension["leading_with_care"] == {
        "dimension": "leading_with_care",
        "ratings": 10,
        "mean": 4.0,
        "top_strength": 5,
        "distribution": {"1": 0, "2": 0, "3": 0, "4": 10, "5": 0},
    }
    assert by_dimension["holding_to_account"]["mean"] == 3.0
    assert by_dimension["holding_to_account"]["distribution"] == {str(s): "<5" for s in range(1, 6)}
    assert by_dimension["engaging_the_team"]["top_strength"] == 10
    assert by_dimension["influencing_for_results"] == {
        "dimension": "influencing_for_results",
        "ratings": "<5",
        "mean": None,
        "top_strength": 0,
        "distribution": {"1": 0, "2": "<5", "3": 0, "4": 0, "5": 0},
    }
    assert by_dimension["sharing_the_vision"]["ratings"] == 0

    # by the rated fellow's sector, from what this test gave
    per_sector: dict[str, list[dict[str, int]]] = {}
    for receiver, strengths in ratings:
        per_sector.setdefault(cohort.organisation[receiver]["sector"], []).append(strengths)
    sectors = {s["sector"]: s for s in report["strengths_by_sector"]}
    assert set(sectors) == set(per_sector)
    for sector, given in per_sector.items():
        care = [g["leading_with_care"] for g in given]
        assert sectors[sector]["fellows_rated"] == shown(len(given))
        assert sectors[sector]["dimensions"]["leading_with_care"] == {
            "ratings": shown(len(care)),
            "mean": round(sum(care) / len(care), 1) if len(care) >= 10 else None,
        }

    # the network: every organisation of the cohort, an edge per pair, opportunities where ideas were named
    network = report["collaboration_network"]
    by_id = {o["id"]: o for o in cohort.organisation.values()}
    assert {n["organisation_id"] for n in network["nodes"]} == set(by_id)
    assert all(n["code"] == by_id[n["organisation_id"]]["code"] for n in network["nodes"])
    assert len(network["edges"]) == 6
    expected_edges = {
        frozenset(cohort.organisation[f]["id"] for f in p["fellow_ids"]): (i < 2) for i, p in enumerate(cohort.pairs)
    }
    for edge in network["edges"]:
        with_ideas = expected_edges[frozenset((edge["source"], edge["target"]))]
        assert edge["pairs"] == "<5" and edge["opportunities"] == ("<5" if with_ideas else 0)
    assert ideas == 4

    # `lbb report` renders the same numbers into an HTML page with SVG charts
    out = tmp_path / "report"
    token = await api.token(*BOARD)
    result = CliRunner().invoke(
        cli, ["report", cohort.id, "--out", str(out), "--gateway", stack.gateway_url, "--token", token]
    )
    assert result.exit_code == 0, result.output
    page = (out / "index.html").read_text()
    assert json.loads((out / "report.json").read_text())["exchange"] == report["exchange"]
    assert "100%" in page and "&lt;5" in page and "<5<" not in page
    for chart in (
        "completion.svg",
        "strengths_by_dimension.svg",
        "strengths_by_sector.svg",
        "collaboration_network.svg",
    ):
        ET.parse(out / chart)  # well-formed SVG, drawn inline in the page too
        assert (out / chart).read_text() in page
    network_svg = (out / "collaboration_network.svg").read_text()
    assert all(code in network_svg for code in (o["code"] for o in cohort.organisation.values()))
    assert "Leading with care" in (out / "strengths_by_dimension.svg").read_text()
    # the ICS collaboration map beside the cohort's network: a picture and a table of the links
    ics = json.loads((out / "collaboration_map.json").read_text())
    ET.parse(out / "collaboration_map.svg")
    assert ics["links"] and all(link["a"] in (out / "collaboration_map.svg").read_text() for link in ics["links"])
    assert page.count('class="nhsuk-table__row ics-link"') == len(ics["links"])


def saved_report(**extra: Any) -> dict[str, Any]:
    """A report as the gateway gives it, of a cohort with no released feedback yet."""
    return {
        "cohort_id": "c0ffee00-0000-4000-8000-000000000000",
        "generated_at": "2027-03-01T12:00:00+00:00",
        "suppression": "counts from 1 to 4 are shown as '<5'",
        "fellows": "<5",
        "exchange": {"pairs": "<5", "completed": 0, "not_completed": "<5", "completion_rate": None},
        "feedback": {"requested": 0, "submitted": 0, "released": 0, "missing": 0, "completion_rate": None},
        "strengths_by_dimension": [
            {"dimension": d, "ratings": 0, "mean": None, "top_strength": 0, "distribution": {}}
            for d in LEADERSHIP_DIMENSIONS
        ],
        "strengths_by_sector": [],
        "collaboration_network": {"nodes": [], "edges": []},
    } | extra


def rendered(tmp_path: Path, saved: dict[str, Any]) -> str:
    """``lbb report --from-json`` of ``saved``: the page."""
    source = tmp_path / "saved.json"
    source.write_text(json.dumps(saved))
    result = CliRunner().invoke(
        cli, ["report", saved["cohort_id"], "--out", str(tmp_path / "out"), "--from-json", str(source)]
    )
    assert result.exit_code == 0, result.output
    return (tmp_path / "out" / "index.html").read_text()


def test_lbb_report_renders_a_saved_report_without_a_stack(tmp_path: Path) -> None:
    saved = saved_report()
    page = rendered(tmp_path, saved)
    assert saved["cohort_id"] in page and "suppressed" in page
    assert "No pairs yet." in (tmp_path / "out" / "collaboration_network.svg").read_text()
    assert not (tmp_path / "out" / "collaboration_map.svg").exists()  # a saved report without the map
    assert "own measures" not in page  # an exchange (or a report without them) has no such section


def plain(page: str) -> str:
    """The page's tags without their attributes (the design system's classes), to read its tables."""
    return re.sub(r"<(\w+)[^>]*>", r"<\1>", page)


def test_lbb_report_shows_each_kinds_own_measures(tmp_path: Path) -> None:
    measures = {
        "pairs": 20,
        "projects_started": 15,
        "milestones_set": 60,
        "milestones_met": 45,
        "presentations": "<5",
        "milestones_met_rate": 0.75,
    }
    change = {d: {"fellows": 10, "mean_change": 0.7 if i == 0 else None} for i, d in enumerate(LEADERSHIP_DIMENSIONS)}
    programme = {"kind": "paired_learning", "paired_learning": measures}
    page = plain(rendered(tmp_path, saved_report(self_assessment=change, programme=programme)))
    assert "Paired learning: the programme's own measures" in page
    assert "<th>Projects started</th><td>15</td>" in page and "<th>Milestones met rate</th><td>75%</td>" in page
    assert "<th>Presentations</th><td>&lt;5</td>" in page
    assert "<td>Inspiring shared purpose</td><td>10</td><td>+0.7</td>" in page and "<td>suppressed</td>" in page

    mentoring = {"pairs": 10, "meetings_per_pair": 4.5, "check_ins_answered": {"3": 10, "6": 5}, "closed": 5}
    page = plain(rendered(tmp_path, saved_report(programme={"kind": "mentoring", "mentoring": mentoring})))
    assert (
        "<th>Meetings per pair</th><td>4.5</td>" in page and "<th>Check ins answered at 6 months</th><td>5</td>" in page
    )


def test_lbb_report_says_why_when_the_gateway_is_unreachable(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli, ["report", "x", "--out", str(tmp_path), "--gateway", "http://127.0.0.1:9", "--token", "t"]
    )
    assert result.exit_code == 1 and "could not get the report" in result.output
