"""The report across the cohorts of a programme (issue 21) through the real stack: two cohorts of one
programme (its name with a space and a slash, URL-encoded), the API's columns and totals, the page
(a table per measure, a column per cohort and the totals; linked from the console's cohort list),
`lbb report --programme`, and a small cell suppressed in a cohort's own report stays suppressed."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import httpx
from typer.testing import CliRunner

from lbb.cli import app as cli
from lbb.devstack import Stack
from services.gateway.programme_report import path_of
from shared.disclosure import HIDDEN
from tests.conftest import Api
from tests.feedback.flow import cohort_with_pairs
from tests.flows import ADMIN, BOARD
from tests.gateway.test_console import signed_in


async def test_two_cohorts_of_a_programme_side_by_side_with_the_totals_and_small_cells_suppressed(
    api: Api, stack: Stack, tmp_path: Path
) -> None:
    tag = uuid.uuid4().hex[:6]
    programme = f"Programme {tag} 2026/27"
    first = await cohort_with_pairs(api, 6, name=f"First {tag}", programme=programme)
    second = await cohort_with_pairs(api, 2, name=f"Second {tag}", programme=programme)
    path = f"/api/programmes/{path_of(programme)}/report"

    assert (await api.call("GET", path, ("ann", "applicant"))).status_code == 403
    assert (await api.call("GET", f"/api/programmes/{path_of('No such ' + tag)}/report", BOARD)).status_code == 404
    answer = await api.call("GET", path, ADMIN)
    assert answer.status_code == 200, answer.text
    report = answer.json()
    assert report["programme"] == programme
    assert [c["name"] for c in report["cohorts"]] == [f"First {tag}", f"Second {tag}"]
    assert [c["cohort_id"] for c in report["cohorts"]] == [first.id, second.id]
    own = (await api.call("GET", f"/api/cohorts/{second.id}/report", BOARD)).json()
    assert own["fellows"] == HIDDEN and own["exchange"]["pairs"] == HIDDEN  # 2 fellows, 1 pair
    small = report["cohorts"][1]
    assert small["fellows"] == HIDDEN and small["exchange"]["pairs"] == HIDDEN  # stays suppressed
    assert report["cohorts"][0]["fellows"] == 5 and report["total"]["fellows"] == 10  # 6 and 8, rounded

    async with httpx.AsyncClient(base_url=stack.gateway_url, timeout=30) as client:
        await signed_in(client, f"ada-{tag}", "admin")
        console = (await client.get("/staff/admin")).text
        link = f"/staff/programmes/{path_of(programme)}/report"
        assert f'href="{link}"' in console
        page = await client.get(link)
        assert page.status_code == 200, page.text
    assert f"Evaluation report: {programme}" in page.text
    assert page.text.count('class="nhsuk-table programme-measure"') == 4
    header = re.search(r"<thead.*?</thead>", page.text, re.S)
    assert header and [f"First {tag}", f"Second {tag}", "All cohorts"] == re.findall(
        r'numeric">([^<]+)</th>', header.group(0)
    )
    fellows_row = re.search(r'<th scope="row" class="nhsuk-table__cell">Fellows</th>(.*?)</tr>', page.text, re.S)
    assert fellows_row and re.findall(r'numeric">([^<]+)</td>', fellows_row.group(1)) == ["5", "&lt;5", "10"]

    printed = CliRunner().invoke(
        cli, ["report", "--programme", programme, "--gateway", stack.gateway_url, "--out", str(tmp_path)]
    )
    assert printed.exit_code == 0, printed.output
    assert f"First {tag}" in printed.output and f"Second {tag}" in printed.output and "All cohorts" in printed.output
    assert "Exchange and feedback completion" in printed.output and "<5" in printed.output
    assert (tmp_path / "programme_report.json").exists()
