"""Mentoring meetings in the diary: either of a mentoring pair plans one (a day from today, a local start
time, how long), moves it or cancels it; the notifications service sends both of them the calendar
invitation, its update or its cancellation. What the meeting is about never travels; once it has
happened it is logged as before (``mentoring.log_meeting``). Transaction scripts, like ``commands``."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import UTC, date, datetime, time

from sqlalchemy.ext.asyncio import AsyncSession

from services.pairing.commands import my_pair
from services.pairing.mentoring import KIND
from services.pairing.models import MeetingPlan, outbox
from shared import events as ev
from shared.errors import Conflict, Invalid, NotFound


def _ahead(day: date) -> None:
    if day < datetime.now(UTC).date():
        raise Invalid("date: plan a meeting from today on (log one that has happened)")


async def _open_pair(s: AsyncSession, pair_id: uuid.UUID, mine: Iterable[uuid.UUID]) -> uuid.UUID:
    """The caller's fellow in the open mentoring pair; 404 for anyone else, 409 once closed."""
    found = await my_pair(s, pair_id, mine, KIND, "this pair is not a mentoring pair")
    if found.pair.completed_at is not None:
        raise Conflict("this mentoring relationship is closed")
    return found.me


async def _plan_of(s: AsyncSession, meeting_id: uuid.UUID, mine: Iterable[uuid.UUID]) -> MeetingPlan:
    plan = await s.get(MeetingPlan, meeting_id, with_for_update=True)
    if plan is None:
        raise NotFound("no such planned meeting")
    await _open_pair(s, plan.pair_id, mine)
    return plan


async def plan(
    s: AsyncSession, pair_id: uuid.UUID, mine: Iterable[uuid.UUID], day: date, starts_at: time, minutes: int
) -> uuid.UUID:
    me = await _open_pair(s, pair_id, mine)
    _ahead(day)
    meeting = MeetingPlan(
        id=uuid.uuid4(), pair_id=pair_id, date=day, starts_at=starts_at, minutes=minutes, planned_by=me,
        created_at=datetime.now(UTC),
    )  # fmt: skip
    s.add(meeting)
    await s.flush()
    planned = ev.MentoringMeetingPlanned(
        pair_id=pair_id, meeting_id=meeting.id, date=day, starts_at=starts_at, minutes=minutes
    )
    await outbox.add(s, planned)
    return meeting.id


async def move(s: AsyncSession, meeting_id: uuid.UUID, mine: Iterable[uuid.UUID], day: date, starts_at: time) -> None:
    meeting = await _plan_of(s, meeting_id, mine)
    _ahead(day)
    if (meeting.date, meeting.starts_at) == (day, starts_at):
        raise Conflict("the meeting is already then")
    meeting.date, meeting.starts_at = day, starts_at
    moved = ev.MentoringMeetingMoved(
        pair_id=meeting.pair_id, meeting_id=meeting.id, date=day, starts_at=starts_at, minutes=meeting.minutes,
        moved_at=datetime.now(UTC),
    )  # fmt: skip
    await outbox.add(s, moved)


async def cancel(s: AsyncSession, meeting_id: uuid.UUID, mine: Iterable[uuid.UUID]) -> None:
    meeting = await _plan_of(s, meeting_id, mine)
    await s.delete(meeting)
    cancelled = ev.MentoringMeetingCancelled(
        pair_id=meeting.pair_id, meeting_id=meeting.id, cancelled_at=datetime.now(UTC)
    )
    await outbox.add(s, cancelled)
