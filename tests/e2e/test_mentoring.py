"""Mentoring for diversity and reciprocal mentoring (seeds 002, 004) through the gateway: one mentor
takes two mentees of other organisations; a pair agrees goals, logs meetings whose notes only the two of
them read, answers its check-ins and closes with reflections, after which feedback opens. The board
sees counts, never a note, a comment or a reflection; nor does any integration topic."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from shared import topics
from tests import flows
from tests.conftest import Api, eventually
from tests.e2e.test_shadowing import join, pairs_of

MARK = uuid.uuid4().hex[:10]
NOTE, COMMENT, REFLECTION = f"note-{MARK}", f"comment-{MARK}", f"reflection-{MARK}"


async def test_a_mentoring_pair_meets_checks_in_and_closes_and_the_board_sees_only_counts(
    api: Api, topic_reader: Any
) -> None:
    reader = await topic_reader(list(topics.INTEGRATION_TOPICS))
    orgs = await flows.organisations(api)
    body = {
        "programme": "Mentoring for Diversity",
        "name": f"Mentoring {uuid.uuid4().hex[:6]}",
        "capacity": 10,
        "kind": "mentoring",
    }
    created = await api.call("POST", "/api/cohorts", flows.ADMIN, body | {"reciprocal": True, "auto_enrol": True})
    assert created.status_code == 201, created.text
    cohort_id = created.json()["id"]
    mentor, mentor_who = await join(api, cohort_id, orgs, "RC9", {"role": "mentor", "capacity": 2})
    a, a_who = await join(api, cohort_id, orgs, "RD8", {"role": "mentee"})
    b, b_who = await join(api, cohort_id, orgs, "RYE", {"role": "mentee"})
    assert (await api.call("POST", f"/api/cohorts/{cohort_id}/pairing", flows.BOARD, {})).status_code == 202
    pairs = await pairs_of(api, cohort_id, 2)
    assert all(mentor in p["fellow_ids"] and sorted(p["roles"].values()) == ["mentee", "mentor"] for p in pairs)
    assert (await api.call("POST", f"/api/cohorts/{cohort_id}/pairs/publish", flows.BOARD, {})).status_code == 202
    pairs = await pairs_of(api, cohort_id, 2, published=True)
    ours = next(p for p in pairs if a in p["fellow_ids"])["id"]
    theirs = next(p for p in pairs if b in p["fellow_ids"])["id"]

    async def call(method: str, path: str, who: Any, body: Any = None, expected: int = 200) -> Any:
        answer = await api.call(method, path, who, body)
        assert answer.status_code == expected, answer.text
        return answer.json()

    today = datetime.now(UTC).date().isoformat()
    agreement = {"goals": ["Lead a cross-boundary project"], "meet_every_weeks": 4}
    await call("POST", f"/api/pairs/{ours}/agreement", a_who, agreement, 202)
    await call("POST", f"/api/pairs/{ours}/meetings", a_who, {"date": today, "minutes": 45, "notes": NOTE}, 201)
    await call("POST", f"/api/pairs/{ours}/meetings", mentor_who, {"date": today, "minutes": 30}, 201)
    seen = await call("GET", f"/api/pairs/{ours}/meetings", mentor_who)
    assert [m["notes"] for m in seen["meetings"]] == [NOTE, None] and seen["agreement"]["meet_every_weeks"] == 4
    await call("GET", f"/api/pairs/{ours}/meetings", b_who, expected=404)  # another pair's mentee
    await call("GET", f"/api/pairs/{theirs}/meetings", a_who, expected=404)
    await call("GET", f"/api/pairs/{ours}/meetings", flows.BOARD, expected=403)  # the board never reads notes
    await call("POST", f"/api/pairs/{ours}/meetings", a_who, {"date": "2999-01-01", "minutes": 30}, 422)
    await call("POST", f"/api/pairs/{ours}/check-ins", a_who, {"month": 3, "working": 4, "comment": COMMENT}, 201)
    await call("POST", f"/api/pairs/{ours}/check-ins", a_who, {"month": 3, "working": 5}, 409)
    await call("POST", f"/api/pairs/{ours}/check-ins", a_who, {"month": 4, "working": 5}, 422)

    progress = await call("GET", f"/api/cohorts/{cohort_id}/mentoring", flows.BOARD)
    assert progress["pairs_with_an_agreement"] == "<5" and progress["check_ins_answered"]["3"] == "<5"
    assert progress["meetings_per_pair"] is None  # two pairs: a mean would tell one pair's story
    assert MARK not in str(progress)
    report = await call("GET", f"/api/cohorts/{cohort_id}/report", flows.BOARD)  # the same counts, in the report
    assert report["programme"] == {
        "kind": "mentoring",
        "mentoring": {k: v for k, v in progress.items() if k != "cohort_id"},
    }

    assert (await call("POST", f"/api/pairs/{ours}/close", a_who, {"reflection": REFLECTION}, 202))["closed"] is False
    await call("POST", f"/api/pairs/{ours}/close", a_who, {"reflection": "again"}, 409)
    assert (await call("POST", f"/api/pairs/{ours}/close", mentor_who, {"reflection": "Thank you"}, 202))["closed"]
    await call("POST", f"/api/pairs/{ours}/meetings", a_who, {"date": today, "minutes": 30}, 409)

    async def feedback_open() -> dict[str, Any] | None:
        answer = await api.call("GET", f"/api/pairs/{ours}/feedback", a_who)
        state: dict[str, Any] = answer.json() if answer.status_code == 200 else {}
        return state if state.get("due_at") else None

    await eventually(feedback_open, timeout_s=60, what="feedback to open once both have closed")

    async def closed_on_topic() -> list[Any] | None:
        records = await reader.poll()
        done = [r for r in records if b"MentoringClosed" in (r.value or b"") and ours.encode() in (r.value or b"")]
        return records if done else None

    records = await eventually(closed_on_topic, what="MentoringClosed on the pairing topic")
    raw = b"".join(r.value or b"" for r in records)
    assert b"MentoringMeetingLogged" in raw and b"MentoringCheckInAnswered" in raw
    assert MARK.encode() not in raw and b"Lead a cross-boundary project" not in raw, "free text on a topic"
