"""The reminder scheduler: fires due reminders into deliveries, once, whatever runs how often.

Reminders are rows (set and settled by the event handlers in their inbox transaction), so a
restart loses nothing. Firing locks due rows with ``FOR UPDATE SKIP LOCKED`` and marks them
``fired`` in the same transaction that records the delivery; the delivery's key is the
reminder's deterministic id, so even a second instance that somehow saw the same row could not
record a second delivery. Time comes from a clock the caller passes: tests fire with a "now"
weeks ahead instead of waiting.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable, Collection
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.notifications import domain, store
from services.notifications.models import Reminder

log = logging.getLogger(__name__)

PENDING = "pending"
FIRED = "fired"
SETTLED = "settled"


async def plan(session: AsyncSession, plans: list[domain.ReminderPlan], now: datetime) -> None:
    for p in plans:
        await session.execute(
            insert(Reminder)
            .values(
                id=p.id,
                kind=p.kind,
                subject_id=p.subject_id,
                recipient_id=p.recipient_id,
                due_at=p.due_at,
                status=PENDING,
                context=p.context,
                created_at=now,
            )
            .on_conflict_do_nothing(index_elements=["kind", "subject_id", "recipient_id"])
        )


async def settle(session: AsyncSession, settled: list[domain.ReminderSettled], now: datetime) -> None:
    """Stop reminders from firing; a reminder settled before it was planned stays settled."""
    for s in settled:
        for recipient in s.recipient_ids:
            stmt = insert(Reminder).values(
                id=domain.reminder_id(s.kind, s.subject_id, recipient),
                kind=s.kind,
                subject_id=s.subject_id,
                recipient_id=recipient,
                due_at=now,
                status=SETTLED,
                context={},
                created_at=now,
            )
            await session.execute(
                stmt.on_conflict_do_update(
                    index_elements=["kind", "subject_id", "recipient_id"],
                    set_={"status": SETTLED},
                    where=Reminder.status == PENDING,
                )
            )


async def fire_due(
    session: AsyncSession, now: datetime, *, limit: int = 100, subjects: Collection[uuid.UUID] | None = None
) -> int:
    """Turn due reminders into deliveries (muted ones into in-app-only deliveries); return how many.

    ``subjects`` limits firing to reminders about those pairs, visits or feedback (tests use it to
    fire their own reminders with a future ``now`` on a shared database).
    """
    query = (
        select(Reminder)
        .where(Reminder.status == PENDING, Reminder.due_at <= now)
        .order_by(Reminder.due_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    if subjects is not None:
        query = query.where(Reminder.subject_id.in_(list(subjects)))
    due = (await session.scalars(query)).all()
    for reminder in due:
        message = domain.reminder_message(reminder.kind, reminder.recipient_id, dict(reminder.context))
        await store.record(session, event_id=reminder.id, event_type="Reminder", message=message, now=now)
        reminder.status, reminder.fired_at = FIRED, now
    return len(due)


class ReminderScheduler:
    def __init__(
        self,
        sessions: Callable[[], async_sessionmaker[AsyncSession]],
        clock: Callable[[], datetime],
        poll_interval_s: float = 60.0,
    ) -> None:
        self.sessions = sessions
        self.clock = clock
        self.poll_interval_s = poll_interval_s
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def run_once(self) -> int:
        fired = 0
        while True:
            async with self.sessions()() as s, s.begin():
                n = await fire_due(s, self.clock())
            fired += n
            if n < 100:
                return fired

    async def run(self) -> None:
        while not self._stop.is_set():
            try:
                fired = await self.run_once()
                if fired:
                    log.info("fired %d reminders", fired)
            except Exception:
                log.exception("firing reminders failed; will try again")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), timeout=self.poll_interval_s)

    def start(self) -> None:
        self._task = asyncio.create_task(self.run(), name="notifications-reminders")

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            await self._task
