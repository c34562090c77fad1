"""Paired learning (seed 003) through the gateway: clinicians paired with managers of other
organisations; each pair runs a joint improvement project (milestones inside the cohort's dates, a
presentation) and each fellow rates themselves before and after, privately. The board sees the mean
change only over enough fellows; no project words and no self-ratings reach an integration topic."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from shared import topics
from tests import flows
from tests.conftest import Api, eventually
from tests.e2e.test_shadowing import join, pairs_of

MARK = uuid.uuid4().hex[:10]
PEOPLE = {"RC9": "clinical", "RD8": "clinical", "RYE": "non_clinical", "E06000032": "non_clinical"}


async def test_a_pair_runs_its_project_and_each_fellow_assesses_themselves_in_private(
    api: Api, topic_reader: Any
) -> None:
    reader = await topic_reader(list(topics.INTEGRATION_TOPICS))
    orgs = await flows.organisations(api)
    body = {"programme": "Paired learning", "name": f"Paired {uuid.uuid4().hex[:6]}", "capacity": 10}
    created = await api.call(
        "POST", "/api/cohorts", flows.ADMIN, body | {"kind": "paired_learning", "auto_enrol": True}
    )
    assert created.status_code == 201, created.text
    cohort_id = created.json()["id"]
    fellow, who = {}, {}
    for code, group in PEOPLE.items():
        fellow[code], who[code] = await join(api, cohort_id, orgs, code, {"staff_group": group})
    assert (await api.call("POST", f"/api/cohorts/{cohort_id}/pairing", flows.BOARD, {})).status_code == 202
    await pairs_of(api, cohort_id, 2)
    assert (await api.call("POST", f"/api/cohorts/{cohort_id}/pairs/publish", flows.BOARD, {})).status_code == 202
    pairs = await pairs_of(api, cohort_id, 2, published=True)
    group_of = {fellow[c]: g for c, g in PEOPLE.items()}
    assert all(sorted(group_of[f] for f in p["fellow_ids"]) == ["clinical", "non_clinical"] for p in pairs)
    ours = next(p for p in pairs if fellow["RC9"] in p["fellow_ids"])
    partner_code = next(c for c in PEOPLE if fellow[c] in ours["fellow_ids"] and c != "RC9")
    other_code = next(c for c in PEOPLE if fellow[c] not in ours["fellow_ids"])
    me, partner, outsider = who["RC9"], who[partner_code], who[other_code]

    async def call(method: str, path: str, caller: Any, body: Any = None, expected: int = 200) -> Any:
        answer = await api.call(method, path, caller, body)
        assert answer.status_code == expected, answer.text
        return answer.json()

    # the joint project: either of the pair; milestones inside the cohort's dates; one presentation
    path = f"/api/pairs/{ours['id']}/project"
    project = {"title": "Faster discharge", "aim": f"aim {MARK}", "measure": "days from fit to leave"}
    await call("POST", path, me, project, 201)
    await call("POST", path, partner, project, 409)
    await call("GET", path, outsider, expected=404)
    await call("GET", path, flows.BOARD, expected=403)
    today = datetime.now(UTC).date().isoformat()
    milestone = (await call("POST", f"{path}/milestones", partner, {"title": "Baseline", "due": today}, 201))["id"]
    late = await call("POST", f"{path}/milestones", me, {"title": "Too late", "due": "2999-01-01"}, 422)
    assert "inside the cohort's dates" in str(late)
    await call("POST", f"{path}/milestones/{milestone}/done", me, {}, 202)
    await call("POST", f"{path}/milestones/{milestone}/done", partner, {}, 409)
    await call("POST", f"{path}/presentation", me, {"date": today, "summary": f"summary {MARK}"}, 202)
    shown = await call("GET", path, partner)
    assert shown["project"]["presented_on"] == today and shown["milestones"][0]["done_at"]

    # self-assessment: the fellow's own, before then after, once each; nobody else's
    mine = f"/api/fellows/{fellow['RC9']}/self-assessments"
    rating = {"leading_with_care": 2, "sharing_the_vision": 3}
    await flows.known_to_feedback(api, fellow["RC9"], me)
    await call("POST", mine, me, {"stage": "after", "strengths": rating}, 409)  # before comes first
    await call("POST", mine, me, {"stage": "before", "strengths": rating}, 201)
    await call("POST", mine, me, {"stage": "before", "strengths": rating}, 409)
    await call("POST", mine, partner, {"stage": "before", "strengths": rating}, 404)
    await call("POST", mine, me, {"stage": "after", "strengths": {"leading_with_care": 4}}, 201)
    assert (await call("GET", mine, me))["after"] == {"leading_with_care": 4}
    await call("GET", mine, partner, expected=404)

    report = await call("GET", f"/api/cohorts/{cohort_id}/report", flows.BOARD)
    care = report["self_assessment"]["leading_with_care"]
    assert care == {"fellows": "<5", "mean_change": None}  # one fellow: no mean that would be theirs
    assert report["programme"] == {
        "kind": "paired_learning",
        "paired_learning": {
            "pairs": "<5",
            "projects_started": "<5",
            "milestones_set": "<5",
            "milestones_met": "<5",
            "presentations": "<5",
            "milestones_met_rate": None,
        },
    }, "the kind's own measures, counted and hidden under 5"
    assert MARK not in str(report)

    async def presented() -> list[Any] | None:
        records = await reader.poll()
        return records if any(b"ProjectPresented" in (r.value or b"") for r in records) else None

    raw = b"".join(r.value or b"" for r in await eventually(presented, what="ProjectPresented on the pairing topic"))
    assert b"ProjectStarted" in raw and b"ProjectMilestoneDone" in raw
    assert MARK.encode() not in raw and b'leading_with_care":4' not in raw
