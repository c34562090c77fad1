"""Ways to work closer together, followed through (issue 21): each idea of an exchange becomes an
opportunity the two organisations' sponsors own; they move it along its states; check-ins fall 3, 6
and 12 months after the exchange (an injected clock), reminded once by e-mail to the owners; the
collaboration map shows which organisations work together. Through the gateway, on the real stack."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from lbb.mailsink import MailSink
from services.feedback.collaboration import add_months
from services.feedback.commands import remind_due_check_ins
from shared import topics
from tests.conftest import Api, envelopes, eventually
from tests.feedback.flow import exchanged_pair, feedback_state, give
from tests.flows import ADMIN, BOARD
from tests.notifications.flow import register_staff

IDEA = f"Fire service youth work with CAMHS {uuid.uuid4().hex[:8]}"


async def collaboration_map(api: Api) -> dict[tuple[str, str], dict[str, int]]:
    answer = await api.call("GET", "/api/collaboration/map", BOARD)
    assert answer.status_code == 200, answer.text
    return {(link["a"], link["b"]): link for link in answer.json()["links"]}


async def test_an_idea_becomes_an_opportunity_its_owners_follow_through_with_check_ins(
    api: Api, engine: AsyncEngine, mail: MailSink, topic_reader: Any
) -> None:
    reader = await topic_reader([topics.FEEDBACK])
    before = await collaboration_map(api)
    cohort, pair, a, b = await exchanged_pair(api, "Collaboration")
    org_a, org_b = cohort.organisation[a], cohort.organisation[b]
    key = (min(org_a["code"], org_b["code"]), max(org_a["code"], org_b["code"]))
    tag = uuid.uuid4().hex[:8]
    sponsor_a = (f"spons-a-{tag}", "sponsor", org_a["id"])
    sponsor_b = (f"spons-b-{tag}", "sponsor", org_b["id"])
    stranger = (f"spons-x-{tag}", "sponsor", str(uuid.uuid4()))
    await register_staff(api, "sponsor", sponsor_a[0], f"{sponsor_a[0]}@example.nhs.uk", org_a["id"])
    await register_staff(api, "sponsor", sponsor_b[0], f"{sponsor_b[0]}@example.nhs.uk", org_b["id"])
    await give(api, cohort, pair["id"], a, b, collaboration_ideas=[IDEA])
    await give(api, cohort, pair["id"], b, a)
    await feedback_state(api, cohort, pair, lambda state: bool(state.get("released_at")))

    async def mine(who: Any) -> list[dict[str, Any]]:
        answer = await api.call("GET", "/api/opportunities", who)
        assert answer.status_code == 200, answer.text
        return [o for o in answer.json() if o["pair_id"] == pair["id"]]

    (owned,) = await mine(sponsor_a)
    assert (
        owned["idea"] == IDEA and owned["status"] == "idea" and [c["month"] for c in owned["check_ins"]] == [3, 6, 12]
    )
    (seen_by_board,) = await mine(BOARD)
    assert "idea" not in seen_by_board and "next_step" not in seen_by_board  # the board sees state, not words
    assert await mine(stranger) == []
    path = f"/api/opportunities/{owned['id']}"
    assert (await api.call("GET", path, stranger)).status_code == 404
    assert (await api.call("POST", f"{path}/update", BOARD, {"status": "exploring"})).status_code == 403

    async def update(who: Any, body: dict[str, Any], expected: int) -> Any:
        answer = await api.call("POST", f"{path}/update", who, body)
        assert answer.status_code == expected, answer.text
        return answer

    await update(sponsor_a, {"status": "exploring", "next_step": "Meet the CAMHS lead"}, 202)
    assert "moves forward" in (await update(sponsor_b, {"status": "idea"}, 409)).text
    assert "say why" in (await update(sponsor_b, {"status": "dropped"}, 422)).text
    await update(stranger, {"status": "started"}, 404)

    # The check-ins, with an injected clock: nothing before 3 months; at 3 months one reminder, once.
    async with engine.connect() as c:
        due = dict(
            (
                await c.execute(
                    text("SELECT month, due_at FROM feedback.collaboration_check_in WHERE opportunity_id = :o"),
                    {"o": owned["id"]},
                )
            ).all()
        )
    sessions = async_sessionmaker(engine, expire_on_commit=False)

    async def sweep(at: Any) -> None:
        async with sessions() as s, s.begin():
            await remind_due_check_ins(s, at)

    assert due[6] == add_months(due[3], 3) and due[12] == add_months(due[3], 9)
    await sweep(due[3] - timedelta(seconds=1))
    await sweep(due[3] + timedelta(seconds=1))
    await sweep(due[3] + timedelta(days=1))

    def reminders(address: str) -> list[Any]:
        return [m for m in mail.to(address) if "work closer together" in str(m["Subject"])]

    for sponsor in (sponsor_a, sponsor_b):
        address = f"{sponsor[0]}@example.nhs.uk"

        async def told(address: str = address) -> list[Any]:
            return reminders(address)

        await eventually(told, what="the owners' check-in e-mail")
    await update(sponsor_b, {"status": "started", "update": "A joint pilot in two schools"}, 202)
    (owned,) = await mine(sponsor_a)
    three = owned["check_ins"][0]
    assert owned["status"] == "started" and three["answered_at"] and three["update"] == "A joint pilot in two schools"
    assert three["status"] == "started" and owned["check_ins"][1]["answered_at"] is None

    await update(sponsor_a, {"status": "delivered"}, 202)
    assert "already delivered" in (await update(sponsor_a, {"status": "dropped", "reason": "late"}, 409)).text
    await sweep(due[12] + timedelta(days=1))  # delivered: the 6- and 12-month check-ins ask nothing

    async def on_topic() -> list[dict[str, Any]] | None:
        mine = [
            e
            for e in envelopes(await reader.poll())
            if e["type"].startswith("Collaboration") and e["data"].get("opportunity_id") == owned["id"]
        ]
        done = [e for e in mine if e["data"].get("status") == "delivered"]
        return mine if done else None

    events = await on_topic_or_fail(on_topic)
    due_events = [e for e in events if e["type"] == "CollaborationCheckInDue"]
    assert [e["data"]["month"] for e in due_events] == [3], "one reminder, at 3 months, none once delivered"
    statuses = [e["data"]["status"] for e in events if e["type"] == "CollaborationOpportunityUpdated"]
    assert statuses == ["exploring", "started", "delivered"]
    raw = b"".join(r.value or b"" for r in reader.records)
    assert IDEA.encode() not in raw and b"joint pilot" not in raw and b"CAMHS lead" not in raw

    after = await collaboration_map(api)
    was = before.get(key, {"exchanges": 0, "started": 0, "delivered": 0})
    assert after[key]["exchanges"] - was["exchanges"] == 1
    assert (after[key]["delivered"] - was["delivered"], after[key]["started"] - was["started"]) == (1, 0)
    assert (await api.call("GET", "/api/collaboration/map", sponsor_a)).status_code == 403
    assert (await api.call("GET", "/api/collaboration/map", ADMIN)).status_code == 200


async def on_topic_or_fail(probe: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = await eventually(probe, what="the collaboration events on the feedback topic")
    return found


def link_key(cohort: Any, a: str, b: str) -> tuple[str, str]:
    codes = sorted((cohort.organisation[a]["code"], cohort.organisation[b]["code"]))
    return codes[0], codes[1]


async def test_the_map_of_a_two_cohort_run_links_each_exchange_and_the_work_one_of_them_started(api: Api) -> None:
    """Two cohorts, one exchange each: each adds one exchange to the link between its two
    organisations; the second's idea, moved to started by an owner, adds one started there and
    nothing to the first's link (unless both cohorts paired the same two organisations)."""
    before = await collaboration_map(api)
    first, _, a1, b1 = await exchanged_pair(api, "Map one")
    second, pair, a2, b2 = await exchanged_pair(api, "Map two")
    key1, key2 = link_key(first, a1, b1), link_key(second, a2, b2)
    idea = f"A joint discharge pathway {uuid.uuid4().hex[:8]}"
    await give(api, second, pair["id"], a2, b2, collaboration_ideas=[idea])
    await give(api, second, pair["id"], b2, a2)
    await feedback_state(api, second, pair, lambda state: bool(state.get("released_at")))
    owner = (f"spons-map-{uuid.uuid4().hex[:8]}", "sponsor", second.organisation[a2]["id"])
    await register_staff(api, "sponsor", owner[0], f"{owner[0]}@example.nhs.uk", owner[2])
    listed = await api.call("GET", "/api/opportunities", owner)
    (opportunity,) = [o for o in listed.json() if o["pair_id"] == pair["id"]]
    for status in ("exploring", "started"):
        moved = await api.call("POST", f"/api/opportunities/{opportunity['id']}/update", owner, {"status": status})
        assert moved.status_code == 202, moved.text

    after = await collaboration_map(api)

    def grew(key: tuple[str, str], field: str) -> int:
        return after.get(key, {}).get(field, 0) - before.get(key, {}).get(field, 0)

    if key1 == key2:  # both cohorts paired the same two organisations: one link carries both
        assert (grew(key1, "exchanges"), grew(key1, "started")) == (2, 1)
    else:
        assert (grew(key1, "exchanges"), grew(key1, "started")) == (1, 0)
        assert (grew(key2, "exchanges"), grew(key2, "started")) == (1, 1)
    assert all(grew(k, "exchanges") == 0 for k in after if k not in (key1, key2))
