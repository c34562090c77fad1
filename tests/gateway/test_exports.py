"""The console's CSV rows and the report's SVG charts, without a stack: what a spreadsheet reads back,
a formula kept as text, suppressed counts drawn as words, the ICS map's links drawn between the right
organisations."""

from __future__ import annotations

import csv
import io
import xml.etree.ElementTree as ET

from services.gateway import charts
from services.gateway.exports import APPLICATION_COLUMNS, application_rows, cell, csv_lines, feedback_rows
from shared.events import LEADERSHIP_DIMENSIONS

SVG = "{http://www.w3.org/2000/svg}"


def parsed(lines: list[str]) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO("".join(lines))))


def test_a_formula_typed_into_a_statement_comes_back_as_text() -> None:
    assert cell('=HYPERLINK("http://x")').startswith("'=") and cell("@SUM(A1)") == "'@SUM(A1)"
    assert cell("-3") == "'-3" and cell("Ann") == "Ann" and cell(None) == "" and cell(7.5) == "7.5"


def test_each_step_of_the_decision_trail_is_a_row_and_an_application_without_one_is_still_there() -> None:
    application = {
        "id": "a1",
        "name": 'Ann, "the" nurse',
        "email": "ann@example.nhs.uk",
        "job_title": "=cmd",
        "organisation_name": "Bedfordshire Hospitals",
        "staff_group": "non_clinical",
        "band": "7",
        "state": "enrolled",
        "submitted_at": "2027-01-01T09:00:00+00:00",
    }
    trail = [
        {
            "application_id": "a1",
            "action": "endorse",
            "from_state": "submitted",
            "to_state": "endorsed",
            "reason": None,
            "decided_by": "sam",
            "decided_at": "2027-01-02",
        },
        {
            "application_id": "a1",
            "action": "shortlist",
            "from_state": "endorsed",
            "to_state": "shortlisted",
            "reason": "Clear, with commas, and\na new line",
            "decided_by": "bea",
            "decided_at": "2027-01-03",
        },
    ]
    other = application | {"id": "b2", "name": "Bob", "state": "submitted"}
    rows = parsed(list(csv_lines(APPLICATION_COLUMNS, application_rows([application, other], trail))))
    assert [(r["application_id"], r["step"]) for r in rows] == [("a1", "endorse"), ("a1", "shortlist"), ("b2", "")]
    assert rows[0]["name"] == 'Ann, "the" nurse' and rows[0]["job_title"] == "'=cmd"
    assert rows[1]["reason"] == "Clear, with commas, and\na new line" and rows[0]["staff_group"] == "Non-clinical"


def report(pairs: object = "<5", rate: float | None = None) -> dict[str, object]:
    return {
        "cohort_id": "c1",
        "fellows": 10,
        "exchange": {"pairs": pairs, "completed": 5, "not_completed": "<5", "completion_rate": rate},
        "feedback": {"requested": 10, "submitted": 10, "released": 10, "missing": 0, "completion_rate": 1.0},
        "strengths_by_dimension": [
            {"dimension": d, "ratings": "<5", "mean": None, "top_strength": 0, "distribution": {}}
            for d in LEADERSHIP_DIMENSIONS
        ],
        "strengths_by_sector": [],
        "collaboration_network": {"nodes": [], "edges": []},
    }


def test_the_feedback_csv_says_what_the_report_says_and_no_more() -> None:
    rows = dict(csv.reader(io.StringIO("".join(csv_lines(["measure", "value"], feedback_rows(report()))))))
    assert rows["pairs"] == "<5" and rows["exchanges_not_completed"] == "<5"
    assert rows["exchange_completion_rate"] == "suppressed" and rows["feedback_completion_rate"] == "1.00"


def test_a_suppressed_rate_is_drawn_as_words_and_every_chart_is_well_formed_svg() -> None:
    drawn = charts.charts(report())
    for svg in drawn.values():
        root = ET.fromstring(str(svg))
        assert root.tag == f"{SVG}svg" and root.get("role") == "img" and root.find(f"{SVG}title") is not None
    assert "suppressed (fewer than 5)" in drawn["completion"] and "100%" in drawn["completion"]
    assert "&lt;5 ratings" in drawn["dimensions"] and "No pairs yet." in drawn["network"]


def test_the_ics_map_draws_a_line_for_each_link_between_the_right_organisations() -> None:
    ics = {
        "organisations": ["E06000032", "RC9", "RD8"],
        "links": [
            {"a": "E06000032", "b": "RC9", "exchanges": 2, "started": 1, "delivered": 0},
            {"a": "RC9", "b": "RD8", "exchanges": 1, "started": 0, "delivered": 0},
        ],
    }
    root = ET.fromstring(str(charts.map_chart(ics, {"RC9": "acute", "E06000032": "local_authority"})))
    circles = {t.text: t for t in root.iter(f"{SVG}text") if t.text in ics["organisations"]}
    assert set(circles) == set(ics["organisations"])
    lines = [x for x in root.iter(f"{SVG}line") if float(x.get("x1", 0)) < 640]  # the legend's are right of 640
    assert len(lines) == 3  # two exchanges, one opportunity started
    assert sum(1 for x in lines if x.get("stroke-dasharray")) == 1
    assert "Local authority" in str(charts.map_chart(ics, {"E06000032": "local_authority"}))
