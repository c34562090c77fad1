"""Reminders: set by events, settled by what they ask for, fired once however many schedulers run,
with time injected instead of waited for; a person can mute them, never the essential messages."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from lbb.mailsink import MailSink
from services.notifications.commands import fire_due
from tests.conftest import Api, eventually
from tests.notifications.flow import (
    Cohort,
    enrol_pair_and_publish,
    fetch_rows,
    ivy_and_jack_shortlisted,
    mail_arrives,
    subjects,
    title,
    visit_day,
)


async def reminder_rows(engine: AsyncEngine, subject_id: str) -> list[Any]:
    return await fetch_rows(
        engine,
        "SELECT id, kind, recipient_id, status, due_at FROM notifications.reminder"
        " WHERE subject_id = :s ORDER BY recipient_id",
        s=subject_id,
    )


async def delivery_status(engine: AsyncEngine, event_id: uuid.UUID) -> list[str]:
    found = await fetch_rows(engine, "SELECT status FROM notifications.delivery WHERE event_id = :e", e=event_id)
    return [r.status for r in found]


async def test_reminders_fire_once_however_many_schedulers_run_and_muted_ones_are_not_emailed(
    api: Api, mail: MailSink, engine: AsyncEngine, cohort: Cohort
) -> None:
    ivy, jack = await ivy_and_jack_shortlisted(api, cohort)

    muted = await api.call("PUT", "/api/notifications/preferences", ivy.who, {"mute_reminders": True})
    assert muted.status_code == 200 and muted.json() == {"mute_reminders": True}
    assert (await api.call("GET", "/api/notifications/preferences", ivy.who)).json() == {"mute_reminders": True}
    assert (await api.call("GET", "/api/notifications/preferences", jack.who)).json() == {"mute_reminders": False}

    pair = await enrol_pair_and_publish(api, cohort)

    async def planned() -> list[Any]:
        rows = await reminder_rows(engine, pair["id"])
        return rows if len(rows) == 2 else []

    rows = await planned() or await eventually(planned, 60, "a visit reminder for each fellow")
    assert {r.kind for r in rows} == {"visit_unscheduled"} and {r.status for r in rows} == {"pending"}

    # three schedulers at once, three weeks and a day later
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    later = datetime.now(UTC) + timedelta(days=22)

    async def fire(now: datetime, subject: str) -> int:
        async with sessions() as s, s.begin():
            return await fire_due(s, now, subjects={uuid.UUID(subject)})

    assert sum(await asyncio.gather(*(fire(later, pair["id"]) for _ in range(3)))) == 2
    assert sum(await asyncio.gather(fire(later, pair["id"]), fire(later + timedelta(days=30), pair["id"]))) == 0

    await mail_arrives(mail, jack.email, title("reminder_schedule_visit"))
    reminder_to = {r.recipient_id: r.id for r in rows}
    assert await delivery_status(engine, reminder_to[uuid.UUID(ivy.id)]) == ["muted"]

    async def recorded_sent() -> bool:
        return await delivery_status(engine, reminder_to[uuid.UUID(jack.id)]) == ["sent"]

    await eventually(recorded_sent, 30, "Jack's reminder to be recorded as sent")
    # muted means not e-mailed: the essential pair assignment still went to Ivy, the reminder did not
    await mail_arrives(mail, ivy.email, title("pair_assigned"))
    assert title("reminder_schedule_visit") not in subjects(mail, ivy.email)
    assert subjects(mail, jack.email).count(title("reminder_schedule_visit")) == 1
    (text_,) = [m for m in mail.to(jack.email) if m["Subject"] == title("reminder_schedule_visit")]
    assert "visit you host for Ivy" in " ".join(str(text_.get_body(("plain",)).get_content()).split())  # type: ignore[union-attr]
    inbox = (await api.call("GET", "/api/notifications", ivy.who)).json()
    assert [n["status"] for n in inbox if n["template"] == "reminder_schedule_visit"] == ["muted"]

    # visits: Jack's is completed (its reminder is settled), Ivy's is not (its reminder stays)
    visit_ids = {}
    for host, days in ((jack, 20), (ivy, 25)):
        scheduled = await api.call(
            "POST", f"/api/pairs/{pair['id']}/visits", host.who, {"host_fellow_id": host.id, "date": visit_day(days)}
        )
        assert scheduled.status_code == 201, scheduled.text
        visit_ids[host.key] = scheduled.json()["id"]
    completed = await api.call("POST", f"/api/visits/{visit_ids[jack.key]}/complete", jack.who, {})
    assert completed.status_code == 202, completed.text

    async def settled() -> bool:
        done = await reminder_rows(engine, visit_ids[jack.key])
        waiting = await reminder_rows(engine, visit_ids[ivy.key])
        return [r.status for r in done] == ["settled", "settled"] and [r.status for r in waiting] == [
            "pending",
            "pending",
        ]

    await eventually(settled, 60, "the completed visit's reminders to be settled")
    assert await fire(later + timedelta(days=60), visit_ids[jack.key]) == 0

    # the service's own scheduler, on real time: make Ivy's visit reminders due now
    async with engine.begin() as c:
        await c.execute(
            text("UPDATE notifications.reminder SET due_at = now() - interval '1 minute' WHERE subject_id = :s"),
            {"s": visit_ids[ivy.key]},
        )
    await mail_arrives(mail, jack.email, title("reminder_complete_visit"))

    async def fired() -> bool:
        return [r.status for r in await reminder_rows(engine, visit_ids[ivy.key])] == ["fired", "fired"]

    await eventually(fired, 30, "the in-service scheduler to fire both reminders")
    assert subjects(mail, jack.email).count(title("reminder_complete_visit")) == 1
    assert title("reminder_complete_visit") not in subjects(mail, ivy.email)
