"""What goes in a pair's diary: visits and mentoring meetings, planned, moved or cancelled, each one
calendar entry (its uid is the visit's or the meeting's id) that every change revises. Pure, no I/O:
``commands.revise_calendar`` keeps each entry's revision, ``domain.messages_for`` tells the pair with the
entry, and ``invitation.py`` turns it into the RFC 5545 invitation the e-mail carries."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

from shared import events as ev

VisitEvent = ev.ExchangeVisitScheduled | ev.ExchangeVisitMoved | ev.ExchangeVisitCancelled
MeetingEvent = ev.MentoringMeetingPlanned | ev.MentoringMeetingMoved | ev.MentoringMeetingCancelled
CalendarEvent = VisitEvent | MeetingEvent
CANCELLATIONS = (ev.ExchangeVisitCancelled, ev.MentoringMeetingCancelled)
FIRST = (ev.ExchangeVisitScheduled, ev.MentoringMeetingPlanned)

TEMPLATES = {
    "ExchangeVisitScheduled": "visit_scheduled",
    "ExchangeVisitMoved": "visit_moved",
    "ExchangeVisitCancelled": "visit_cancelled",
    "MentoringMeetingPlanned": "meeting_planned",
    "MentoringMeetingMoved": "meeting_moved",
    "MentoringMeetingCancelled": "meeting_cancelled",
}


@dataclass(frozen=True)
class When:
    """When an entry is: a day (a visit lasts the day), or a start (local, Europe/London) and a length."""

    day: date
    starts_at: time | None = None
    minutes: int | None = None


@dataclass(frozen=True)
class Revision:
    """An entry as it stands after an event: its revision (RFC 5545 ``SEQUENCE``: 0 when first put in
    the diary, one more at each change) and when it is (a cancelled entry keeps when it was)."""

    sequence: int
    when: When


def uid(event: CalendarEvent) -> uuid.UUID:
    return event.visit_id if isinstance(event, VisitEvent) else event.meeting_id


def when(event: CalendarEvent) -> When | None:
    """When the event puts the entry; None for a cancellation (the entry keeps its time)."""
    if isinstance(event, CANCELLATIONS):
        return None
    if isinstance(event, VisitEvent):
        return When(event.date)
    return When(event.date, event.starts_at, event.minutes)


def entry(event: CalendarEvent, revision: Revision) -> dict[str, Any]:
    """What a delivery keeps of the entry (JSON), for its e-mail's calendar part."""
    at = revision.when
    return {
        "uid": str(uid(event)),
        "sequence": revision.sequence,
        "method": "CANCEL" if isinstance(event, CANCELLATIONS) else "REQUEST",
        "date": at.day.isoformat(),
        "starts_at": at.starts_at.isoformat(timespec="minutes") if at.starts_at else None,
        "minutes": at.minutes,
    }


def unrevised(event: CalendarEvent, now: datetime) -> Revision:
    """The revision of an entry first put in the diary by ``event`` (what the commands store)."""
    return Revision(0, when(event) or When(now.date()))
