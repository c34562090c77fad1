"""The service's background loops: the delivery worker, which e-mails recorded deliveries at most
once per (event, recipient), and the reminder scheduler, which fires due reminders into deliveries.

The delivery worker drives the steps of ``sending.py`` (claim, hand over, record, recover), each in a
transaction of its own, with up to ``concurrency`` sends in flight. Hand-overs and ``sent`` records
are written by one writer: every hand-over waiting when it starts goes into one statement, and the
sent records wait (up to ``record_delay_s``) for the next claim's transaction to carry them (one
UPDATE and one outbox insert for all), so under load many sends cost one transaction, not one each.
A sender waits until its hand-over is committed before DATA. Woken by a new delivery (the
after-commit hook of ``commands.record``), the worker lingers ``claim_linger_s`` so that one claim
takes several rows.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.notifications import commands, sending
from services.notifications.mailer import Abandoned, Mailer, NotDelivered, Uncertain
from services.notifications.sending import Job
from services.notifications.settings import DeliveryConfig
from shared.clock import utcnow
from shared.worker import Worker

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
Sessions = Callable[[], async_sessionmaker[AsyncSession]]


@dataclass
class _HandOver:
    """A hand-over waiting for the writer; ``done`` says whether the row was still ours to hand over."""

    job: Job
    done: asyncio.Future[bool] = field(default_factory=lambda: asyncio.get_running_loop().create_future())


class DeliveryWorker:
    def __init__(self, sessions: Sessions, mailer: Mailer, config: DeliveryConfig, clock: Clock = utcnow) -> None:
        self.sessions = sessions
        self.mailer = mailer
        self.config = config
        self.clock = clock
        self.loop = Worker(
            "notifications-delivery",
            self._step,
            poll_interval_s=config.poll_interval_s,
            linger_s=config.claim_linger_s,
            channels=(commands.DELIVERIES,),
        )
        self._in_flight: set[asyncio.Task[None]] = set()
        self._hand_overs: list[_HandOver] = []
        self._writer: asyncio.Task[None] | None = None
        self._sent: list[tuple[Job, datetime]] = []  # sent, not yet recorded: (job, when DATA was accepted)
        self._sent_timer: asyncio.TimerHandle | None = None
        self._record_now = False
        self._next_recover = 0.0
        self._more_due = False  # the last claim filled its limit: more rows may be waiting
        self.write_rounds = 0  # hand-over statements the writer ran (for tests and benchmarks)
        self.record_rounds = 0  # transactions that recorded sent e-mails (for tests and benchmarks)

    def wake(self) -> None:
        self.loop.wake()

    # --- one round -------------------------------------------------------------------------

    async def run_once(self) -> int:
        """Recover expired claims, claim a batch, send it; return how many were claimed."""
        await self.recover()
        jobs = await self.claim()
        await asyncio.gather(*(self.deliver(job) for job in jobs))
        await self.record_sent()
        return len(jobs)

    async def _dispatch(self) -> int:
        """Recover when due, then claim as many deliveries as there are free sending slots and start them."""
        now = asyncio.get_running_loop().time()
        if now >= self._next_recover:
            await self.recover()
            self._next_recover = now + self.config.recover_interval_s
        free = min(self.config.concurrency - len(self._in_flight), self.config.batch_size)
        if free <= 0:
            self._more_due = True
            if self._record_now:  # no claim to carry the sent records: record them on their own
                await self.record_sent()
            return 0
        jobs = await self.claim(free)
        for job in jobs:
            task = asyncio.create_task(self._deliver_logged(job), name=f"delivery-{job.delivery_id}")
            self._in_flight.add(task)
            task.add_done_callback(self._finished)
        return len(jobs)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._in_flight.discard(task)
        if self._more_due:  # a slot is free and rows were left waiting for one
            self.loop.wake()

    async def _deliver_logged(self, job: Job) -> None:
        try:
            await self.deliver(job)
        except Exception:  # the database went away while recording: the lease recovers the row later
            log.exception("delivery %s: could not record the outcome", job.delivery_id)

    async def recover(self) -> int:
        async with self.sessions()() as s, s.begin():
            return await sending.recover(s, self.clock(), self.config)

    async def claim(self, limit: int | None = None) -> list[Job]:
        """Claim due rows; the same transaction records the sent e-mails that are waiting."""
        now = self.clock()
        sent = self._take_sent()
        try:
            async with self.sessions()() as s, s.begin():
                await sending.record_sent(s, sent)
                jobs, full = await sending.claim(s, now, limit or self.config.batch_size, self.config)
        except BaseException:
            self._requeue_sent(sent)
            raise
        self._more_due = full
        if sent:
            self.record_rounds += 1
        return jobs

    async def deliver(self, job: Job) -> None:
        handed_over = False

        async def before_data() -> bool:
            nonlocal handed_over
            handed_over = await self._hand_over(job)
            return handed_over

        try:
            await self.mailer.send(job.message, job.to, before_data)
        except Abandoned:
            log.warning("delivery %s: claim lost before hand-over; left to its new owner", job.delivery_id)
            return
        except NotDelivered as exc:
            log.warning("delivery %s attempt %d not delivered: %s", job.delivery_id, job.attempts, exc)
            await self._record_failure(job, str(exc), uncertain=False)
            return
        except Exception as exc:  # Uncertain, or anything unexpected once the message may be out
            error = str(exc) if isinstance(exc, Uncertain) else f"unreachable: {exc.__class__.__name__}"
            log.warning("delivery %s attempt %d: %s", job.delivery_id, job.attempts, error)
            await self._record_failure(job, error, uncertain=handed_over or isinstance(exc, Uncertain))
            return
        self._queue_sent(job)

    async def _record_failure(self, job: Job, error: str, *, uncertain: bool) -> None:
        async with self.sessions()() as s, s.begin():
            await sending.record_failure(s, job, error, uncertain=uncertain, now=self.clock(), config=self.config)

    # --- hand-overs, grouped ------------------------------------------------------------------

    async def _hand_over(self, job: Job) -> bool:
        """Queue a hand-over and wait until it is committed; False if the row was no longer ours."""
        write = _HandOver(job)
        self._hand_overs.append(write)
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_waiting(), name="notifications-delivery-writer")
        return await write.done

    async def _write_waiting(self) -> None:
        while self._hand_overs:
            group, self._hand_overs = self._hand_overs, []
            try:
                won = await self._write_hand_overs([w.job for w in group])
            except Exception as exc:  # the database is away: each sender handles it (not handed over)
                for w in group:
                    if not w.done.done():
                        w.done.set_exception(exc)
                continue
            for w in group:
                if not w.done.done():
                    w.done.set_result(w.job.delivery_id in won)

    async def _write_hand_overs(self, jobs: list[Job]) -> set[uuid.UUID]:
        """One statement, committed on its own (autocommit: no BEGIN/COMMIT round trips)."""
        for attempt in (1, 2):
            try:
                async with self.sessions()() as s:
                    await s.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
                    won = await sending.hand_over(s, jobs)
                    await s.commit()
            except DBAPIError as exc:
                # A pooled connection that PostgreSQL closed (a restart) fails on first use; once
                # more on a fresh one. Should the first have been applied after all, the second
                # finds nothing in `sending`: not handed over, not sent (at most once either way).
                if attempt == 1 and exc.connection_invalidated:
                    continue
                raise
            self.write_rounds += 1
            return won
        raise AssertionError("unreachable")

    # --- sent records: carried by the next claim's transaction ------------------------------------

    def _queue_sent(self, job: Job) -> None:
        """Record later: a kill before that leaves the row handing_over, recovered as unconfirmed."""
        self._sent.append((job, self.clock()))
        if self._sent_timer is None:
            self._sent_timer = asyncio.get_running_loop().call_later(self.config.record_delay_s, self._record_due)

    def _record_due(self) -> None:
        self._sent_timer = None
        self._record_now = True
        self.loop.wake()

    def _take_sent(self) -> list[tuple[Job, datetime]]:
        sent, self._sent = self._sent, []
        self._record_now = False
        if self._sent_timer is not None:
            self._sent_timer.cancel()
            self._sent_timer = None
        return sent

    def _requeue_sent(self, sent: list[tuple[Job, datetime]]) -> None:
        """Recording failed (the database is away): try again with the next claim."""
        if sent:
            self._sent[:0] = sent
            if self._sent_timer is None:
                loop = asyncio.get_running_loop()
                self._sent_timer = loop.call_later(self.config.record_delay_s, self._record_due)

    async def record_sent(self) -> None:
        """Record the sent e-mails that are waiting, in a transaction of their own."""
        sent = self._take_sent()
        if not sent:
            return
        try:
            async with self.sessions()() as s, s.begin():
                await sending.record_sent(s, sent)
        except BaseException:
            self._requeue_sent(sent)
            raise
        self.record_rounds += 1

    # --- the loop ----------------------------------------------------------------------------

    async def _step(self) -> bool:
        """One round: claim and dispatch what is due; more at once while claims fill and room is left."""
        await self._dispatch()
        return self._more_due and len(self._in_flight) < self.config.concurrency

    def start(self) -> None:
        self.loop.start()

    async def stop(self) -> None:
        """Finish the sends in flight and record their outcomes, then stop."""
        await self.loop.stop()
        if self._in_flight:
            await asyncio.gather(*self._in_flight, return_exceptions=True)
        if self._writer is not None:
            with contextlib.suppress(Exception):
                await self._writer
        try:
            await self.record_sent()
        except Exception:  # the rows stay handing_over: recovered as unconfirmed, never sent twice
            log.exception("could not record %d sent e-mails before stopping", len(self._sent))
        self._take_sent()


def reminder_worker(sessions: Sessions, clock: Clock, poll_interval_s: float = 60.0) -> Worker:
    """Fires due reminders into deliveries (``commands.fire_due``), once, whatever runs how often.
    Time comes from the clock passed in: tests fire with a "now" weeks ahead instead of waiting."""

    async def step() -> bool:
        async with sessions()() as s, s.begin():
            fired = await commands.fire_due(s, clock())
        if fired:
            log.info("fired %d reminders", fired)
        return fired >= commands.FIRE_BATCH

    return Worker("notifications-reminders", step, poll_interval_s=poll_interval_s)
