"""The service's background loops: the delivery worker, which e-mails recorded deliveries at most
once per (event, recipient), and the reminder scheduler, which fires due reminders into deliveries.

The delivery worker drives the steps of ``sending.py`` (claim, hand over, record, recover), each in a
transaction of its own, with up to ``concurrency`` sends in flight. Hand-overs and ``sent`` records
are written by one writer, at once: every write waiting when it starts goes into one round (a
hand-over alone is one autocommitted statement; with sent records it is one transaction), so under
load many sends cost one round, not one each, and no write waits for a timer. A sender waits until
its hand-over is committed before DATA. Its ``sent`` record is queued for the writer the moment the
server answers, and its slot is free at once; the next claim's transaction takes any record the
writer has not taken yet, so a record is written before the next claim or with it, never after.
Between the server's answer to DATA and the record there is only that one commit, so a kill can
leave ``unconfirmed`` only a message whose answer had not been recorded yet (the server may or may
not have it). Woken by a new delivery (the after-commit hook of ``commands.record``), the worker lingers
``claim_linger_s`` so that one claim takes several rows.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.notifications import commands, sending
from services.notifications.mailer import Abandoned, Mailer, NotDelivered, Uncertain
from services.notifications.sending import Job
from services.notifications.settings import DeliveryConfig
from shared import tracing
from shared.clock import utcnow
from shared.worker import Worker

if TYPE_CHECKING:
    from opentelemetry.trace import Tracer

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
Sessions = Callable[[], async_sessionmaker[AsyncSession]]
T = TypeVar("T")

# A sent record the database would not take (it is away) is tried again after this long, doubling.
RECORD_RETRY_FIRST_S = 0.2
RECORD_RETRY_MAX_S = 5.0


@dataclass
class _Write:
    """A write waiting for the writer: a hand-over (``sent_at`` None; ``done`` says whether the row was
    still ours to hand over) or the record of a sent e-mail (``sent_at``: when DATA was accepted)."""

    job: Job
    sent_at: datetime | None = None
    done: asyncio.Future[bool] = field(default_factory=lambda: asyncio.get_running_loop().create_future())

    def succeed(self, result: bool) -> None:
        if not self.done.done():  # its sender may have been cancelled meanwhile
            self.done.set_result(result)

    def fail(self, exc: BaseException) -> None:
        if not self.done.done():
            self.done.set_exception(exc)


class DeliveryWorker:
    def __init__(
        self,
        sessions: Sessions,
        mailer: Mailer,
        config: DeliveryConfig,
        clock: Clock = utcnow,
        *,
        tracer: Tracer | None = None,
    ) -> None:
        self.sessions = sessions
        self.mailer = mailer
        self.config = config
        self.clock = clock
        self.tracer = tracer  # with tracing on: an SMTP span per e-mail, continuing its delivery's trace
        self.loop = Worker(
            "notifications-delivery",
            self._step,
            poll_interval_s=config.poll_interval_s,
            linger_s=config.claim_linger_s,
            channels=(commands.DELIVERIES,),
        )
        self._in_flight: set[asyncio.Task[None]] = set()
        self._writes: list[_Write] = []
        self._writer: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self._next_recover = 0.0
        self._more_due = False  # the last claim filled its limit: more rows may be waiting
        self.write_rounds = 0  # writer rounds that handed over (for tests and benchmarks)
        self.record_rounds = 0  # writer rounds that recorded sent e-mails (for tests and benchmarks)

    def wake(self) -> None:
        self.loop.wake()

    # --- one round -------------------------------------------------------------------------

    async def run_once(self) -> int:
        """Recover expired claims, claim a batch, send it; return how many were claimed."""
        await self.recover()
        jobs = await self.claim()
        await asyncio.gather(*(self.deliver(job) for job in jobs))
        await self.written()
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
        """Claim due rows (up to ``limit``, or a batch); the same transaction records the sent e-mails
        the writer has not taken yet."""
        records = [w for w in self._writes if w.sent_at is not None]
        self._writes = [w for w in self._writes if w.sent_at is None]
        try:
            async with self.sessions()() as s, s.begin():
                await sending.record_sent(s, [(w.job, w.sent_at) for w in records if w.sent_at is not None])
                jobs, full = await sending.claim(s, self.clock(), limit or self.config.batch_size, self.config)
        except BaseException:
            if records:  # the writer tries them again
                self._writes[:0] = records
                self._start_writer()
            raise
        for w in records:
            w.succeed(True)
        self.record_rounds += bool(records)
        self._more_due = full
        return jobs

    async def deliver(self, job: Job) -> None:
        """Send one claimed e-mail and record the outcome: a failure before returning, a sent e-mail
        queued for the writer (``written`` waits for it)."""
        handed_over = False

        async def before_data() -> bool:
            nonlocal handed_over
            handed_over = await self._write(_Write(job))
            return handed_over

        try:
            with tracing.UNTRACED if self.tracer is None else self._smtp_span(job):  # ends at the server's answer
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
        self._writes.append(_Write(job, sent_at=self.clock()))
        self._start_writer()

    def _smtp_span(self, job: Job) -> contextlib.AbstractContextManager[Any]:
        """The span of one e-mail's SMTP exchange (MAIL FROM to the answer to DATA), a child of the
        context its delivery was recorded in; no address in it, the delivery id and attempt only."""
        assert self.tracer is not None
        from opentelemetry.trace import SpanKind

        return tracing.span(
            self.tracer,
            "smtp send",
            kind=SpanKind.CLIENT,
            parent=job.trace or {},
            attributes={"lbb.delivery_id": str(job.delivery_id), "lbb.delivery.attempt": job.attempts},
        )

    async def _record_failure(self, job: Job, error: str, *, uncertain: bool) -> None:
        async with self.sessions()() as s, s.begin():
            await sending.record_failure(s, job, error, uncertain=uncertain, now=self.clock(), config=self.config)

    # --- hand-overs and sent records, grouped by one writer ----------------------------------------

    async def _write(self, write: _Write) -> bool:
        """Queue a write and wait until it is committed; for a hand-over, False if the row was no
        longer ours."""
        self._writes.append(write)
        self._start_writer()
        return await write.done

    def _start_writer(self) -> None:
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_waiting(), name="notifications-delivery-writer")

    async def written(self) -> None:
        """Wait until every queued write is done (committed, or given up when stopping)."""
        while self._writer is not None and not self._writer.done():
            await asyncio.shield(self._writer)

    async def _write_waiting(self) -> None:
        retry_s = RECORD_RETRY_FIRST_S
        while self._writes:
            group, self._writes = self._writes, []
            hand_overs = [w for w in group if w.sent_at is None]
            records = [w for w in group if w.sent_at is not None]
            try:
                won = await self._write_round([w.job for w in hand_overs], [(w.job, w.sent_at) for w in records])
            except Exception as exc:  # the database is away
                for w in hand_overs:  # each sender handles it: not handed over, nothing sent
                    w.fail(exc)
                if not records:
                    continue
                if self._stopping.is_set():  # left handing_over: recovered as unconfirmed, never sent twice
                    log.error("could not record %d sent e-mails before stopping (%s)", len(records), type(exc).__name__)
                    for w in records:
                        w.succeed(False)
                    continue
                log.warning("could not record %d sent e-mails (%s); trying again", len(records), type(exc).__name__)
                self._writes[:0] = records  # the server has them: recorded as soon as the database is back
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), retry_s)
                retry_s = min(retry_s * 2, RECORD_RETRY_MAX_S)
                continue
            retry_s = RECORD_RETRY_FIRST_S
            for w in group:
                w.succeed(w.sent_at is not None or w.job.delivery_id in won)

    async def _write_round(self, hand_overs: list[Job], sent: list[tuple[Job, datetime | None]]) -> set[uuid.UUID]:
        """Hand-overs alone: one statement, committed on its own (autocommit: no BEGIN/COMMIT round
        trips). With sent records: one transaction for both."""

        async def hand_over_only() -> set[uuid.UUID]:
            async with self.sessions()() as s:
                await s.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
                won = await sending.hand_over(s, hand_overs)
                await s.commit()
            return won

        async def with_records() -> set[uuid.UUID]:
            async with self.sessions()() as s, s.begin():
                won = await sending.hand_over(s, hand_overs) if hand_overs else set()
                await sending.record_sent(s, [(job, at) for job, at in sent if at is not None])
            return won

        won = await _once_more_if_the_connection_was_gone(with_records if sent else hand_over_only)
        self.write_rounds += bool(hand_overs)
        self.record_rounds += bool(sent)
        return won

    # --- the loop ----------------------------------------------------------------------------

    async def _step(self) -> bool:
        """One round: claim and dispatch what is due; more at once while claims fill and room is left."""
        await self._dispatch()
        return self._more_due and len(self._in_flight) < self.config.concurrency

    def start(self) -> None:
        self._stopping.clear()
        self.loop.start()

    async def stop(self) -> None:
        """Finish the sends in flight and record their outcomes, then stop."""
        await self.loop.stop()
        # From now on a sent record the database does not take is not tried again: its row stays
        # handing_over and is recovered as unconfirmed (never sent twice).
        self._stopping.set()
        if self._in_flight:
            await asyncio.gather(*self._in_flight, return_exceptions=True)
        with contextlib.suppress(Exception):
            await self.written()


async def _once_more_if_the_connection_was_gone(write: Callable[[], Awaitable[T]]) -> T:
    """A pooled connection that PostgreSQL closed (a restart) fails on first use; once more on a fresh
    one. Should the first have been applied after all, the second finds nothing to change: a hand-over
    finds no row in ``sending`` (not handed over, not sent: at most once either way), a sent record
    finds the row already ``sent``."""
    try:
        return await write()
    except DBAPIError as exc:
        if not exc.connection_invalidated:
            raise
    return await write()


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
