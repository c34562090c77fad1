"""The delivery worker: e-mails recorded deliveries at most once per (event, recipient).

How a delivery goes out (every step is its own committed transaction):

1. **claim** — ``pending`` rows that are due are locked with ``FOR UPDATE SKIP LOCKED`` (two
   instances never claim the same row), rendered, and set to ``sending`` with ``attempts + 1`` and
   ``claimed_at``. The attempt is counted before any SMTP traffic.
2. **hand over** — after MAIL FROM and RCPT TO succeeded, and before DATA, the row goes from
   ``sending`` to ``handing_over`` (only if it still carries our attempt number, so a claim that
   another instance recovered is abandoned unsent).
3. **record** — ``sent`` plus NotificationSent in the outbox; or, when the server certainly does
   not have the message, back to ``pending`` with exponential backoff, and ``failed`` plus
   NotificationFailed after ``max_attempts``.

A process killed at any point leaves a row in ``sending`` or ``handing_over``. Once its lease has
expired (``lease_s``, longer than an SMTP exchange can take), any instance recovers it:
``sending`` → ``pending`` (DATA never started, so the server cannot have it: retry is safe);
``handing_over`` → ``unconfirmed`` plus NotificationFailed saying the outcome is unknown (the
server may have it, so it is never sent again: at most once). Every attempt of a delivery carries
the same Message-ID, so a mail system that did get a message twice can tell.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.notifications import domain, store
from services.notifications.mailer import Abandoned, Mailer, NotDelivered, Uncertain
from services.notifications.models import Delivery, StaffContact
from services.notifications.render import Page, Person, delivery_message_id, email, render
from shared import events as ev
from shared.outbox import Outbox

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class DeliveryConfig:
    max_attempts: int = 5
    retry_base_s: float = 30.0
    retry_max_s: float = 3600.0
    lease_s: float = 120.0
    contact_wait_s: float = 600.0  # how long to wait for a recipient's contact details to arrive
    contact_retry_s: float = 2.0
    batch_size: int = 20
    concurrency: int = 8
    poll_interval_s: float = 0.5
    message_id_domain: str = "beyond-boundaries.nhs.uk"
    sender: str = "Beyond Boundaries <no-reply@beyond-boundaries.nhs.uk>"
    inbox_url: str = "http://127.0.0.1:8000/api/notifications"


@dataclass(frozen=True)
class Job:
    delivery_id: uuid.UUID
    attempts: int
    to: str
    message: EmailMessage


class DeliveryWorker:
    def __init__(
        self,
        sessions: Callable[[], async_sessionmaker[AsyncSession]],
        outbox: Outbox,
        mailer: Mailer,
        config: DeliveryConfig,
        clock: Clock = utcnow,
    ) -> None:
        self.sessions = sessions
        self.outbox = outbox
        self.mailer = mailer
        self.config = config
        self.clock = clock
        self._wake = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self._in_flight: set[asyncio.Task[None]] = set()

    def wake(self) -> None:
        self._wake.set()

    # --- one round -------------------------------------------------------------------------

    async def run_once(self) -> int:
        """Recover expired claims, claim a batch, send it; return how many were claimed."""
        await self.recover()
        jobs = await self.claim()
        await asyncio.gather(*(self.deliver(job) for job in jobs))
        return len(jobs)

    async def _dispatch(self) -> int:
        """Recover, then claim as many deliveries as there are free sending slots and start them."""
        await self.recover()
        free = min(self.config.concurrency - len(self._in_flight), self.config.batch_size)
        if free <= 0:
            return 0
        jobs = await self.claim(free)
        for job in jobs:
            task = asyncio.create_task(self._deliver_logged(job), name=f"delivery-{job.delivery_id}")
            self._in_flight.add(task)
            task.add_done_callback(self._finished)
        return len(jobs)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._in_flight.discard(task)
        self._wake.set()  # a slot is free

    async def _deliver_logged(self, job: Job) -> None:
        try:
            await self.deliver(job)
        except Exception:  # the database went away while recording: the lease recovers the row later
            log.exception("delivery %s: could not record the outcome", job.delivery_id)

    async def recover(self) -> int:
        now = self.clock()
        async with self.sessions()() as s, s.begin():
            rows = (
                await s.scalars(
                    select(Delivery)
                    .where(
                        Delivery.status.in_([store.SENDING, store.HANDING_OVER]),
                        Delivery.claimed_at < now - timedelta(seconds=self.config.lease_s),
                    )
                    .limit(self.config.batch_size)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            for d in rows:
                if d.status == store.SENDING:
                    log.warning("delivery %s: claim expired before hand-over; it will be retried", d.id)
                    await self._retry_or_fail(s, d, "the sender stopped before handing the message over", now)
                else:
                    log.warning("delivery %s: sender stopped while handing over; not sending it again", d.id)
                    d.status = store.UNCONFIRMED
                    d.last_error = (
                        f"the sender stopped while handing the message over; the SMTP server may have it "
                        f"(Message-ID {delivery_message_id(d.id, self.config.message_id_domain)}); "
                        "not sent again so that it is never sent twice"
                    )
                    await self._publish_failed(s, d)
        return len(rows)

    async def claim(self, limit: int | None = None) -> list[Job]:
        now = self.clock()
        jobs: list[Job] = []
        async with self.sessions()() as s, s.begin():
            rows = (
                await s.scalars(
                    select(Delivery)
                    .where(Delivery.status == store.PENDING, Delivery.next_attempt_at <= now)
                    .order_by(Delivery.next_attempt_at)
                    .limit(limit or self.config.batch_size)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            for d in rows:
                try:
                    prepared = await self._prepare(s, d, now)
                except Exception as exc:  # a template or data error: retrying will not help
                    log.exception("delivery %s: could not render %s", d.id, d.template)
                    d.status, d.last_error = store.FAILED, f"could not render the e-mail: {exc!r}"[:2000]
                    await self._publish_failed(s, d)
                    continue
                if prepared is None:
                    if now - d.created_at > timedelta(seconds=self.config.contact_wait_s):
                        d.status, d.last_error = store.FAILED, "no contact details for the recipient"
                        await self._publish_failed(s, d)
                    else:  # the contact may still be on its way (another topic): look again soon
                        d.next_attempt_at = now + timedelta(seconds=self.config.contact_retry_s)
                    continue
                to, message = prepared
                d.status, d.attempts, d.claimed_at, d.email = store.SENDING, d.attempts + 1, now, to
                jobs.append(Job(d.id, d.attempts, to, message))
        return jobs

    async def _prepare(self, s: AsyncSession, d: Delivery, now: datetime) -> tuple[str, EmailMessage] | None:
        """The recipient's address and the rendered e-mail, or None while a contact is unknown."""
        context = dict(d.context)
        about_id = uuid.UUID(context["about_id"]) if context.get("about_id") else None
        partner_ids = [uuid.UUID(p) for p in context.get("partner_ids", [])]
        wanted = (
            partner_ids + ([about_id] if about_id else []) + ([d.recipient_id] if d.recipient_kind == "person" else [])
        )
        known = await store.people(s, wanted)
        if any(p not in known for p in wanted):
            return None
        if d.recipient_kind == domain.STAFF:
            staff = await s.get(StaffContact, d.recipient_id)
            if staff is None:
                return None
            recipient: Person = store.staff_person(staff)
            address, name = staff.email, staff.name
        else:
            contact = known[d.recipient_id]
            recipient, address, name = store.person(contact), contact.email, contact.name
        page = Page(
            title=d.title,
            recipient=recipient,
            facts=context,
            about=store.person(known[about_id]) if about_id else None,
            partners=[store.person(known[p]) for p in partner_ids],
            inbox_url=self.config.inbox_url,
        )
        rendered = render(d.template, page)
        d.body = rendered.text
        to = f"{name} <{address}>" if name else address
        message = email(
            rendered,
            sender=self.config.sender,
            to=to,
            message_id=delivery_message_id(d.id, self.config.message_id_domain),
            when=now,
        )
        message["X-Lbb-Delivery"] = str(d.id)
        return address, message

    async def deliver(self, job: Job) -> None:
        handed_over = False

        async def before_data() -> bool:
            nonlocal handed_over
            async with self.sessions()() as s, s.begin():
                result = await s.execute(
                    update(Delivery)
                    .where(
                        Delivery.id == job.delivery_id,
                        Delivery.status == store.SENDING,
                        Delivery.attempts == job.attempts,
                    )
                    .values(status=store.HANDING_OVER)
                )
            handed_over = bool(result.rowcount == 1)  # type: ignore[attr-defined]
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
            log.warning("delivery %s attempt %d: %r", job.delivery_id, job.attempts, exc)
            await self._record_failure(job, str(exc) or repr(exc), uncertain=handed_over or isinstance(exc, Uncertain))
            return
        await self._record_sent(job)

    # --- recording outcomes ------------------------------------------------------------------

    async def _mine(self, s: AsyncSession, job: Job, states: list[str]) -> Delivery | None:
        row: Delivery | None = await s.scalar(
            select(Delivery)
            .where(Delivery.id == job.delivery_id, Delivery.attempts == job.attempts, Delivery.status.in_(states))
            .with_for_update()
        )
        return row

    async def _record_sent(self, job: Job) -> None:
        now = self.clock()
        async with self.sessions()() as s, s.begin():
            d = await self._mine(s, job, [store.HANDING_OVER, store.UNCONFIRMED])
            if d is None:
                return
            d.status, d.sent_at, d.last_error = store.SENT, now, None
            await self.outbox.add(
                s,
                ev.NotificationSent(
                    delivery_id=d.id, event_id=d.event_id, recipient_id=d.recipient_id, template=d.template, sent_at=now
                ),
            )

    async def _record_failure(self, job: Job, error: str, *, uncertain: bool) -> None:
        now = self.clock()
        async with self.sessions()() as s, s.begin():
            d = await self._mine(s, job, [store.SENDING, store.HANDING_OVER])
            if d is None:
                return
            if uncertain:
                d.status = store.UNCONFIRMED
                d.last_error = f"outcome unknown ({error}); not sent again so that it is never sent twice"[:2000]
                await self._publish_failed(s, d)
            else:
                await self._retry_or_fail(s, d, error, now)

    async def _retry_or_fail(self, s: AsyncSession, d: Delivery, error: str, now: datetime) -> None:
        d.last_error = error[:2000]
        if d.attempts >= self.config.max_attempts:
            d.status = store.FAILED
            await self._publish_failed(s, d)
        else:
            d.status = store.PENDING
            d.next_attempt_at = now + domain.retry_delay(d.attempts, self.config.retry_base_s, self.config.retry_max_s)

    async def _publish_failed(self, s: AsyncSession, d: Delivery) -> None:
        await self.outbox.add(
            s,
            ev.NotificationFailed(
                delivery_id=d.id,
                event_id=d.event_id,
                recipient_id=d.recipient_id,
                template=d.template,
                error=d.last_error or "unknown error",
                attempts=d.attempts,
            ),
        )

    # --- the loop ----------------------------------------------------------------------------

    async def run(self) -> None:
        backoff = self.config.poll_interval_s
        while not self._stopping:
            self._wake.clear()
            try:
                claimed = await self._dispatch()
                backoff = self.config.poll_interval_s
            except Exception:  # the database is away: keep going, slower
                log.exception("delivery round failed; retrying in %.1fs", backoff)
                claimed = 0
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 10.0)
                continue
            if claimed and len(self._in_flight) < self.config.concurrency:
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.config.poll_interval_s)

    def start(self) -> None:
        self._task = asyncio.create_task(self.run(), name="notifications-delivery")

    async def stop(self) -> None:
        """Finish the sends in flight, then stop."""
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            await self._task
        if self._in_flight:
            await asyncio.gather(*self._in_flight, return_exceptions=True)
