"""Subject access: an admin gets everything every service holds about one person (by the e-mail they
applied with), through the gateway and as `lbb privacy export`'s page; nobody else's data, and nobody
but an admin."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from lbb.cli import app as cli
from lbb.devstack import Stack
from tests import flows
from tests.conftest import Api, finding
from tests.feedback.flow import complete_exchange, give
from tests.flows import ADMIN, BOARD


async def test_an_admin_exports_everything_each_service_holds_about_one_person(
    api: Api, stack: Stack, tmp_path: Path
) -> None:
    people = f"sar-{uuid.uuid4().hex[:8]}"
    cohort = await flows.cohort_in_pairing(api, 2, "Subject access", people=people)
    await flows.paired(api, cohort.id, 2)
    await flows.publish(api, cohort.id)
    (pair,) = await flows.paired(api, cohort.id, 2, published=True)
    await complete_exchange(api, cohort, pair)
    me, partner = pair["fellow_ids"]  # fellow 0 of ``people`` is me, whoever the pair lists first
    if cohort.who[me][0].startswith(f"{people}-1-"):
        me, partner = partner, me
    await give(api, cohort, pair["id"], me, partner, narrative="What I wrote about my partner")
    email = f"{people}-0@example.nhs.uk"

    for who in (BOARD, cohort.who[me]):
        assert (await api.call("POST", "/api/privacy/export", who, {"email": email})).status_code == 403
    answer = await api.call("POST", "/api/privacy/export", ADMIN, {"email": email})
    assert answer.status_code == 200, answer.text
    export: dict[str, Any] = answer.json()
    assert export["person"] == {"subjects": [cohort.who[me][0]], "application_ids": [me]}
    held = export["services"]
    assert set(held) == {"applications", "pairing", "feedback", "notifications"}
    (application,) = held["applications"]["application"]
    assert application["email"] == email and application["id"] == me
    assert {d["action"] for d in held["applications"]["decision"]} >= {"endorse", "shortlist", "enrol"}
    assert [f["id"] for f in held["pairing"]["fellow"]] == [me]
    assert [p["id"] for p in held["pairing"]["pair"]] == [pair["id"]]
    assert len(held["pairing"]["visit"]) == 1  # the visit I hosted
    given = [f for f in held["feedback"]["feedback"] if f["from_fellow_id"] == me]
    assert [f["narrative"] for f in given] == ["What I wrote about my partner"]
    assert [c["email"] for c in held["notifications"]["contact"]] == [email]
    assert held["notifications"]["delivery"] and all(d["recipient_id"] == me for d in held["notifications"]["delivery"])
    partner_email = f"{people}-1@example.nhs.uk"
    assert partner_email not in json.dumps(export), "the partner's details are not mine to see"
    finding(
        "subject access export",
        "tables",
        f"{email}: " + ", ".join(f"{s}: {sum(len(rows) for rows in t.values())} rows" for s, t in held.items()),
    )

    out = tmp_path / "export"
    token = await api.token(*ADMIN)
    result = CliRunner().invoke(
        cli, ["privacy", "export", email, "--out", str(out), "--gateway", stack.gateway_url, "--token", token]
    )
    assert result.exit_code == 0, result.output
    assert json.loads((out / "export.json").read_text())["person"] == export["person"]
    page = (out / "index.html").read_text()
    assert email in page and "What I wrote about my partner" in page and "The pairing service" in page
