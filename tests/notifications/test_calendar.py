"""Calendar invitations through the whole stack: a visit scheduled through the gateway reaches both of
the pair as an RFC 5545 invitation; moved, the same UID with a higher SEQUENCE; cancelled, a CANCEL.
Checked by parsing what the SMTP server received; the visit's reminder follows it and stops with it."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from email.message import EmailMessage
from typing import Any

from icalendar import Calendar
from sqlalchemy.ext.asyncio import AsyncEngine

from lbb.mailsink import MailSink
from tests.conftest import Api, eventually
from tests.notifications.flow import (
    Cohort,
    call,
    cohort_of,
    email_of,
    enrol_pair_and_publish,
    fetch_rows,
    ivy_and_jack_shortlisted,
    mail_arrives,
    title,
    visit_day,
)


def invitations(mail: MailSink, address: str, subject: str) -> list[tuple[EmailMessage, Calendar]]:
    """The calendar parts of the e-mails to ``address`` with ``subject``, parsed."""
    found = []
    for message in mail.to(address):
        if message["Subject"] != subject:
            continue
        (part,) = [p for p in message.walk() if p.get_content_type() == "text/calendar"]
        assert isinstance(part, EmailMessage)
        found.append((part, Calendar.from_ical(part.get_content())))
    return found


def the_event(calendar: Calendar) -> Any:
    (event,) = calendar.walk("VEVENT")
    return event


async def test_a_visit_sends_an_invitation_to_both_an_update_when_moved_and_a_cancel_when_cancelled(
    api: Api, mail: MailSink, engine: AsyncEngine, cohort: Cohort
) -> None:
    ivy, jack = await ivy_and_jack_shortlisted(api, cohort)
    pair = await enrol_pair_and_publish(api, cohort)

    first_day, second_day = visit_day(20), visit_day(27)
    scheduled = await api.call(
        "POST", f"/api/pairs/{pair['id']}/visits", ivy.who, {"host_fellow_id": ivy.id, "date": first_day}
    )
    assert scheduled.status_code == 201, scheduled.text
    visit_id = scheduled.json()["id"]
    for person in (ivy, jack):
        await mail_arrives(mail, person.email, title("visit_scheduled"))
    uids = set()
    for person in (ivy, jack):
        ((part, calendar),) = invitations(mail, person.email, title("visit_scheduled"))
        assert part.get_param("method") == "REQUEST" == str(calendar["method"])
        event = the_event(calendar)
        uids.add(str(event["uid"]))
        assert event["sequence"] == 0 and event.decoded("dtstart") == date.fromisoformat(first_day)
        assert {str(a) for a in event["attendee"]} == {f"mailto:{ivy.email}", f"mailto:{jack.email}"}
        assert {str(a.params["CN"]) for a in event["attendee"]} == {"Ivy", "Jack"}
        assert "hosted by Ivy" in str(event["summary"])
    assert uids == {f"{visit_id}@beyond-boundaries.nhs.uk"}, "both hold the one visit"

    # the reminder to mark it complete is set for the visit's day ...
    async def due_dates() -> set[datetime]:
        rows = await fetch_rows(
            engine,
            "SELECT due_at, status FROM notifications.reminder WHERE subject_id = :s AND status = 'pending'",
            s=visit_id,
        )
        return {r.due_at for r in rows}

    def two_days_after(day: str) -> datetime:
        return datetime.combine(date.fromisoformat(day), time(9), tzinfo=UTC) + timedelta(days=2)

    async def reminded_for(day: str) -> bool:
        return await due_dates() == {two_days_after(day)}

    await eventually(lambda: reminded_for(first_day), 30, "the visit's reminders")

    moved = await api.call("POST", f"/api/visits/{visit_id}/move", jack.who, {"date": second_day})
    assert moved.status_code == 202, moved.text
    again = await api.call("POST", f"/api/visits/{visit_id}/move", jack.who, {"date": second_day})
    assert again.status_code == 409, again.text  # already on that day: nothing to update
    for person in (ivy, jack):
        await mail_arrives(mail, person.email, title("visit_moved"))
        ((part, calendar),) = invitations(mail, person.email, title("visit_moved"))
        event = the_event(calendar)
        assert part.get_param("method") == "REQUEST" and str(event["uid"]) in uids
        assert event["sequence"] == 1 and event.decoded("dtstart") == date.fromisoformat(second_day)
    # ... and follows it to its new day
    await eventually(lambda: reminded_for(second_day), 30, "the reminder to follow the visit")

    outsider = await api.call("POST", f"/api/visits/{visit_id}/cancel", ("someone-else", "applicant"), {})
    assert outsider.status_code == 404, outsider.text
    cancelled = await api.call("POST", f"/api/visits/{visit_id}/cancel", ivy.who, {})
    assert cancelled.status_code == 202, cancelled.text
    for person in (ivy, jack):
        await mail_arrives(mail, person.email, title("visit_cancelled"))
        ((part, calendar),) = invitations(mail, person.email, title("visit_cancelled"))
        event = the_event(calendar)
        assert part.get_param("method") == "CANCEL" == str(calendar["method"])
        assert str(event["uid"]) in uids and event["sequence"] == 2 and str(event["status"]) == "CANCELLED"
        assert event.decoded("dtstart") == date.fromisoformat(second_day)

    async def no_reminder_left() -> bool:
        return await due_dates() == set()

    await eventually(no_reminder_left, 30, "the cancelled visit's reminders to be settled")
    gone = await api.call("POST", f"/api/visits/{visit_id}/complete", ivy.who, {})
    assert gone.status_code == 404, gone.text
    # the host's visit can be scheduled again: a new visit, a new invitation
    rescheduled = await api.call(
        "POST", f"/api/pairs/{pair['id']}/visits", ivy.who, {"host_fellow_id": ivy.id, "date": first_day}
    )
    assert rescheduled.status_code == 201, rescheduled.text
    await mail_arrives(mail, jack.email, title("visit_scheduled"), count=2)
    fresh = {str(the_event(c)["uid"]) for _, c in invitations(mail, jack.email, title("visit_scheduled"))}
    assert fresh == uids | {f"{rescheduled.json()['id']}@beyond-boundaries.nhs.uk"}


async def test_a_mentoring_meeting_in_the_diary_invites_both_at_its_local_time_and_follows_its_changes(
    api: Api, mail: MailSink
) -> None:
    _, _, who = await cohort_of(api, "mentoring", {"RC9": {"role": "mentor", "capacity": 1}, "RYE": {"role": "mentee"}})
    (pair,) = await call(api, "GET", "/api/pairs/mine", who["RYE"])
    day, later = visit_day(10), visit_day(12)
    path = f"/api/pairs/{pair['id']}/meetings/planned"
    await call(api, "POST", path, who["RYE"], {"date": visit_day(-1), "starts_at": "10:00"}, 422)  # the past
    await call(api, "POST", path, ("nobody-" + pair["id"][:8], "applicant"), {"date": day, "starts_at": "10:00"}, 404)
    meeting = (await call(api, "POST", path, who["RYE"], {"date": day, "starts_at": "10:30", "minutes": 45}, 201))["id"]
    planned = await call(api, "GET", f"/api/pairs/{pair['id']}/meetings", who["RC9"])
    assert [(m["id"], m["date"], m["starts_at"]) for m in planned["planned"]] == [(meeting, day, "10:30:00")]

    def event_of(address: str, subject: str) -> Any:
        ((part, calendar),) = invitations(mail, address, subject)
        assert str(calendar["method"]) == part.get_param("method")
        return the_event(calendar)

    people = [email_of(who["RC9"]), email_of(who["RYE"])]
    for address in people:
        await mail_arrives(mail, address, title("meeting_planned"))
        event = event_of(address, title("meeting_planned"))
        assert str(event["uid"]) == f"{meeting}@beyond-boundaries.nhs.uk" and event["sequence"] == 0
        starts = event.decoded("dtstart")
        assert starts.date() == date.fromisoformat(day) and (starts.hour, starts.minute) == (10, 30)
        assert event["dtstart"].params["TZID"] == "Europe/London"
        assert (event.decoded("dtend") - starts) == timedelta(minutes=45)
        assert {str(a) for a in event["attendee"]} == {f"mailto:{p}" for p in people}

    await call(api, "POST", f"/api/meetings/{meeting}/move", who["RC9"], {"date": later, "starts_at": "09:00"}, 202)
    await call(api, "POST", f"/api/meetings/{meeting}/move", who["RC9"], {"date": later, "starts_at": "09:00"}, 409)
    for address in people:
        await mail_arrives(mail, address, title("meeting_moved"))
        event = event_of(address, title("meeting_moved"))
        assert str(event["uid"]) == f"{meeting}@beyond-boundaries.nhs.uk" and event["sequence"] == 1
        assert event.decoded("dtstart").date() == date.fromisoformat(later) and event.decoded("dtstart").hour == 9

    await call(api, "POST", f"/api/meetings/{meeting}/cancel", who["RYE"], {}, 202)
    await call(api, "POST", f"/api/meetings/{meeting}/cancel", who["RYE"], {}, 404)
    for address in people:
        await mail_arrives(mail, address, title("meeting_cancelled"))
        event = event_of(address, title("meeting_cancelled"))
        assert (event["sequence"], str(event["status"])) == (2, "CANCELLED")
        assert event.decoded("dtstart").date() == date.fromisoformat(later)
    assert (await call(api, "GET", f"/api/pairs/{pair['id']}/meetings", who["RC9"]))["planned"] == []
