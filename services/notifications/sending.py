"""Transaction scripts of sending a recorded delivery, step by step; each runs in the session its
caller (the delivery worker) opened, and every step is committed before the next one starts:

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

A process killed at any point leaves a row in ``sending`` or ``handing_over``. Once its lease has
expired (``lease_s``, longer than an SMTP exchange can take), **recover** takes it:
``sending`` → ``pending`` (DATA never started, so the server cannot have it: retry is safe);
``handing_over`` → ``unconfirmed`` plus NotificationFailed saying the outcome is unknown (the
server may have it, so it is never sent again: at most once). Every attempt of a delivery carries
the same Message-ID, so a mail system that did get a message twice can tell.

The statements are built once (their cache keys are computed once, not per call), and each changes
any number of rows in one round trip.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parseaddr
from typing import Any, get_args

from sqlalchemy import DateTime, Integer, Row, Table, Uuid, bindparam, cast, func, select, true, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

from services.notifications import domain, queries
from services.notifications.domain import FAILED, HANDING_OVER, PENDING, SENDING, SENT, UNCONFIRMED
from services.notifications.invitation import Attendee, Invitation, mime_part
from services.notifications.models import Contact, Delivery, outbox
from services.notifications.render import Page, Person, delivery_message_id, email, render
from services.notifications.settings import DeliveryConfig
from shared import events as ev
from shared.views import view

log = logging.getLogger(__name__)

DELIVERY: Table = Delivery.__table__  # type: ignore[assignment]
D = DELIVERY.c


@dataclass(frozen=True)
class Job:
    """A claimed delivery, rendered and ready to send."""

    delivery_id: uuid.UUID
    attempts: int
    to: str
    message: bytes
    trace: dict[str, str | None] | None = None  # with tracing on: the context it was recorded in


def _ids(name: str) -> Any:
    return cast(bindparam(name), ARRAY(Uuid))


# UPDATE … FROM unnest(:ids, :attempts …) AS t: one statement for any number of rows, each row
# changed only if it still carries the attempt number of our claim (and is in the expected state).
# ``id = ANY(:ids)`` as well: PostgreSQL guesses 100 rows for an unnest and would join it to a
# sequential scan of the whole delivery table (which only grows); the array lets it take the rows by
# their primary key.
_ROWS = (
    func.unnest(_ids("b_ids"), cast(bindparam("b_attempts"), ARRAY(Integer)))
    .table_valued("id", "attempts")
    .render_derived(name="t")
)
_HAND_OVER = (
    update(DELIVERY)
    .where(D.id == func.any(_ids("b_ids")), D.id == _ROWS.c.id, D.attempts == _ROWS.c.attempts, D.status == SENDING)
    .values(status=HANDING_OVER)
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
# Returns each recorded row as the fields of its NotificationSent.
_RECORD_SENT = (
    update(DELIVERY)
    .where(
        D.id == func.any(_ids("b_ids")),
        D.id == _SENT_ROWS.c.id,
        D.attempts == _SENT_ROWS.c.attempts,
        D.status.in_([HANDING_OVER, UNCONFIRMED]),
    )
    .values(status=SENT, sent_at=_SENT_ROWS.c.at, last_error=None)
    .returning(D.id.label("delivery_id"), D.event_id, D.recipient_id, D.template, D.sent_at)
)
CONTACT: Table = Contact.__table__  # type: ignore[assignment]
# The recipient's contact, looked up by its key for each due row (LATERAL, its LIMIT keeping PostgreSQL
# from flattening it): a plain outer join lets PostgreSQL hash-join a sequential scan of every
# contact, a cost that grows with the people known.
_RECIPIENT = (
    select(CONTACT.c.email, CONTACT.c.name, CONTACT.c.job_title, CONTACT.c.organisation_name)
    .where(CONTACT.c.person_id == D.recipient_id)
    .limit(1)
    .lateral("recipient")
)
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
        D.traceparent,
        D.tracestate,
        _RECIPIENT.c.email.label("contact_email"),
        _RECIPIENT.c.name.label("contact_name"),
        _RECIPIENT.c.job_title.label("contact_job_title"),
        _RECIPIENT.c.organisation_name.label("contact_organisation_name"),
    )
    .select_from(DELIVERY.outerjoin(_RECIPIENT, true()))
    .where(D.status == PENDING, D.next_attempt_at <= bindparam("b_now"))
    .order_by(D.next_attempt_at)
    .limit(bindparam("b_limit"))
    .with_for_update(of=DELIVERY, skip_locked=True)
)
_CLAIMED = (
    update(DELIVERY)
    .where(D.id == bindparam("b_id"))
    .values(
        status=SENDING,
        attempts=D.attempts + 1,
        claimed_at=bindparam("b_now"),
        email=bindparam("b_email"),
        body=bindparam("b_body"),
    )
)


async def claim(session: AsyncSession, now: datetime, limit: int, config: DeliveryConfig) -> tuple[list[Job], bool]:
    """Claim up to ``limit`` due rows; also say whether the limit was reached (more may be waiting)."""
    rows = (await session.execute(_DUE, {"b_now": now, "b_limit": limit})).all()
    jobs = await _claim_rows(session, rows, now, config) if rows else []
    return jobs, len(rows) == limit


async def _claim_rows(s: AsyncSession, rows: Sequence[Any], now: datetime, config: DeliveryConfig) -> list[Job]:
    contacts = {
        d.recipient_id: queries.ContactDetails(
            d.contact_email,
            d.contact_name,
            Person(d.contact_name, d.contact_job_title, d.contact_organisation_name),
        )
        for d in rows
        if d.contact_email and d.recipient_kind != domain.STAFF  # an erased person's is empty
    }
    others = {p for d in rows for p in _people_named(d)} - contacts.keys()
    if others:  # partners or whom the e-mail is about: not joined in
        contacts |= await queries.contacts(s, others)
    staff = await queries.staff_contacts(s, {d.recipient_id for d in rows if d.recipient_kind == domain.STAFF})
    jobs: list[Job] = []
    claimed: list[dict[str, Any]] = []
    for d in rows:
        try:
            prepared = _prepare(d, contacts, staff, now, config)
        except Exception as exc:  # a template or data error: retrying will not help
            log.error("delivery %s: could not render %s: %s", d.id, d.template, exc.__class__.__name__)
            await _fail(s, d, f"render_failed: could not render the e-mail ({exc.__class__.__name__})")
            continue
        if prepared is None:
            if now - d.created_at > timedelta(seconds=config.contact_wait_s):
                await _fail(s, d, "no_contact: no contact details for the recipient")
            else:  # the contact may still be on its way (another topic): look again soon
                wait = domain.contact_retry(d.created_at, now, config.contact_retry_first_s, config.contact_retry_s)
                await s.execute(update(DELIVERY).where(D.id == d.id).values(next_attempt_at=now + wait))
            continue
        address, body, message = prepared
        claimed.append({"b_id": d.id, "b_now": now, "b_email": address, "b_body": body})
        trace = {"traceparent": d.traceparent, "tracestate": d.tracestate} if d.traceparent else None
        jobs.append(Job(d.id, d.attempts + 1, address, message, trace))
    if claimed:
        await s.execute(_CLAIMED, claimed)
    return jobs


def _people_named(d: Row[Any]) -> list[uuid.UUID]:
    return domain.people_named(d.context, d.recipient_kind, d.recipient_id)


def _prepare(
    d: Row[Any],
    contacts: dict[uuid.UUID, queries.ContactDetails],
    staff: dict[uuid.UUID, queries.ContactDetails],
    now: datetime,
    config: DeliveryConfig,
) -> tuple[str, str, bytes] | None:
    """The recipient's address, the text and the rendered e-mail; None while a contact is unknown."""
    context = dict(d.context)
    about_id = uuid.UUID(context["about_id"]) if context.get("about_id") else None
    partner_ids = [uuid.UUID(p) for p in context.get("partner_ids", [])]
    if any(p not in contacts for p in _people_named(d)):
        return None
    recipient_contact = (staff if d.recipient_kind == domain.STAFF else contacts).get(d.recipient_id)
    if recipient_contact is None or not recipient_contact.email:  # unknown yet, or erased
        return None
    about = contacts[about_id] if about_id else None
    page = Page(
        title=d.title,
        recipient=recipient_contact.person,
        facts=context,
        about=about.person if about else None,
        partners=[contacts[p].person for p in partner_ids],
        inbox_url=config.inbox_url,
        site_url=config.site_url,
    )
    rendered = render(d.template, page)
    address, name = recipient_contact.email, recipient_contact.name
    invitation = None
    if context.get("calendar"):  # a visit or a meeting: the pair are its attendees
        people = [recipient_contact, *(contacts[p] for p in partner_ids)]
        invitation = _invitation(context["calendar"], about, people, config)
    message = email(
        rendered,
        sender=config.sender,
        to=(name, address),
        message_id=delivery_message_id(d.id, config.message_id_domain),
        when=now,
        headers={"X-Lbb-Delivery": str(d.id)},
        calendar=mime_part(invitation, now) if invitation else None,
    )
    return address, rendered.text, message


