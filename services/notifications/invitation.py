"""Calendar invitations (RFC 5545 iCalendar, sent as iMIP, RFC 6047): a visit in both people's diaries.

A visit's delivery carries its calendar entry (``domain._visit_messages``: uid, SEQUENCE, REQUEST or
CANCEL, the day); when the e-mail is rendered the entry becomes a ``VCALENDAR`` with one all-day
``VEVENT`` (a visit lasts at most a day), the pair as attendees and the service as organiser, and goes
into the e-mail as a ``text/calendar`` part with its ``method``. A moved visit sends the same UID with a
higher SEQUENCE, which calendar programs apply as an update; a cancelled one ``METHOD:CANCEL``.
Pure, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from email import policy
from email.message import MIMEPart
from typing import Any

from icalendar import Calendar, Event, vCalAddress, vText

PRODID = "-//NHS Beyond Boundaries//Leadership Exchange//EN"
UID_DOMAIN = "beyond-boundaries.nhs.uk"


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

    @classmethod
    def of(cls, entry: dict[str, Any], **rest: Any) -> Invitation:
        """From a delivery's ``calendar`` entry (JSON) and what the e-mail knows of the people."""
        return cls(entry["uid"], int(entry["sequence"]), entry["method"], date.fromisoformat(entry["date"]), **rest)


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
    event.add("dtstart", invitation.day)
    event.add("dtend", invitation.day + timedelta(days=1))
    event.add("summary", invitation.summary)
    if invitation.location:
        event.add("location", invitation.location)
    event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    event.add("transp", "OPAQUE")
    event.add("organizer", _address(invitation.organiser))
    for person in invitation.attendees:
        event.add("attendee", _address(person, ROLE="REQ-PARTICIPANT", PARTSTAT="NEEDS-ACTION", RSVP="FALSE"))
    calendar.add_component(event)
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
