"""Calendar invitations (RFC 5545 iCalendar, sent as iMIP, RFC 6047): a visit or a mentoring meeting in
both people's diaries.

A delivery about one carries its calendar entry (``diary.entry``: uid, SEQUENCE, REQUEST or CANCEL, when);
when the e-mail is rendered the entry becomes a ``VCALENDAR`` with one ``VEVENT`` (a visit all day, as it
lasts at most a day; a meeting from its local start, Europe/London, for its minutes), the pair as
attendees and the service as organiser, and goes into the e-mail as a ``text/calendar`` part with its
``method``. A moved one sends the same UID with a higher SEQUENCE, which calendar programs apply as an
update; a cancelled one ``METHOD:CANCEL``. Pure, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from email import policy
from email.message import MIMEPart
from typing import Any
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event, vCalAddress, vText

PRODID = "-//NHS Beyond Boundaries//Leadership Exchange//EN"
UID_DOMAIN = "beyond-boundaries.nhs.uk"
LOCAL = ZoneInfo("Europe/London")  # the ICS's own time: a meeting's start is local time


@dataclass(frozen=True)
class Attendee:
    name: str
    email: str


@dataclass(frozen=True)
class Invitation:
    uid: str
    sequence: int
    method: str  # REQUEST or CANCEL
    day: date
    summary: str
    location: str
    organiser: Attendee
    attendees: list[Attendee]
    starts_at: time | None = None  # local time; None: all day
    minutes: int = 60

    @classmethod
    def of(cls, entry: dict[str, Any], **rest: Any) -> Invitation:
        """From a delivery's ``calendar`` entry (JSON) and what the e-mail knows of the people."""
        starts = entry.get("starts_at")
        return cls(
            entry["uid"],
            int(entry["sequence"]),
            entry["method"],
            date.fromisoformat(entry["date"]),
            **rest,
            starts_at=time.fromisoformat(starts) if starts else None,
            minutes=int(entry.get("minutes") or 60),
        )


def _address(person: Attendee, **params: str) -> vCalAddress:
    address = vCalAddress(f"mailto:{person.email}")
    address.params["CN"] = vText(person.name)
    for name, value in params.items():
        address.params[name] = vText(value)
    return address


def ics(invitation: Invitation, now: datetime) -> bytes:
    """The iCalendar object of an invitation (CRLF line ends, folded at 75 octets)."""
    cancelled = invitation.method == "CANCEL"
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("method", invitation.method)
    event = Event()
    event.add("uid", f"{invitation.uid}@{UID_DOMAIN}")
    event.add("sequence", invitation.sequence)
    event.add("dtstamp", now)
    if invitation.starts_at is None:
        event.add("dtstart", invitation.day)
        event.add("dtend", invitation.day + timedelta(days=1))
    else:
        starts = datetime.combine(invitation.day, invitation.starts_at, tzinfo=LOCAL)
        event.add("dtstart", starts)
        event.add("dtend", starts + timedelta(minutes=invitation.minutes))
    event.add("summary", invitation.summary)
    if invitation.location:
        event.add("location", invitation.location)
    event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    event.add("transp", "OPAQUE")
    event.add("organizer", _address(invitation.organiser))
    for person in invitation.attendees:
        event.add("attendee", _address(person, ROLE="REQ-PARTICIPANT", PARTSTAT="NEEDS-ACTION", RSVP="FALSE"))
    calendar.add_component(event)
    calendar.add_missing_timezones()  # a VTIMEZONE for Europe/London when a meeting has a start
    return bytes(calendar.to_ical())


def mime_part(invitation: Invitation, now: datetime) -> list[str]:
    """The ``text/calendar`` MIME part (its headers and base64 body) as lines, through the standard
    library's ``email`` package, for ``render.email`` to place among the alternatives."""
    part = MIMEPart(policy=policy.default.clone(linesep="\n"))
    part.set_content(
        ics(invitation, now).decode("utf-8"),
        subtype="calendar",
        charset="utf-8",
        cte="base64",
        params={"method": invitation.method},
    )
    return part.as_string().rstrip("\n").split("\n")
