"""Mentoring over months (seed 002 Mentoring for Diversity, seed 004 reciprocal mentoring): the rules
and the transaction scripts of a mentoring pair's life after it is matched.

An agreement (goals, how often to meet), meetings logged by either of the pair (date, minutes, notes
the pair alone reads), a check-in at 3 and at 6 months from each ("is it working?", 1-5, a private
comment), and closure: each closes with a reflection, and when both have, the relationship ends and
feedback on the leadership dimensions opens (``ExchangeCompleted``, as after an exchange). The board
sees progress in aggregate (``cohort_progress``): meetings per pair, check-ins answered, never a note,
a comment or a reflection. Integration events carry dates, counts and ids only.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.pairing.commands import my_pair
from services.pairing.models import Agreement, CheckIn, Closure, Meeting, MeetingPlan, Pair, outbox
from shared import events as ev
from shared.disclosure import BASE, rounded
from shared.errors import Conflict, Invalid
from shared.views import view

KIND = "mentoring"


async def _mentoring_pair(s: AsyncSession, pair_id: uuid.UUID, mine: Iterable[uuid.UUID]) -> tuple[Pair, uuid.UUID]:
    """The published mentoring pair (locked) and which of its fellows the caller is; 404 for anyone else."""
    found = await my_pair(s, pair_id, mine, KIND, "this pair is not a mentoring pair")
    return found.pair, found.me


def _still_open(pair: Pair) -> None:
    if pair.completed_at is not None:
        raise Conflict("this mentoring relationship is closed")


async def agree(
    s: AsyncSession, pair_id: uuid.UUID, mine: Iterable[uuid.UUID], goals: list[str], every_weeks: int, by: str
) -> None:
    pair, _ = await _mentoring_pair(s, pair_id, mine)
    _still_open(pair)
    now = datetime.now(UTC)
    values = {"goals": goals, "meet_every_weeks": every_weeks, "agreed_by": by, "agreed_at": now}
    upsert = insert(Agreement).values(pair_id=pair.id, **values)
    await s.execute(upsert.on_conflict_do_update(index_elements=["pair_id"], set_=values))
    await outbox.add(s, ev.MentoringAgreed(pair_id=pair.id, meet_every_weeks=every_weeks, agreed_at=now))


async def log_meeting(
    s: AsyncSession, pair_id: uuid.UUID, mine: Iterable[uuid.UUID], day: date, minutes: int, notes: str | None
) -> uuid.UUID:
    pair, me = await _mentoring_pair(s, pair_id, mine)
    _still_open(pair)
    if day > datetime.now(UTC).date():
        raise Invalid("date: log a meeting once it has happened")
    meeting = Meeting(
        id=uuid.uuid4(), pair_id=pair.id, date=day, minutes=minutes, notes=notes, logged_by=me,
        created_at=datetime.now(UTC),
    )  # fmt: skip
    s.add(meeting)
    await s.flush()
    await outbox.add(s, ev.MentoringMeetingLogged(pair_id=pair.id, meeting_id=meeting.id, date=day, minutes=minutes))
    return meeting.id


async def meetings(s: AsyncSession, pair_id: uuid.UUID, mine: Iterable[uuid.UUID]) -> dict[str, Any]:
    """The pair's agreement and meetings, notes included: for the two of them alone. With which check-ins
    the caller has answered and who has closed (the answers and reflections themselves stay private)."""
    pair, me = await _mentoring_pair(s, pair_id, mine)
    agreement = await s.get(Agreement, pair.id)
    rows = (await s.scalars(select(Meeting).where(Meeting.pair_id == pair.id).order_by(Meeting.date))).all()
    answered = select(CheckIn.month).where(CheckIn.pair_id == pair.id, CheckIn.fellow_id == me)
    closed_by = select(Closure.fellow_id).where(Closure.pair_id == pair.id)
    return {
        "pair_id": pair.id,
        "agreement": view(agreement, "goals meet_every_weeks agreed_at") if agreement else None,
        "meetings": [view(m, "id date minutes notes logged_by") for m in rows],
        "my_check_ins": sorted((await s.scalars(answered)).all()),
        "closed_by": sorted(str(f) for f in (await s.scalars(closed_by)).all()),
        "planned": [
            view(m, "id date starts_at minutes planned_by")
            for m in (
                await s.scalars(
                    select(MeetingPlan)
                    .where(MeetingPlan.pair_id == pair.id)
                    .order_by(MeetingPlan.date, MeetingPlan.starts_at)
                )
            ).all()
        ],
        "closed": pair.completed_at is not None,
    }


async def check_in(
    s: AsyncSession, pair_id: uuid.UUID, mine: Iterable[uuid.UUID], month: int, working: int, comment: str | None
) -> None:
    pair, me = await _mentoring_pair(s, pair_id, mine)
    _still_open(pair)
    if await s.get(CheckIn, (pair.id, month, me)) is not None:
        raise Conflict(f"you have answered the {month}-month check-in")
    now = datetime.now(UTC)
    s.add(CheckIn(pair_id=pair.id, month=month, fellow_id=me, working=working, comment=comment, answered_at=now))
    await s.flush()
    await outbox.add(s, ev.MentoringCheckInAnswered(pair_id=pair.id, month=month, fellow_id=me, answered_at=now))


async def close(s: AsyncSession, pair_id: uuid.UUID, mine: Iterable[uuid.UUID], reflection: str) -> bool:
    """The caller closes with a reflection; True when both have, and the relationship ends (feedback opens)."""
    pair, me = await _mentoring_pair(s, pair_id, mine)
    _still_open(pair)
    if await s.get(Closure, (pair.id, me)) is not None:
        raise Conflict("you have closed this relationship; your partner has not yet")
    now = datetime.now(UTC)
    s.add(Closure(pair_id=pair.id, fellow_id=me, reflection=reflection, closed_at=now))
    await s.flush()
    closed = await s.scalar(select(func.count()).where(Closure.pair_id == pair.id))
    if (closed or 0) < len(pair.fellow_ids):
        return False
    pair.completed_at = now
    fellow_ids = [uuid.UUID(f) for f in pair.fellow_ids]
    await outbox.add(
        s,
        ev.MentoringClosed(pair_id=pair.id, cohort_id=pair.cohort_id, closed_at=now),
        ev.ExchangeCompleted(pair_id=pair.id, cohort_id=pair.cohort_id, fellow_ids=fellow_ids, completed_at=now),
    )
    return True


async def cohort_progress(s: AsyncSession, cohort_id: uuid.UUID) -> dict[str, Any]:
    """The board's view of a mentoring cohort: counts, rounded to 5 with small numbers hidden where they
    count people; never a note, a comment or a reflection."""
    pairs = (await s.scalars(select(Pair).where(Pair.cohort_id == cohort_id, Pair.published_at.is_not(None)))).all()
    ids = [p.id for p in pairs]
    meeting_counts = dict(
        (
            await s.execute(
                select(Meeting.pair_id, func.count()).where(Meeting.pair_id.in_(ids)).group_by(Meeting.pair_id)
            )
        )
        .tuples()
        .all()
    )
    minutes = await s.scalar(select(func.coalesce(func.sum(Meeting.minutes), 0)).where(Meeting.pair_id.in_(ids)))
    answers = dict(
        (await s.execute(select(CheckIn.month, func.count()).where(CheckIn.pair_id.in_(ids)).group_by(CheckIn.month)))
        .tuples()
        .all()
    )
    agreed = await s.scalar(select(func.count()).where(Agreement.pair_id.in_(ids)))
    met = sum(1 for p in ids if meeting_counts.get(p))
    enough = len(ids) >= BASE  # a mean over fewer pairs would tell one pair's story
    return {
        "cohort_id": cohort_id,
        "pairs": rounded(len(ids)),
        "pairs_with_an_agreement": rounded(agreed or 0),
        "pairs_that_have_met": rounded(met),
        "meetings_per_pair": round(sum(meeting_counts.values()) / len(ids), 1) if enough else None,
        "minutes_per_pair": round(int(minutes or 0) / len(ids)) if enough else None,
        "check_ins_answered": {str(m): rounded(answers.get(m, 0)) for m in (3, 6)},
        "closed": rounded(sum(1 for p in pairs if p.completed_at is not None)),
    }
