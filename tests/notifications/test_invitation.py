"""A visit's calendar invitation: an RFC 5545 object in a ``text/calendar`` part that calendar programs
read as an invitation, an update (same UID, higher SEQUENCE) or a cancellation. Pure: the e-mail is
built and parsed back here; tests/notifications/test_calendar.py checks what the SMTP server received."""

from __future__ import annotations

from datetime import UTC, date, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage

from icalendar import Calendar

from services.notifications.invitation import Attendee, Invitation, ics, mime_part
from services.notifications.render import Page, Person, email, render

NOW = datetime(2027, 1, 10, 12, tzinfo=UTC)
ZOE = Attendee("Zoë Ó Dálaigh", "zoe@example.nhs.uk")
BOB = Attendee("Bob O'Neil", "bob@example.nhs.uk")
ORGANISER = Attendee("Beyond Boundaries", "no-reply@example.nhs.uk")


def invitation(method: str = "REQUEST", sequence: int = 0) -> Invitation:
    entry = {"uid": "6f1c1c9e-0000-4000-8000-000000000001", "sequence": sequence, "method": method}
    return Invitation.of(
        entry | {"date": "2027-03-04"},
        summary="Leadership Exchange visit hosted by Bob O'Neil",
        location="Luton Borough Council",
        organiser=ORGANISER,
        attendees=[ZOE, BOB],
    )


def parsed(raw: bytes) -> tuple[EmailMessage, Calendar]:
    message = message_from_bytes(raw, policy=policy.default)
    assert isinstance(message, EmailMessage)
    assert not message.defects and all(not part.defects for part in message.walk())
    (part,) = [p for p in message.walk() if p.get_content_type() == "text/calendar"]
    assert isinstance(part, EmailMessage)
    return part, Calendar.from_ical(part.get_content())


def test_an_invitation_is_an_all_day_event_with_both_people_as_attendees() -> None:
    calendar = Calendar.from_ical(ics(invitation(), NOW))
    assert str(calendar["method"]) == "REQUEST" and str(calendar["version"]) == "2.0"
    (event,) = calendar.walk("VEVENT")
    assert str(event["uid"]) == "6f1c1c9e-0000-4000-8000-000000000001@beyond-boundaries.nhs.uk"
    assert event["sequence"] == 0 and str(event["status"]) == "CONFIRMED"
    assert event.decoded("dtstart") == date(2027, 3, 4) and event.decoded("dtend") == date(2027, 3, 5)
    assert event.decoded("dtstamp") == NOW
    assert str(event["location"]) == "Luton Borough Council"
    assert str(event["organizer"]) == "mailto:no-reply@example.nhs.uk"
    attendees = {str(a): str(a.params["CN"]) for a in event["attendee"]}
    assert attendees == {"mailto:zoe@example.nhs.uk": "Zoë Ó Dálaigh", "mailto:bob@example.nhs.uk": "Bob O'Neil"}


def test_a_meeting_starts_at_its_local_time_and_lasts_its_minutes() -> None:
    entry = {"uid": "m-1", "sequence": 0, "method": "REQUEST", "date": "2027-07-01", "starts_at": "10:30"}
    meeting = Invitation.of(
        entry | {"minutes": 45}, summary="Mentoring meeting", location="", organiser=ORGANISER, attendees=[ZOE, BOB]
    )
    calendar = Calendar.from_ical(ics(meeting, NOW))
    (event,) = calendar.walk("VEVENT")
    starts, ends = event.decoded("dtstart"), event.decoded("dtend")
    assert starts.astimezone(UTC) == datetime(2027, 7, 1, 9, 30, tzinfo=UTC)  # British Summer Time
    assert (ends - starts).total_seconds() == 45 * 60
    assert event["dtstart"].params["TZID"] == "Europe/London"
    assert [str(tz["tzid"]) for tz in calendar.walk("VTIMEZONE")] == ["Europe/London"]


def test_the_email_carries_the_invitation_as_a_text_calendar_alternative_with_its_method() -> None:
    rendered = render("visit_scheduled", Page("t", Person("Zoë"), {"date": "2027-03-04", "hosting": True}))
    for method, sequence, status in (("REQUEST", 1, "CONFIRMED"), ("CANCEL", 2, "CANCELLED")):
        raw = email(
            rendered,
            sender="lbb@example.nhs.uk",
            to=("Zoë", "zoe@example.nhs.uk"),
            message_id="<d@x>",
            when=NOW,
            calendar=mime_part(invitation(method, sequence), NOW),
        )
        assert raw.isascii()
        part, calendar = parsed(raw)
        assert part.get_param("method") == method and part.get_content_charset() == "utf-8"
        assert str(calendar["method"]) == method
        (event,) = calendar.walk("VEVENT")
        assert (event["sequence"], str(event["status"])) == (sequence, status)
        message = message_from_bytes(raw, policy=policy.default)
        assert isinstance(message, EmailMessage)
        text_part = message.get_body(("plain",))
        assert message.get_content_type() == "multipart/alternative"
        assert text_part is not None and "You are hosting" in text_part.get_content()