def _invitation(
    entry: dict[str, Any],
    host: queries.ContactDetails | None,
    people: list[queries.ContactDetails],
    config: DeliveryConfig,
) -> Invitation:
    """The calendar invitation of a visit (at the host's organisation) or a mentoring meeting (the
    recipient first among ``people``): the pair as its attendees."""
    others = " and ".join(c.name for c in people[1:])
    return Invitation.of(
        entry,
        summary=f"Leadership Exchange visit hosted by {host.name}" if host else f"Mentoring meeting with {others}",
        location=host.person.organisation_name if host else "",
        organiser=Attendee(*parseaddr(config.sender)),
        attendees=[Attendee(c.name, c.email) for c in people if c.email],
    )


async def _fail(s: AsyncSession, d: Row[Any], error: str) -> None:
    """A claimed row that cannot be sent at all: ``failed`` plus NotificationFailed."""
    error = error[:2000]
    await s.execute(update(DELIVERY).where(D.id == d.id).values(status=FAILED, last_error=error))
    await outbox.add(s, _failed_event(d, error))


async def hand_over(session: AsyncSession, jobs: list[Job]) -> set[uuid.UUID]:
    """``sending`` → ``handing_over`` for the jobs whose rows still carry their attempt (one statement);
    the ids of those rows."""
    params = {"b_ids": [j.delivery_id for j in jobs], "b_attempts": [j.attempts for j in jobs]}
    return set((await session.execute(_HAND_OVER, params)).scalars().all())


