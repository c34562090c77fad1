"""A fellow's exchange visits: scheduling one (the host and its date inside the cohort's window; in
shadowing the sharer alone hosts), moving it to another day or cancelling it before it is complete (the
notifications service updates or cancels its calendar invitation), and completing it, which completes
the exchange once every host has (in shadowing, the sharer). Transaction scripts, like ``commands``;
refusals are ``shared.errors``."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import UTC, date, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.pairing import domain
from services.pairing.commands import MyPair, my_pair
from services.pairing.models import (
    Visit,
    outbox,
)
from shared import events as ev
from shared.errors import Conflict, Invalid, NotFound


async def schedule_visit(
    s: AsyncSession,
    pair_id: uuid.UUID,
    mine: Iterable[uuid.UUID],
    host_fellow_id: uuid.UUID,
    day: date,
    scheduled_by: str,
) -> uuid.UUID:
    """A fellow of the pair schedules the visit one of them hosts; the visit's id."""
    found = await my_pair(s, pair_id, mine)
    pair, pairing_round = found.pair, found.round
    if str(host_fellow_id) not in pair.fellow_ids:
        raise Invalid("host_fellow_id must be a fellow of this pair")
    refused = domain.host_problem(pairing_round.kind, pair.roles, host_fellow_id)
    if refused:
        raise Conflict(refused)
    problem = domain.visit_date_problem(day, pairing_round.exchange_starts, pairing_round.exchange_ends)
    if problem:
        raise Invalid(problem)
    existing = await s.scalar(select(Visit.id).where(Visit.pair_id == pair.id, Visit.host_fellow_id == host_fellow_id))
    if existing is not None:
        raise Conflict("this fellow already hosts a visit of this pair", visit_id=str(existing))
    visit = Visit(
        id=uuid.uuid4(),
        pair_id=pair.id,
        host_fellow_id=host_fellow_id,
        date=day,
        scheduled_by=scheduled_by,
        created_at=datetime.now(UTC),
    )
    s.add(visit)
    await s.flush()
    await outbox.add(
        s, ev.ExchangeVisitScheduled(visit_id=visit.id, pair_id=pair.id, host_fellow_id=host_fellow_id, date=day)
    )
    return visit.id


async def _open_visit(s: AsyncSession, visit_id: uuid.UUID, mine: Iterable[uuid.UUID]) -> tuple[Visit, MyPair]:
    """A visit of the caller's pair (locked), not yet complete; 404 for anyone else's, 409 once complete."""
    visit = await s.get(Visit, visit_id, with_for_update=True)
    if visit is None:
        raise NotFound("no such visit")
    found = await my_pair(s, visit.pair_id, mine)
    if visit.completed_at is not None:
        raise Conflict("this visit is already complete")
    return visit, found


async def move_visit(s: AsyncSession, visit_id: uuid.UUID, mine: Iterable[uuid.UUID], day: date) -> None:
    """A fellow of the pair moves a visit that has not happened to another day inside the window."""
    visit, found = await _open_visit(s, visit_id, mine)
    problem = domain.visit_date_problem(day, found.round.exchange_starts, found.round.exchange_ends)
    if problem:
        raise Invalid(problem)
    if day == visit.date:
        raise Conflict(f"the visit is already on {day.isoformat()}")
    visit.date = day
    moved = ev.ExchangeVisitMoved(
        visit_id=visit.id, pair_id=visit.pair_id, host_fellow_id=visit.host_fellow_id, date=day,
        moved_at=datetime.now(UTC),
    )  # fmt: skip
    await outbox.add(s, moved)


async def cancel_visit(s: AsyncSession, visit_id: uuid.UUID, mine: Iterable[uuid.UUID]) -> None:
    """A fellow of the pair cancels a visit that has not happened; the host's visit may be scheduled again."""
    visit, _ = await _open_visit(s, visit_id, mine)
    await s.delete(visit)
    cancelled = ev.ExchangeVisitCancelled(
        visit_id=visit.id, pair_id=visit.pair_id, host_fellow_id=visit.host_fellow_id, cancelled_at=datetime.now(UTC)
    )
    await outbox.add(s, cancelled)


async def complete_visit(s: AsyncSession, visit_id: uuid.UUID, mine: Iterable[uuid.UUID]) -> None:
    """A fellow of the pair completes a visit; the exchange completes (once) when every fellow has hosted."""
    visit, found = await _open_visit(s, visit_id, mine)
    pair = found.pair
    now = datetime.now(UTC)
    visit.completed_at = now
    caused: list[ev.Event] = [
        ev.ExchangeVisitCompleted(
            visit_id=visit.id, pair_id=pair.id, host_fellow_id=visit.host_fellow_id, completed_at=now
        )
    ]
    await s.flush()
    completed = select(Visit.host_fellow_id).where(Visit.pair_id == pair.id, Visit.completed_at.is_not(None))
    hosts = set((await s.scalars(completed)).all())
    fellow_ids = [uuid.UUID(f) for f in pair.fellow_ids]
    if pair.completed_at is None and domain.exchange_complete(fellow_ids, hosts, pair.roles, found.round.kind):
        pair.completed_at = now
        caused.append(
            ev.ExchangeCompleted(pair_id=pair.id, cohort_id=pair.cohort_id, fellow_ids=fellow_ids, completed_at=now)
        )
    await outbox.add(s, *caused)
