"""The new schemes' notifications through the whole stack, with time injected instead of waited for:
mentoring check-ins at 3 and 6 months to both of the pair until each answers, a project milestone a week
before it is due until it is done, and in shadowing the learner's thank-you reaching the sharer, whose
words stay with pairing (never on a topic, never in the e-mail)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from lbb.mailsink import MailSink
from services.notifications.commands import fire_due
from services.notifications.reminders import check_in_subject
from shared import topics
from tests import flows
from tests.conftest import Api, envelopes, eventually
from tests.notifications.flow import call, cohort_of, email_of, fetch_rows, mail_arrives, subjects, text_of, title

MARK = uuid.uuid4().hex[:10]


async def reminders_of(engine: AsyncEngine, *subject_ids: uuid.UUID | str) -> list[Any]:
    return await fetch_rows(
        engine,
        "SELECT kind, subject_id, recipient_id, status, due_at, context FROM notifications.reminder"
        " WHERE subject_id = ANY(CAST(:s AS uuid[])) ORDER BY kind, recipient_id",
        s=[str(s) for s in subject_ids],
    )


async def fire(engine: AsyncEngine, now: datetime, *subject_ids: uuid.UUID | str) -> int:
    async with async_sessionmaker(engine, expire_on_commit=False)() as s, s.begin():
        return await fire_due(s, now, subjects={uuid.UUID(str(i)) for i in subject_ids})


async def test_mentoring_check_ins_remind_both_at_3_and_6_months_until_each_has_answered(
    api: Api, mail: MailSink, engine: AsyncEngine
) -> None:
    _, fellow, who = await cohort_of(
        api, "mentoring", {"RC9": {"role": "mentor", "capacity": 1}, "RD8": {"role": "mentee"}}
    )
    (pair,) = await call(api, "GET", "/api/pairs/mine", who["RC9"])
    agreed_at = datetime.now(UTC)
    await call(
        api, "POST", f"/api/pairs/{pair['id']}/agreement", who["RD8"], {"goals": ["g"], "meet_every_weeks": 4}, 202
    )
    three, six = check_in_subject(uuid.UUID(pair["id"]), 3), check_in_subject(uuid.UUID(pair["id"]), 6)

    async def planned() -> list[Any]:
        rows = await reminders_of(engine, three, six)
        return rows if len(rows) == 8 else []

    rows = await eventually(planned, 60, "two check-ins and their second asks, for both of the pair")
    assert {(r.kind, str(r.recipient_id)) for r in rows} == {
        (kind, fellow[code]) for kind in ("mentoring_check_in", "mentoring_check_in_again") for code in ("RC9", "RD8")
    }
    three_months = min(r.due_at for r in rows if r.subject_id == three)
    assert timedelta(days=89) < three_months - agreed_at < timedelta(days=93)

    # agreeing again (the latest word stands) keeps the check-ins of the first agreement
    again = {"goals": ["g", "h"], "meet_every_weeks": 2}
    await call(api, "POST", f"/api/pairs/{pair['id']}/agreement", who["RC9"], again, 202)
    # the mentee answers at 3 months: their reminders of that month stop, the mentor's stay
    await call(api, "POST", f"/api/pairs/{pair['id']}/check-ins", who["RD8"], {"month": 3, "working": 4}, 201)

    async def mentee_settled() -> bool:
        mine = [r for r in await reminders_of(engine, three) if str(r.recipient_id) == fellow["RD8"]]
        return [r.status for r in mine] == ["settled", "settled"]

    await eventually(mentee_settled, 60, "the mentee's 3-month reminders to be settled")
    # (one pair's events arrive in order: the second agreement was handled before the answer)
    assert {(r.kind, r.recipient_id, r.due_at) for r in await reminders_of(engine, three, six)} == {
        (r.kind, r.recipient_id, r.due_at) for r in rows
    }
    assert await fire(engine, three_months + timedelta(days=1), three, six) == 1
    mentor, mentee = email_of(who["RC9"]), email_of(who["RD8"])
    await mail_arrives(mail, mentor, title("reminder_mentoring_check_in"))
    (reminder,) = [m for m in mail.to(mentor) if m["Subject"] == title("reminder_mentoring_check_in")]
    assert "3 months into your mentoring with Person RD8: is it working?" in text_of(reminder)
    # two weeks on, still unanswered: asked once more
    assert await fire(engine, three_months + timedelta(days=15), three, six) == 1
    await mail_arrives(mail, mentor, title("reminder_mentoring_check_in"), count=2)
    assert title("reminder_mentoring_check_in") not in subjects(mail, mentee)

    # closing the relationship stops the 6-month ones
    await call(api, "POST", f"/api/pairs/{pair['id']}/close", who["RD8"], {"reflection": "thanks"}, 202)
    await call(api, "POST", f"/api/pairs/{pair['id']}/close", who["RC9"], {"reflection": "thanks"}, 202)

    async def all_settled() -> bool:
        return {r.status for r in await reminders_of(engine, six)} == {"settled"}

    await eventually(all_settled, 60, "closure to settle the 6-month check-ins")
    assert await fire(engine, three_months + timedelta(days=400), three, six) == 0


async def test_a_project_milestone_reminds_both_a_week_before_it_is_due_unless_done(
    api: Api, mail: MailSink, engine: AsyncEngine
) -> None:
    _, _, who = await cohort_of(
        api, "paired_learning", {"RC9": {"staff_group": "clinical"}, "RYE": {"staff_group": "non_clinical"}}
    )
    (pair,) = await call(api, "GET", "/api/pairs/mine", who["RC9"])
    path = f"/api/pairs/{pair['id']}/project"
    await call(api, "POST", path, who["RC9"], {"title": "Discharge", "aim": "a", "measure": "m"}, 201)
    due = (datetime.now(UTC) + timedelta(days=30)).date()
    early = (
        await call(api, "POST", f"{path}/milestones", who["RYE"], {"title": "Baseline", "due": due.isoformat()}, 201)
    )["id"]
    later = (await call(api, "POST", f"{path}/milestones", who["RC9"], {"title": "Test", "due": due.isoformat()}, 201))[
        "id"
    ]

    async def planned() -> list[Any]:
        rows = await reminders_of(engine, early, later)
        return rows if len(rows) == 4 else []

    rows = await eventually(planned, 60, "a reminder of each milestone for both fellows")
    assert {r.due_at.date() for r in rows} == {due - timedelta(days=7)}
    await call(api, "POST", f"{path}/milestones/{later}/done", who["RYE"], {}, 202)

    async def done_settled() -> bool:
        return {r.status for r in await reminders_of(engine, later)} == {"settled"}

    await eventually(done_settled, 60, "the done milestone's reminders to be settled")
    assert await fire(engine, datetime.now(UTC) + timedelta(days=24), early, later) == 2
    for code in ("RC9", "RYE"):
        await mail_arrives(mail, email_of(who[code]), title("reminder_milestone_due"))
        assert subjects(mail, email_of(who[code])).count(title("reminder_milestone_due")) == 1
    (message,) = [m for m in mail.to(email_of(who["RC9"])) if m["Subject"] == title("reminder_milestone_due")]
    assert f"due by {due.day} {due:%B %Y}" in text_of(message) and "Person RYE" in text_of(message)


async def test_the_learners_reflection_thanks_the_sharer_and_its_words_stay_with_the_pair(
    api: Api, mail: MailSink, topic_reader: Any
) -> None:
    reader = await topic_reader(list(topics.INTEGRATION_TOPICS))
    _, fellow, who = await cohort_of(
        api,
        "shadowing",
        {"RC9": {"role": "sharer", "capacity": 1, "offer": {"summary": "A day on the wards", "tags": []}},
         "RYE": {"role": "learner"}},
    )  # fmt: skip
    (pair,) = await call(api, "GET", "/api/pairs/mine", who["RYE"])
    sharer, learner, outsider = who["RC9"], who["RYE"], ("outsider-" + MARK, "applicant")
    reflection = {"learnt": f"learnt {MARK}", "take_back": f"idea {MARK}"}
    path = f"/api/pairs/{pair['id']}/reflection"
    await call(api, "POST", path, learner, reflection, 409)  # not before the visit
    today = datetime.now(UTC).date().isoformat()
    visit = await call(
        api, "POST", f"/api/pairs/{pair['id']}/visits", learner, {"host_fellow_id": fellow["RC9"], "date": today}, 201
    )
    await call(api, "POST", f"/api/visits/{visit['id']}/complete", sharer, {}, 202)
    await call(api, "POST", path, sharer, reflection, 409)  # the learner reflects, the sharer reads
    await call(api, "POST", path, outsider, reflection, 404)
    await call(api, "POST", path, learner, reflection, 201)
    await call(api, "POST", path, learner, reflection, 409)  # once

    read = await call(api, "GET", path, sharer)
    assert read["reflection"]["learnt"] == reflection["learnt"]
    assert read["reflection"]["take_back"] == reflection["take_back"]
    assert read["reflection"]["learner_id"] == fellow["RYE"]
    assert (await call(api, "GET", path, learner))["reflection"]["learnt"] == reflection["learnt"]
    await call(api, "GET", path, outsider, expected=404)
    await call(api, "GET", path, flows.BOARD, expected=403)

    await mail_arrives(mail, email_of(sharer), title("reflection_shared"))
    (thanks,) = [m for m in mail.to(email_of(sharer)) if m["Subject"] == title("reflection_shared")]
    assert "Person RYE" in text_of(thanks) and "has thanked you" in text_of(thanks) and "/staff/pair" in text_of(thanks)
    assert MARK not in str(thanks), "the e-mail says that they thanked, not what they wrote"
    assert title("reflection_shared") not in subjects(mail, email_of(learner))

    async def shared_on_topic() -> list[dict[str, Any]]:
        seen = envelopes(await reader.poll())
        return [e for e in seen if e["type"] == "ShadowingReflectionShared" and e["subject"] == pair["id"]]

    (event,) = await eventually(shared_on_topic, 60, "ShadowingReflectionShared on the pairing topic")
    assert event["data"]["sharer_id"] == fellow["RC9"] and event["data"]["learner_id"] == fellow["RYE"]
    assert MARK.encode() not in b"".join(r.value or b"" for r in reader.records), "a reflection's words on a topic"
