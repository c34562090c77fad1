"""The delivery worker: e-mails recorded deliveries at most once per (event, recipient).

How a delivery goes out (every step is committed before the next one starts):

1. **claim** — ``pending`` rows that are due are locked with ``FOR UPDATE SKIP LOCKED`` (two
   instances never claim the same row), rendered, and set to ``sending`` with ``attempts + 1`` and
   ``claimed_at``. The attempt is counted before any SMTP traffic. One claim takes a batch of rows
   and reads the contact details of all of them in one query.
2. **hand over** — after MAIL FROM and RCPT TO succeeded, and before DATA, the row goes from
   ``sending`` to ``handing_over`` (only if it still carries our attempt number, so a claim that
   another instance recovered is abandoned unsent). DATA starts only once that is committed.
3. **record** — ``sent`` plus NotificationSent in the outbox; or, when the server certainly does
   not have the message, back to ``pending`` with exponential backoff, and ``failed`` plus
   NotificationFailed after ``max_attempts``.

Hand-overs and ``sent`` records are written by one writer: every such write that is waiting when it
starts goes into one transaction (one UPDATE per kind, for all of them, and all NotificationSent
events in one outbox insert), so under load many sends cost one transaction, not one each. A
sender waits until its write is committed before it goes on (DATA after the hand-over; taking the
next message after the record).

A process killed at any point leaves a row in ``sending`` or ``handing_over``. Once its lease has
expired (``lease_s``, longer than an SMTP exchange can take), any instance recovers it (each
instance looks every ``recover_interval_s``):
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
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import DateTime, Integer, Row, Table, Uuid, bindparam, cast, func, select, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.notifications import domain, store
from services.notifications.mailer import Abandoned, Mailer, NotDelivered, Uncertain
from services.notifications.models import Contact, Delivery
from services.notifications.render import Page, Person, delivery_message_id, email, render
from shared import events as ev
from shared.outbox import Outbox

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]

DELIVERY: Table = Delivery.__table__  # type: ignore[assignment]
D = DELIVERY.c


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class DeliveryConfig:
    max_attempts: int = 5
    retry_base_s: float = 30.0
    retry_max_s: float = 3600.0
    lease_s: float = 120.0
    recover_interval_s: float = 5.0  # how often an instance looks for expired claims (≪ lease_s)
    record_delay_s: float = 0.2  # how long a sent record may wait for a claim to carry it
    claim_linger_s: float = 0.005  # woken by a new delivery: wait this long so that one claim takes several
    contact_wait_s: float = 600.0  # how long to wait for a recipient's contact details to arrive
    # A contact usually arrives within milliseconds of the event (it comes on another topic), so the
    # first looks are quick; the longer a delivery has waited, the longer the next wait, up to this.
    contact_retry_s: float = 2.0
    contact_retry_first_s: float = 0.1
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
    message: bytes


@dataclass
class _HandOver:
    """A hand-over waiting for the writer; ``done`` says whether the row was still ours to hand over."""

    job: Job
    done: asyncio.Future[bool] = field(default_factory=lambda: asyncio.get_running_loop().create_future())


def _ids(name: str) -> Any:
    return cast(bindparam(name), ARRAY(Uuid))


# UPDATE … FROM unnest(:ids, :attempts …) AS t: one statement for any number of rows, each row
# changed only if it still carries the attempt number of our claim (and is in the expected state).
_ROWS = (
    func.unnest(_ids("b_ids"), cast(bindparam("b_attempts"), ARRAY(Integer)))
    .table_valued("id", "attempts")
    .render_derived(name="t")
)
_HAND_OVER = (
    update(DELIVERY)
    .where(D.id == _ROWS.c.id, D.attempts == _ROWS.c.attempts, D.status == store.SENDING)
    .values(status=store.HANDING_OVER)
    .returning(D.id)
)
_SENT_ROWS = (
    func.unnest(
        _ids("b_ids"),
        cast(bindparam("b_attempts"), ARRAY(Integer)),
        cast(bindparam("b_at"), ARRAY(DateTime(timezone=True))),
    )
    .table_valued("id", "attempts", "at")
    .render_derived(name="t")
)
_RECORD_SENT = (
    update(DELIVERY)
    .where(
        D.id == _SENT_ROWS.c.id,
        D.attempts == _SENT_ROWS.c.attempts,
        D.status.in_([store.HANDING_OVER, store.UNCONFIRMED]),
    )
    .values(status=store.SENT, sent_at=_SENT_ROWS.c.at, last_error=None)
    .returning(D.id, D.event_id, D.recipient_id, D.template, D.sent_at)
)
CONTACT: Table = Contact.__table__  # type: ignore[assignment]
# Due rows with the recipient's contact details (a staff recipient's are looked up separately).
_DUE = (
    select(
        D.id,
        D.event_id,
        D.recipient_id,
        D.recipient_kind,
        D.template,
        D.title,
        D.context,
        D.attempts,
        D.created_at,
        CONTACT.c.email.label("contact_email"),
        CONTACT.c.name.label("contact_name"),
        CONTACT.c.job_title.label("contact_job_title"),
        CONTACT.c.organisation_name.label("contact_organisation_name"),
    )
    .select_from(DELIVERY.outerjoin(CONTACT, CONTACT.c.person_id == D.recipient_id))
    .where(D.status == store.PENDING, D.next_attempt_at <= bindparam("b_now"))
    .order_by(D.next_attempt_at)
    .limit(bindparam("b_limit"))
    .with_for_update(of=DELIVERY, skip_locked=True)
)
_CLAIMED = (
    update(DELIVERY)
    .where(D.id == bindparam("b_id"))
    .values(
        status=store.SENDING,
        attempts=D.attempts + 1,
        claimed_at=bindparam("b_now"),
        email=bindparam("b_email"),
        body=bindparam("b_body"),
    )
)


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
        self._wake.set()

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
            self._wake.set()

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
        """Claim due rows; the same transaction records the sent e-mails that are waiting."""
        now = self.clock()
        limit = limit or self.config.batch_size
        jobs: list[Job] = []
        sent = self._take_sent()
        try:
            async with self.sessions()() as s, s.begin():
                await self._record_sent(s, sent)
                rows = (await s.execute(_DUE, {"b_now": now, "b_limit": limit})).all()
                if rows:
                    jobs = await self._claim_rows(s, rows, now)
        except BaseException:
            self._requeue_sent(sent)
            raise
        self._more_due = len(rows) == limit
        if sent:
            self.record_rounds += 1
        return jobs

    async def _claim_rows(self, s: AsyncSession, rows: Sequence[Any], now: datetime) -> list[Job]:
        jobs: list[Job] = []
        contacts = {
            d.recipient_id: store.ContactDetails(
                d.contact_email,
                d.contact_name,
                Person(d.contact_name, d.contact_job_title, d.contact_organisation_name),
            )
            for d in rows
            if d.contact_email is not None and d.recipient_kind != domain.STAFF
        }
        others = {p for d in rows for p in _people_of(d)} - contacts.keys()
        if others:  # partners or whom the e-mail is about: not joined in
            contacts |= await store.contacts(s, others)
        staff = await store.staff_contacts(s, {d.recipient_id for d in rows if d.recipient_kind == domain.STAFF})
        claimed: list[dict[str, Any]] = []
        for d in rows:
            try:
                prepared = self._prepare(d, contacts, staff, now)
            except Exception as exc:  # a template or data error: retrying will not help
                log.exception("delivery %s: could not render %s", d.id, d.template)
                await self._fail(s, d, f"could not render the e-mail: {exc!r}")
                continue
            if prepared is None:
                if now - d.created_at > timedelta(seconds=self.config.contact_wait_s):
                    await self._fail(s, d, "no contact details for the recipient")
                else:  # the contact may still be on its way (another topic): look again soon
                    retry_at = now + self._contact_retry(d.created_at, now)
                    await s.execute(update(DELIVERY).where(D.id == d.id).values(next_attempt_at=retry_at))
                continue
            address, body, message = prepared
            claimed.append({"b_id": d.id, "b_now": now, "b_email": address, "b_body": body})
            jobs.append(Job(d.id, d.attempts + 1, address, message))
        if claimed:
            await s.execute(_CLAIMED, claimed)
        return jobs

    def _contact_retry(self, created_at: datetime, now: datetime) -> timedelta:
        """Half the time waited so far, between ``contact_retry_first_s`` and ``contact_retry_s``."""
        waited = (now - created_at).total_seconds()
        return timedelta(seconds=min(max(waited / 2, self.config.contact_retry_first_s), self.config.contact_retry_s))

    def _prepare(
        self,
        d: Row[Any],
        contacts: dict[uuid.UUID, store.ContactDetails],
        staff: dict[uuid.UUID, store.ContactDetails],
        now: datetime,
    ) -> tuple[str, str, bytes] | None:
        """The recipient's address, the text and the rendered e-mail; None while a contact is unknown."""
        context = dict(d.context)
        about_id = uuid.UUID(context["about_id"]) if context.get("about_id") else None
        partner_ids = [uuid.UUID(p) for p in context.get("partner_ids", [])]
        if any(p not in contacts for p in _people_of(d)):
            return None
        recipient_contact = (staff if d.recipient_kind == domain.STAFF else contacts).get(d.recipient_id)
        if recipient_contact is None:
            return None
        page = Page(
            title=d.title,
            recipient=recipient_contact.person,
            facts=context,
            about=contacts[about_id].person if about_id else None,
            partners=[contacts[p].person for p in partner_ids],
            inbox_url=self.config.inbox_url,
        )
        rendered = render(d.template, page)
        address, name = recipient_contact.email, recipient_contact.name
        message = email(
            rendered,
            sender=self.config.sender,
            to=(name, address),
            message_id=delivery_message_id(d.id, self.config.message_id_domain),
            when=now,
            headers={"X-Lbb-Delivery": str(d.id)},
        )
        return address, rendered.text, message

    async def _fail(self, s: AsyncSession, d: Row[Any], error: str) -> None:
        """A claimed row that cannot be sent at all: ``failed`` plus NotificationFailed."""
        error = error[:2000]
        await s.execute(update(DELIVERY).where(D.id == d.id).values(status=store.FAILED, last_error=error))
        await self.outbox.add(s, _failed_event(d.id, d.event_id, d.recipient_id, d.template, error, d.attempts))

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
            log.warning("delivery %s attempt %d: %r", job.delivery_id, job.attempts, exc)
            await self._record_failure(job, str(exc) or repr(exc), uncertain=handed_over or isinstance(exc, Uncertain))
            return
        self._queue_sent(job)

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
        params = {"b_ids": [j.delivery_id for j in jobs], "b_attempts": [j.attempts for j in jobs]}
        for attempt in (1, 2):
            try:
                async with self.sessions()() as s:
                    await s.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
                    won = set((await s.execute(_HAND_OVER, params)).scalars().all())
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
        self._wake.set()

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
                await self._record_sent(s, sent)
        except BaseException:
            self._requeue_sent(sent)
            raise
        self.record_rounds += 1

    async def _record_sent(self, s: AsyncSession, sent: list[tuple[Job, datetime]]) -> None:
        """``sent`` plus NotificationSent for each, if the row still carries our attempt (one UPDATE)."""
        if not sent:
            return
        rows = (
            await s.execute(
                _RECORD_SENT,
                {
                    "b_ids": [job.delivery_id for job, _ in sent],
                    "b_attempts": [job.attempts for job, _ in sent],
                    "b_at": [at for _, at in sent],
                },
            )
        ).all()
        await self.outbox.add(
            s,
            *(
                ev.NotificationSent(
                    delivery_id=r.id,
                    event_id=r.event_id,
                    recipient_id=r.recipient_id,
                    template=r.template,
                    sent_at=r.sent_at,
                )
                for r in rows
            ),
        )

    # --- recording failures ------------------------------------------------------------------

    async def _mine(self, s: AsyncSession, job: Job, states: list[str]) -> Delivery | None:
        row: Delivery | None = await s.scalar(
            select(Delivery)
            .where(Delivery.id == job.delivery_id, Delivery.attempts == job.attempts, Delivery.status.in_(states))
            .with_for_update()
        )
        return row

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
        error = d.last_error or "unknown error"
        await self.outbox.add(s, _failed_event(d.id, d.event_id, d.recipient_id, d.template, error, d.attempts))

    # --- the loop ----------------------------------------------------------------------------

    async def run(self) -> None:
        backoff = self.config.poll_interval_s
        while not self._stopping:
            self._wake.clear()
            try:
                await self._dispatch()
                backoff = self.config.poll_interval_s
            except Exception:  # the database is away: keep going, slower
                log.exception("delivery round failed; retrying in %.1fs", backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 10.0)
                continue
            if self._more_due and len(self._in_flight) < self.config.concurrency:
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.config.poll_interval_s)
                if self.config.claim_linger_s and not self._stopping:  # woken: let a few more rows arrive
                    await asyncio.sleep(self.config.claim_linger_s)

    def start(self) -> None:
        self._task = asyncio.create_task(self.run(), name="notifications-delivery")

    async def stop(self) -> None:
        """Finish the sends in flight and record their outcomes, then stop."""
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            await self._task
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


def _people_of(d: Row[Any]) -> list[uuid.UUID]:
    """The people a delivery's e-mail names: partners, whom it is about, and a person recipient."""
    context = d.context
    people = [uuid.UUID(p) for p in context.get("partner_ids", [])]
    if context.get("about_id"):
        people.append(uuid.UUID(context["about_id"]))
    if d.recipient_kind != domain.STAFF:
        people.append(d.recipient_id)
    return people


def _failed_event(
    delivery_id: uuid.UUID, event_id: uuid.UUID, recipient_id: uuid.UUID, template: str, error: str, attempts: int
) -> ev.NotificationFailed:
    return ev.NotificationFailed(
        delivery_id=delivery_id,
        event_id=event_id,
        recipient_id=recipient_id,
        template=template,
        error=error,
        attempts=attempts,
    )
