"""Transaction scripts of what events and routes change: the deliveries an event gives rise to (and
the wake hook that tells the delivery worker), reminders set, settled and fired, the contact
projection, the staff directory and preferences. Each runs in the session its caller opened.

Sending a recorded delivery (claim, hand over, record the outcome, recover) is in ``sending.py``.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import String, Table, delete, func, literal, or_, select, update
from sqlalchemy import cast as sql_cast
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.notifications import diary, domain, models, queries, reminders
from services.notifications.domain import FAILED, MUTED, PENDING, REMINDER_FIRED, REMINDER_PENDING, REMINDER_SETTLED
from services.notifications.models import (
    CalendarEntry,
    Contact,
    Delivery,
    PairMember,
    Preference,
    Reminder,
    StaffContact,
    outbox,
)
from shared import events as ev
from shared import privacy, tracing
from shared.clock import utcnow
from shared.db import upsert
from shared.envelope import Envelope
from shared.errors import Conflict, Invalid, NotFound
from shared.retention import BATCH
from shared.worker import channel_name, wake_on_commit

# Recording a delivery wakes the delivery worker of every instance when the transaction commits.
DELIVERIES = channel_name(models.SCHEMA, "delivery")


# --- recording deliveries ----------------------------------------------------------------------------

DELIVERY: Table = Delivery.__table__  # type: ignore[assignment]
# Built once (Core, not an ORM bulk insert): the statement's cache key is computed once, not per call;
# run with a list of rows (executemany), one prepared statement whatever their number.
_RECORD_PENDING = (
    insert(DELIVERY)
    .values(status=PENDING, next_attempt_at=func.now())  # due at once, whatever clock ``now`` came from
    .on_conflict_do_nothing(index_elements=["event_id", "recipient_id"])
)
_RECORD_MUTED = (
    insert(DELIVERY)
    .values(status=MUTED, next_attempt_at=None)
    .on_conflict_do_nothing(index_elements=["event_id", "recipient_id"])
)


def _delivery(event_id: uuid.UUID, event_type: str, message: domain.Message, now: datetime) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": uuid.uuid4(),
        "event_id": event_id,
        "event_type": event_type,
        "recipient_id": message.recipient_id,
        "recipient_kind": message.recipient_kind,
        "template": message.template,
        "title": message.title,
        "body": message.body,
        "context": message.context,
        "essential": message.essential,
        "attempts": 0,
        "created_at": now,
    }
    if tracing.ON:  # the e-mail's SMTP span continues the trace this delivery is recorded in
        row |= tracing.current()
    return row


Caused = tuple[uuid.UUID, str, domain.Message]  # a message and the event (id and type) it comes from


async def record(session: AsyncSession, messages: list[Caused], now: datetime) -> None:
    """Record deliveries, once per (event, recipient): one statement for those to e-mail, one for the
    muted; a delivery recorded before is left as it is.

    A non-essential message to someone who muted reminders is recorded as ``muted``: it shows in
    their in-app inbox but is never e-mailed.
    """
    optional = {(m.recipient_id, m.recipient_kind) for _, _, m in messages if not m.essential}
    mutes = await queries.muted(session, optional) if optional else set()
    pending: list[dict[str, Any]] = []
    muted: list[dict[str, Any]] = []
    for event_id, event_type, message in messages:
        mute = (message.recipient_id, message.recipient_kind) in mutes  # only a non-essential one is asked
        (muted if mute else pending).append(_delivery(event_id, event_type, message, now))
    for statement, rows in ((_RECORD_PENDING, pending), (_RECORD_MUTED, muted)):
        if rows:  # executemany: one prepared statement, whatever the number of rows
            await session.execute(statement, rows)
    if pending:  # a message recorded before wakes the worker for nothing: it finds no more due
        wake_on_commit(session, DELIVERIES)


async def notify(
    session: AsyncSession, envelope: Envelope, event: ev.Event, rules: reminders.ReminderRules, now: datetime
) -> None:
    """Record who hears about ``event`` (and a pair's members, from PairAssigned), and set or settle
    the reminders it causes. E-mail goes out later, from the delivery worker."""
    if isinstance(event, ev.PairAssigned) and event.fellow_ids:
        await session.execute(
            insert(PairMember)
            .values([{"pair_id": event.pair_id, "person_id": f} for f in event.fellow_ids])
            .on_conflict_do_nothing()
        )
    who = await queries.audience(session, event)
    revision = await revise_calendar(session, event, now) if isinstance(event, diary.CalendarEvent) else None
    await record(session, [(envelope.id, envelope.type, m) for m in domain.messages_for(event, who, revision)], now)
    planned, settled = reminders.reminders_for(event, who.pair_members, rules)
    await settle(session, settled, now)
    await plan(session, planned, now)


async def notify_submitted(
    session: AsyncSession, submitted: list[tuple[Envelope, ev.ApplicationSubmitted]], now: datetime
) -> None:
    """A run of submissions, as ``notify`` records each, in a few statements: the sponsors of all their
    organisations in one query, every delivery in one insert (a submission sets no reminders)."""
    sponsors = await queries.sponsors_of(session, {event.organisation_id for _, event in submitted})
    messages = [
        (envelope.id, envelope.type, message)
        for envelope, event in submitted
        for message in domain.messages_for(event, domain.Audience(sponsors=sponsors.get(event.organisation_id, [])))
    ]
    await record(session, messages, now)


async def revise_calendar(session: AsyncSession, event: diary.CalendarEvent, now: datetime) -> diary.Revision:
    """The calendar entry of a visit or a meeting after ``event``: new at SEQUENCE 0 when first put in
    the diary; moved or cancelled, one more, with when it now is (a cancellation keeps its time). One
    pair's events come in order."""
    first = diary.unrevised(event, now)
    when = diary.when(event)
    values = {"starts_at": first.when.starts_at, "minutes": first.when.minutes, "day": first.when.day}
    stmt = insert(CalendarEntry).values(
        uid=diary.uid(event), sequence=0, cancelled=when is None, updated_at=now, **values
    )
    if isinstance(event, diary.FIRST):
        stmt = stmt.on_conflict_do_nothing(index_elements=["uid"])
    else:
        changes = {"sequence": CalendarEntry.sequence + 1, "cancelled": when is None, "updated_at": now}
        stmt = stmt.on_conflict_do_update(index_elements=["uid"], set_=changes | (values if when else {}))
    await session.execute(stmt)
    entry = await session.get_one(CalendarEntry, diary.uid(event), populate_existing=True)
    return diary.Revision(entry.sequence, diary.When(entry.day, entry.starts_at, entry.minutes))


async def resend(session: AsyncSession, delivery_id: uuid.UUID, now: datetime) -> None:
    """An ``unconfirmed`` delivery back to ``pending``, due now, on an operator's word (the delivery
    worker of every instance is woken on commit). It goes out with the same Message-ID as before;
    404 if there is no such delivery, 409 unless it is ``unconfirmed``."""
    d = await session.get(Delivery, delivery_id, with_for_update=True)
    if d is None:
        raise NotFound("no such delivery")
    if not domain.may_resend(d.status):
        raise Conflict(f"only an unconfirmed delivery is sent again; this one is {d.status}", state=d.status)
    d.status, d.next_attempt_at = PENDING, now
    d.last_error = "resend: unconfirmed, sent again on an operator's word"
    wake_on_commit(session, DELIVERIES)


# --- reminders -------------------------------------------------------------------------------------
# Reminders are rows, so a restart loses nothing. Firing locks due rows with ``FOR UPDATE SKIP
# LOCKED`` and marks them ``fired`` in the transaction that records the delivery, whose key is the
# reminder's deterministic id: even a second instance that saw the same row records no second one.


async def plan(session: AsyncSession, plans: list[reminders.ReminderPlan], now: datetime) -> None:
    """Set reminders. Planned again, the first plan stands, unless the plan ``moves`` it (a visit moved):
    then a reminder still pending takes the new date; one settled or fired stays as it is."""
    key = ["kind", "subject_id", "recipient_id"]
    for p in plans:
        values = {k: v for k, v in asdict(p).items() if k != "moves"}
        stmt = insert(Reminder).values(id=p.id, status=REMINDER_PENDING, created_at=now, **values)
        if p.moves:
            moved = {"due_at": p.due_at, "context": p.context}
            await session.execute(
                stmt.on_conflict_do_update(index_elements=key, set_=moved, where=Reminder.status == REMINDER_PENDING)
            )
        else:
            await session.execute(stmt.on_conflict_do_nothing(index_elements=key))


async def settle(session: AsyncSession, settled: list[reminders.ReminderSettled], now: datetime) -> None:
    """Stop reminders from firing; a reminder settled before it was planned stays settled."""
    for s in settled:
        for recipient in s.recipient_ids:
            stmt = insert(Reminder).values(
                id=reminders.reminder_id(s.kind, s.subject_id, recipient),
                kind=s.kind,
                subject_id=s.subject_id,
                recipient_id=recipient,
                due_at=now,
                status=REMINDER_SETTLED,
                context={},
                created_at=now,
            )
            await session.execute(
                stmt.on_conflict_do_update(
                    index_elements=["kind", "subject_id", "recipient_id"],
                    set_={"status": REMINDER_SETTLED},
                    where=Reminder.status == REMINDER_PENDING,
                )
            )


FIRE_BATCH = 100  # reminders fired per transaction


async def fire_due(
    session: AsyncSession, now: datetime, *, limit: int = FIRE_BATCH, subjects: Collection[uuid.UUID] | None = None
) -> int:
    """Turn due reminders into deliveries (muted ones into in-app-only deliveries); return how many.

    ``subjects`` limits firing to reminders about those pairs, visits or feedback (tests use it to
    fire their own reminders with a future ``now`` on a shared database).
    """
    query = (
        select(Reminder)
        .where(Reminder.status == REMINDER_PENDING, Reminder.due_at <= now)
        .order_by(Reminder.due_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    if subjects is not None:
        query = query.where(Reminder.subject_id.in_(list(subjects)))
    due = (await session.scalars(query)).all()
    messages = [(r.id, "Reminder", reminders.reminder_message(r.kind, r.recipient_id, dict(r.context))) for r in due]
    await record(session, messages, now)
    for reminder in due:
        reminder.status, reminder.fired_at = REMINDER_FIRED, now
    return len(due)


# --- contacts, the staff directory, preferences ----------------------------------------------------

_UPSERT_CONTACT = upsert(Contact.__table__)  # type: ignore[arg-type]


async def record_contacts(session: AsyncSession, contacts: list[ev.ContactRecorded], now: datetime) -> None:
    """Every contact in one executemany (asyncpg pipelines it): a backlog of contacts is applied at
    several thousand a second rather than one statement's round trip each."""
    await session.execute(_UPSERT_CONTACT, [c.model_dump() | {"updated_at": now} for c in contacts])


async def set_preferences(session: AsyncSession, subject: str, *, mute_reminders: bool, now: datetime) -> None:
    values = {"mute_reminders": mute_reminders, "updated_at": now}
    await session.execute(
        insert(Preference)
        .values(subject=subject, **values)
        .on_conflict_do_update(index_elements=["subject"], set_=values)
    )


async def register_staff_contact(
    session: AsyncSession,
    *,
    role: str,
    subject: str,
    name: str,
    email: str,
    organisation_id: uuid.UUID | None,
    now: datetime,
) -> uuid.UUID:
    """Register (or update) a sponsor of an organisation or a Programme Board member."""
    if role == "sponsor" and organisation_id is None:
        raise Invalid("a sponsor needs organisation_id")
    organisation = organisation_id if role == "sponsor" else None
    values = {"name": name, "email": email, "organisation_id": organisation, "active": True, "updated_at": now}
    staff_id: uuid.UUID | None = await session.scalar(
        insert(StaffContact)
        .values(id=uuid.uuid4(), role=role, subject=subject, organisation_key=str(organisation or ""), **values)
        .on_conflict_do_update(index_elements=["role", "subject", "organisation_key"], set_=values)
        .returning(StaffContact.id)
    )
    assert staff_id is not None
    return staff_id


async def remove_staff_contact(session: AsyncSession, staff_id: uuid.UUID, now: datetime) -> None:
    """Stop notifying this person as staff (their past notifications stay in their inbox)."""
    staff = await session.get(StaffContact, staff_id, with_for_update=True)
    if staff is None:
        raise NotFound("no such staff contact")
    staff.active = False
    staff.updated_at = now


# --- retention (shared/retention.py runs it) --------------------------------------------------------


async def purge_addresses(
    s: AsyncSession, now: datetime, keep: timedelta, limit: int = BATCH, recipient_id: uuid.UUID | None = None
) -> int:
    """Forget the address a settled delivery went to once it is older than ``keep`` (one batch; of one
    recipient, or all). The in-app message stays in the person's inbox. Returns how many."""
    query = (
        select(Delivery.id)
        .where(Delivery.email.is_not(None), Delivery.status.in_(domain.SETTLED), Delivery.created_at <= now - keep)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    if recipient_id is not None:
        query = query.where(Delivery.recipient_id == recipient_id)
    expired = (await s.scalars(query)).all()
    if expired:
        await s.execute(update(Delivery).where(Delivery.id.in_(expired)).values(email=None))
    return len(expired)


# --- erasure (shared/privacy.py) ----------------------------------------------------------------------

ERASED = "erased"  # Delivery.last_error of a message never sent because its recipient was erased


async def erase_person(s: AsyncSession, event: ev.PersonErasureRequested) -> None:
    """Forget a person: their contact's name, address, job title and subject, their preferences, the address
    each of their messages went to, the words of every message that names them; messages not sent
    yet are not sent, reminders not fired never fire. The deliveries stay (ids, template, title,
    summary, status: the in-app record and the counts)."""
    ids = privacy.erased_ids(event)
    gone = set((await s.scalars(select(Contact.subject).where(Contact.person_id.in_(ids)))).all())
    # The contact stays as "a former fellow" (organisation kept), so a partner's later message that
    # names them still renders; with no address, nothing is sent to them (sending.py).
    await s.execute(
        update(Contact)
        .where(Contact.person_id.in_(ids))
        .values(
            name=privacy.FORMER_FELLOW,
            email="",
            job_title="",
            subject=literal("erased-") + sql_cast(Contact.person_id, String),
            updated_at=utcnow(),
        )
    )
    if gone:
        await s.execute(delete(Preference).where(Preference.subject.in_(gone)))
    await s.execute(update(Delivery).where(Delivery.recipient_id.in_(ids)).values(email=None))
    # A sent message's text was rendered with the names it introduces: every message that names the
    # person (theirs, and those about them or introducing them to a partner) goes back to its summary.
    context = sql_cast(Delivery.context, JSONB)
    naming = or_(
        Delivery.recipient_id.in_(ids),
        context["about_id"].astext.in_([str(i) for i in ids]),
        *(context["partner_ids"].contains([str(i)]) for i in ids),
    )
    named = (await s.execute(select(Delivery.id, Delivery.template).where(naming))).all()
    for template, delivery_ids in domain.by_template(named).items():
        await s.execute(update(Delivery).where(Delivery.id.in_(delivery_ids)).values(body=domain.summary(template)))
    await s.execute(
        update(Delivery)
        .where(Delivery.recipient_id.in_(ids), Delivery.status == PENDING)
        .values(status=FAILED, last_error=ERASED, next_attempt_at=None)
    )
    await s.execute(
        update(Reminder)
        .where(Reminder.recipient_id.in_(ids), Reminder.status == REMINDER_PENDING)
        .values(status=REMINDER_SETTLED)
    )
    await privacy.confirm(s, outbox, event, "notifications")
