"""Blind mutual release through the gateway: both submitted, a trio, the deadline; who may read what."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from lbb.devstack import Stack
from services.feedback.commands import release_overdue
from shared import topics
from tests.conftest import Api, envelopes, eventually
from tests.feedback.flow import cohort_with_pairs, complete_exchange, exchanged_pair, feedback_body, give
from tests.flows import BOARD


async def released_about(api: Api, who: tuple[str, str], fellow_id: str) -> list[dict[str, Any]]:
    answer = await api.call("GET", f"/api/fellows/{fellow_id}/feedback", who)
    assert answer.status_code == 200, answer.text
    result: list[dict[str, Any]] = answer.json()
    return result


async def test_feedback_is_released_only_when_both_partners_have_submitted_and_only_to_its_recipient(
    api: Api,
) -> None:
    cohort = await cohort_with_pairs(api, 2)
    (pair,) = cohort.pairs
    a, b = pair["fellow_ids"]
    alice, bob = cohort.who[a], cohort.who[b]

    early = await api.call("POST", f"/api/pairs/{pair['id']}/feedback", alice, feedback_body(b))
    assert early.status_code == 409 and "exchange is complete" in early.json()["detail"]
    await complete_exchange(api, cohort, pair)

    # readable validation errors, and only about a partner
    too_few = await api.call(
        "POST", f"/api/pairs/{pair['id']}/feedback", alice, feedback_body(b, strengths={"leading_with_care": 5})
    )
    assert too_few.status_code == 422 and "at least 3" in too_few.json()["detail"]
    unrated = await api.call("POST", f"/api/pairs/{pair['id']}/feedback", alice, feedback_body(b, strengths={}))
    assert unrated.status_code == 422 and "at least 3" in unrated.json()["detail"], "ratings optional only in shadowing"
    wrong_top = await api.call(
        "POST", f"/api/pairs/{pair['id']}/feedback", alice, feedback_body(b, top_strengths=["sharing_the_vision"])
    )
    assert wrong_top.status_code == 422 and "among the dimensions you rated" in wrong_top.json()["detail"]
    about_self = await api.call("POST", f"/api/pairs/{pair['id']}/feedback", alice, feedback_body(a))
    assert about_self.status_code == 422 and "partner" in about_self.json()["detail"]
    outsider = (f"outsider-{cohort.id}", "applicant")
    assert (await api.call("POST", f"/api/pairs/{pair['id']}/feedback", outsider, feedback_body(b))).status_code == 404

    given = await give(api, cohort, pair["id"], a, b, narrative="First draft.", top_strengths=["leading_with_care"])
    again = await api.call("POST", f"/api/pairs/{pair['id']}/feedback", alice, feedback_body(b))
    assert again.status_code == 409 and again.json()["feedback_id"] == given["id"]

    # blind: nobody sees anything yet, not even the board
    assert await released_about(api, bob, b) == []
    assert await released_about(api, alice, a) == []
    assert await released_about(api, BOARD, b) == []
    # a fellow never reads feedback about someone else
    assert (await api.call("GET", f"/api/fellows/{b}/feedback", alice)).status_code == 404

    # the giver corrects within the edit window; only the giver can
    correction = {
        "strengths": {"leading_with_care": 5, "engaging_the_team": 5, "evaluating_information": 4},
        "top_strengths": ["engaging_the_team"],
        "narrative": "Corrected: generous with her time.",
        "collaboration_ideas": ["Shared discharge huddle"],
    }
    corrected = await api.call("PUT", f"/api/pairs/{pair['id']}/feedback/{given['id']}", alice, correction)
    assert corrected.status_code == 202, corrected.text
    not_mine = await api.call("PUT", f"/api/pairs/{pair['id']}/feedback/{given['id']}", bob, correction)
    assert not_mine.status_code == 404
    mine = (await api.call("GET", f"/api/pairs/{pair['id']}/feedback", alice)).json()
    assert mine["still_due"] == [] and mine["given"][0]["narrative"] == "Corrected: generous with her time."
    assert (await api.call("GET", f"/api/pairs/{pair['id']}/feedback", bob)).json()["still_due"] == [a]

    await give(api, cohort, pair["id"], b, a, narrative="Asked the questions nobody else asked.")

    about_b = await released_about(api, bob, b)
    assert [(f["from_fellow_id"], f["narrative"]) for f in about_b] == [(a, "Corrected: generous with her time.")]
    assert about_b[0]["strengths"] == correction["strengths"] and about_b[0]["top_strengths"] == ["engaging_the_team"]
    about_a = await released_about(api, alice, a)
    assert [f["narrative"] for f in about_a] == ["Asked the questions nobody else asked."]
    assert about_a[0]["top_strengths"] == ["leading_with_care"], "by default the best-rated dimension"
    assert len(await released_about(api, BOARD, a)) == 1
    assert (await api.call("GET", f"/api/fellows/{a}/feedback", bob)).status_code == 404

    late = await api.call("PUT", f"/api/pairs/{pair['id']}/feedback/{given['id']}", alice, correction)
    assert late.status_code == 409 and "released" in late.json()["detail"]


async def test_a_trio_is_released_only_when_all_six_feedbacks_are_in(api: Api) -> None:
    cohort = await cohort_with_pairs(api, 3, name="Trio")
    (trio,) = cohort.pairs
    assert len(trio["fellow_ids"]) == 3
    await complete_exchange(api, cohort, trio)
    fellows = trio["fellow_ids"]
    order = [(x, y) for x in fellows for y in fellows if x != y]
    for giver, receiver in order[:-1]:
        await give(api, cohort, trio["id"], giver, receiver)
    for f in fellows:
        assert await released_about(api, cohort.who[f], f) == []
    giver, receiver = order[-1]
    await give(api, cohort, trio["id"], giver, receiver)
    for f in fellows:
        assert sorted(x["from_fellow_id"] for x in await released_about(api, cohort.who[f], f)) == sorted(
            set(fellows) - {f}
        )


async def test_at_the_due_date_what_was_submitted_is_released_and_the_missing_one_recorded(
    api: Api, engine: AsyncEngine, topic_reader: Any
) -> None:
    cohort, pair, a, b = await exchanged_pair(api, "Deadline")
    given = await give(api, cohort, pair["id"], a, b)
    state = (await api.call("GET", f"/api/pairs/{pair['id']}/feedback", cohort.who[a])).json()
    async with engine.connect() as c:
        due = (
            await c.execute(text("SELECT due_at FROM feedback.exchange_pair WHERE id = :p"), {"p": pair["id"]})
        ).scalar_one()
    assert state["due_at"] and state["released_at"] is None

    # The scheduler's sweep with an injected clock: a second before the due date nothing moves, after it
    # the submitted feedback is released and the missing one recorded.
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    cohort_id = uuid.UUID(cohort.id)
    async with sessions() as s, s.begin():
        assert await release_overdue(s, due - timedelta(seconds=1), cohort_id=cohort_id) == []
    async with sessions() as s, s.begin():
        assert await release_overdue(s, due + timedelta(seconds=1), cohort_id=cohort_id) == [uuid.UUID(pair["id"])]
    async with sessions() as s, s.begin():
        assert await release_overdue(s, due + timedelta(days=1), cohort_id=cohort_id) == [], "released once"

    about_b = await released_about(api, cohort.who[b], b)
    assert [f["id"] for f in about_b] == [given["id"]]
    assert await released_about(api, cohort.who[a], a) == []
    late = await api.call("POST", f"/api/pairs/{pair['id']}/feedback", cohort.who[b], feedback_body(a))
    assert late.status_code == 409
    async with engine.connect() as c:
        missing = (
            await c.execute(
                text(
                    "SELECT from_fellow_id::text, to_fellow_id::text FROM feedback.feedback_request"
                    " WHERE pair_id = :p AND missing_at IS NOT NULL"
                ),
                {"p": pair["id"]},
            )
        ).all()
        reason = (
            await c.execute(text("SELECT release_reason FROM feedback.exchange_pair WHERE id = :p"), {"p": pair["id"]})
        ).scalar_one()
    assert [tuple(m) for m in missing] == [(b, a)] and reason == "deadline"

    # the service's relay publishes what the sweep wrote to its outbox
    reader = await topic_reader([topics.FEEDBACK])

    async def released_event() -> list[dict[str, Any]]:
        events = envelopes(await reader.poll())
        return [e for e in events if e["type"] == "FeedbackReleased" and e["subject"] == pair["id"]]

    (event,) = await eventually(released_event, what="FeedbackReleased for the overdue pair")
    assert event["data"]["feedback_id"] == given["id"] and event["data"]["to_fellow_id"] == b


async def test_a_due_date_that_passed_while_the_service_was_down_is_honoured_when_it_starts(
    api: Api, engine: AsyncEngine, stack: Stack
) -> None:
    cohort, pair, a, b = await exchanged_pair(api, "Restart")
    given = await give(api, cohort, pair["id"], b, a)

    service = stack.processes["feedback"]
    service.stop()
    try:
        async with engine.begin() as c:  # time passes while the service is down
            await c.execute(
                text("UPDATE feedback.exchange_pair SET due_at = now() - interval '1 minute' WHERE id = :p"),
                {"p": pair["id"]},
            )
    finally:
        service.start()

    async def released() -> list[dict[str, Any]] | None:
        answer = await api.call("GET", f"/api/fellows/{a}/feedback", cohort.who[a])
        found: list[dict[str, Any]] = answer.json() if answer.status_code == 200 else []
        return found or None

    about_a = await eventually(released, timeout_s=90, what="the restarted scheduler to release the overdue pair")
    assert [f["id"] for f in about_a] == [given["id"]]