async def record_sent(session: AsyncSession, sent: list[tuple[Job, datetime]]) -> None:
    """``sent`` plus NotificationSent for each (job, when DATA was accepted) whose row still carries
    its attempt (one UPDATE, one outbox insert)."""
    if not sent:
        return
    rows = (
        await session.execute(
            _RECORD_SENT,
            {
                "b_ids": [job.delivery_id for job, _ in sent],
                "b_attempts": [job.attempts for job, _ in sent],
                "b_at": [at for _, at in sent],
            },
        )
    ).all()
    await outbox.add(session, *(ev.NotificationSent(**r._mapping) for r in rows))


async def record_failure(
    session: AsyncSession, job: Job, error: str, *, uncertain: bool, now: datetime, config: DeliveryConfig
) -> None:
    """A send that failed: ``unconfirmed`` if the server may have the message, else retry or fail."""
    d: Delivery | None = await session.scalar(
        select(Delivery)
        .where(
            Delivery.id == job.delivery_id,
            Delivery.attempts == job.attempts,
            Delivery.status.in_([SENDING, HANDING_OVER]),
        )
        .with_for_update()
    )
    if d is None:  # no longer ours (recovered by another instance)
        return
    if uncertain:
        d.status = UNCONFIRMED
        d.last_error = f"unconfirmed: outcome unknown ({error}); not sent again so that it is never sent twice"[:2000]
        await _publish_failed(session, d)
    else:
        await _retry_or_fail(session, d, error, now, config)


async def recover(session: AsyncSession, now: datetime, config: DeliveryConfig) -> int:
    """Take over rows whose claim's lease expired (their sender stopped); return how many."""
    rows = (
        await session.scalars(
            select(Delivery)
            .where(
                Delivery.status.in_([SENDING, HANDING_OVER]),
                Delivery.claimed_at < now - timedelta(seconds=config.lease_s),
            )
            .limit(config.batch_size)
            .with_for_update(skip_locked=True)
        )
    ).all()
    for d in rows:
        if d.status == SENDING:
            log.warning("delivery %s: claim expired before hand-over; it will be retried", d.id)
            await _retry_or_fail(session, d, "interrupted: the sender stopped before handing it over", now, config)
        else:
            log.warning("delivery %s: sender stopped while handing over; not sending it again", d.id)
            d.status = UNCONFIRMED
            d.last_error = (
                f"unconfirmed: the sender stopped while handing the message over; the SMTP server may have it "
                f"(Message-ID {delivery_message_id(d.id, config.message_id_domain)}); "
                "not sent again so that it is never sent twice"
            )
            await _publish_failed(session, d)
    return len(rows)


async def _retry_or_fail(s: AsyncSession, d: Delivery, error: str, now: datetime, config: DeliveryConfig) -> None:
    d.last_error = error[:2000]
    retry_at = domain.retry_at(d.attempts, now, config.max_attempts, config.retry_base_s, config.retry_max_s)
    if retry_at is None:
        d.status = FAILED
        await _publish_failed(s, d)
    else:
        d.status, d.next_attempt_at = PENDING, retry_at


async def _publish_failed(s: AsyncSession, d: Delivery) -> None:
    error = d.last_error or "unknown error"
    await outbox.add(s, _failed_event(d, error))


_ERROR_CLASSES: dict[str, ev.DeliveryError] = {c: c for c in get_args(ev.DeliveryError)}


def error_class(error: str) -> ev.DeliveryError:
    """The class a failure's text starts with (``<class>: …``): what NotificationFailed carries."""
    return _ERROR_CLASSES.get(error.split(":", 1)[0], "unreachable")


def _failed_event(d: Any, error: str) -> ev.NotificationFailed:
    """NotificationFailed for a delivery (a claimed row or a ``Delivery``): the class of the failure only."""
    return ev.NotificationFailed(
        delivery_id=d.id, error=error_class(error), **view(d, "event_id recipient_id template attempts")
    )
