"""Blind mutual release: when every partner has submitted, or when the due date has passed.

``release_pair`` runs in the caller's transaction (an HTTP submission or a scheduler sweep) and
writes FeedbackReleased and CollaborationOpportunityIdentified to the outbox with the state change.
``release_overdue`` is one sweep of the scheduler; ``ReleaseScheduler`` runs it every few seconds
inside the service. Its state lives in the database (``exchange_pair.due_at`` / ``released_at``),
so a restarted service simply carries on, and several instances never release a pair twice
(rows are claimed with ``FOR UPDATE SKIP LOCKED``). Time comes from an injectable clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.feedback import domain
from services.feedback.models import CollaborationOpportunity, ExchangePair, Feedback, FeedbackRequest, Fellow, outbox
from shared import events as ev

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    return datetime.now(UTC)


async def organisations_of(s: AsyncSession, fellow_ids: list[uuid.UUID]) -> dict[uuid.UUID, Fellow]:
    rows = (await s.scalars(select(Fellow).where(Fellow.id.in_(fellow_ids)))).all()
    return {f.id: f for f in rows}


async def given_pairs(s: AsyncSession, pair_id: uuid.UUID) -> set[tuple[uuid.UUID, uuid.UUID]]:
    """(giver, receiver) of every feedback submitted in a pair."""
    rows = await s.execute(select(Feedback.from_fellow_id, Feedback.to_fellow_id).where(Feedback.pair_id == pair_id))
    return {(giver, receiver) for giver, receiver in rows}


async def release_pair(s: AsyncSession, pair: ExchangePair, now: datetime, reason: str) -> int:
    """Release every unreleased feedback of a (locked) pair; returns how many were released.

    Each collaboration idea of a released feedback becomes a CollaborationOpportunity linking the
    giver's and the receiver's organisations. When the deadline forced the release, the requests
    nobody answered are recorded as missing.
    """
    if pair.released_at is not None:
        return 0
    pair.released_at = now
    pair.release_reason = reason
    given = (await s.scalars(select(Feedback).where(Feedback.pair_id == pair.id, Feedback.released_at.is_(None)))).all()
    fellows = await organisations_of(s, [uuid.UUID(f) for f in pair.fellow_ids])
    for f in given:
        f.released_at = now
        await outbox.add(
            s,
            ev.FeedbackReleased(
                feedback_id=f.id,
                pair_id=pair.id,
                to_fellow_id=f.to_fellow_id,
                strengths=f.strengths,
                top_strengths=f.top_strengths,
                released_at=now,
            ),
        )
        linked = [fellows[x] for x in (f.from_fellow_id, f.to_fellow_id) if x in fellows]
        organisation_ids = list(dict.fromkeys(x.organisation_id for x in linked))
        for idea in f.collaboration_ideas:
            opportunity = CollaborationOpportunity(
                id=uuid.uuid4(),
                pair_id=pair.id,
                feedback_id=f.id,
                idea=idea,
                organisation_codes=list(dict.fromkeys(x.organisation_code for x in linked)),
                organisation_ids=[str(o) for o in organisation_ids],
                created_at=now,
            )
            s.add(opportunity)
            await outbox.add(
                s,
                ev.CollaborationOpportunityIdentified(
                    opportunity_id=opportunity.id,
                    pair_id=pair.id,
                    organisation_ids=organisation_ids,
                    identified_at=now,
                ),
            )
    if reason == domain.DEADLINE:
        requests = (
            await s.scalars(
                select(FeedbackRequest).where(FeedbackRequest.pair_id == pair.id, FeedbackRequest.missing_at.is_(None))
            )
        ).all()
        answered = await given_pairs(s, pair.id)
        for r in requests:
            if (r.from_fellow_id, r.to_fellow_id) not in answered:
                r.missing_at = now
    await s.flush()
    return len(given)


async def release_overdue(
    s: AsyncSession, now: datetime, limit: int = 100, cohort_id: uuid.UUID | None = None
) -> list[uuid.UUID]:
    """One scheduler sweep: release the pairs (of one cohort, or all) whose due date has passed."""
    query = (
        select(ExchangePair)
        .where(ExchangePair.released_at.is_(None), ExchangePair.due_at.is_not(None), ExchangePair.due_at <= now)
        .order_by(ExchangePair.due_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    if cohort_id is not None:
        query = query.where(ExchangePair.cohort_id == cohort_id)
    pairs = (await s.scalars(query)).all()
    for pair in pairs:
        released = await release_pair(s, pair, now, domain.DEADLINE)
        log.info("pair %s passed its due date: released %d feedback", pair.id, released)
    return [p.id for p in pairs]


class ReleaseScheduler:
    """Sweeps for overdue pairs every ``interval_s`` seconds until stopped."""

    def __init__(
        self,
        transaction: Callable[[], AbstractAsyncContextManager[AsyncSession]],
        *,
        clock: Clock = system_clock,
        interval_s: float = 30.0,
    ) -> None:
        self.transaction = transaction
        self.clock = clock
        self.interval_s = interval_s
        self._task: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()

    async def sweep(self) -> list[uuid.UUID]:
        async with self.transaction() as s:
            return await release_overdue(s, self.clock())

    async def _run(self) -> None:
        while not self._stop.is_set():
            try:
                await self.sweep()
            except Exception:
                log.exception("the feedback release sweep failed; trying again in %.0fs", self.interval_s)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self.interval_s)

    def start(self) -> None:
        self._stop.clear()
        self._task = asyncio.create_task(self._run(), name="feedback-release-scheduler")

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            await self._task
            self._task = None

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        self.start()
        try:
            yield
        finally:
            await self.stop()
