"""Recording deliveries and reading who is who: shared by the event handlers, the reminder
scheduler, the delivery worker and the HTTP routes."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Table, Uuid, any_, cast, event, func, literal, select
from sqlalchemy.dialects.postgresql import ARRAY, insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from services.notifications.domain import PERSON, Message
from services.notifications.models import Contact, Delivery, Preference, StaffContact
from services.notifications.render import Person

# Delivery states (see models.Delivery)
PENDING = "pending"
SENDING = "sending"
HANDING_OVER = "handing_over"
SENT = "sent"
FAILED = "failed"
UNCONFIRMED = "unconfirmed"
MUTED = "muted"

_WAKE_KEY = "lbb_notifications_recorded"
_listeners: list[Callable[[], None]] = []


def on_recorded(listener: Callable[[], None]) -> None:
    """Call ``listener`` after every commit that recorded a delivery (the worker wakes at once)."""
    _listeners.append(listener)


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    if session.info.pop(_WAKE_KEY, None):
        for listener in _listeners:
            listener()


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    session.info.pop(_WAKE_KEY, None)


_DELIVERY: Table = Delivery.__table__  # type: ignore[assignment]
# Built once (Core, not an ORM bulk insert): the statement's cache key is computed once, not per call.
_RECORD_PENDING = (
    insert(_DELIVERY)
    .values(status=PENDING, next_attempt_at=func.now())  # due at once, whatever clock ``now`` came from
    .on_conflict_do_nothing(index_elements=["event_id", "recipient_id"])
    .returning(_DELIVERY.c.id)
)
_RECORD_MUTED = (
    insert(_DELIVERY)
    .values(status=MUTED, next_attempt_at=None)
    .on_conflict_do_nothing(index_elements=["event_id", "recipient_id"])
    .returning(_DELIVERY.c.id)
)


async def record(
    session: AsyncSession, *, event_id: uuid.UUID, event_type: str, message: Message, now: datetime
) -> bool:
    """Record one delivery, once per (event, recipient); False if it was recorded before.

    A non-essential message to someone who muted reminders is recorded as ``muted``: it shows in
    their in-app inbox but is never e-mailed.
    """
    muted = not message.essential and await is_muted(session, message.recipient_id, message.recipient_kind)
    result = await session.execute(
        _RECORD_MUTED if muted else _RECORD_PENDING,
        {
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
        },
    )
    recorded = result.scalar_one_or_none() is not None
    if recorded and not muted:
        session.sync_session.info[_WAKE_KEY] = True
    return recorded


async def subject_of(session: AsyncSession, recipient_id: uuid.UUID, kind: str) -> str | None:
    table: Any = Contact if kind == PERSON else StaffContact
    key = table.person_id if kind == PERSON else table.id
    subject: str | None = await session.scalar(select(table.subject).where(key == recipient_id))
    return subject


async def is_muted(session: AsyncSession, recipient_id: uuid.UUID, kind: str) -> bool:
    subject = await subject_of(session, recipient_id, kind)
    if subject is None:
        return False
    muted = await session.scalar(select(Preference.mute_reminders).where(Preference.subject == subject))
    return bool(muted)


@dataclass(frozen=True)
class ContactDetails:
    """How to reach someone and what an e-mail may say about them (a person or a staff contact)."""

    email: str
    name: str
    person: Person


def _any(column: Any, ids: Collection[uuid.UUID]) -> Any:
    """``column = ANY(:ids)``: one statement whatever the number of ids."""
    return column == any_(cast(literal(list(ids), ARRAY(Uuid)), ARRAY(Uuid)))


async def contacts(session: AsyncSession, ids: Collection[uuid.UUID]) -> dict[uuid.UUID, ContactDetails]:
    """The contact details of every person among ``ids`` that the projection knows, in one query."""
    if not ids:
        return {}
    c = Contact.__table__.c
    rows = await session.execute(
        select(c.person_id, c.email, c.name, c.job_title, c.organisation_name).where(_any(c.person_id, ids))
    )
    return {
        r.person_id: ContactDetails(r.email, r.name, Person(r.name, r.job_title, r.organisation_name)) for r in rows
    }


async def staff_contacts(session: AsyncSession, ids: Collection[uuid.UUID]) -> dict[uuid.UUID, ContactDetails]:
    """The staff directory entries among ``ids``, in one query."""
    if not ids:
        return {}
    c = StaffContact.__table__.c
    rows = await session.execute(select(c.id, c.email, c.name).where(_any(c.id, ids)))
    return {r.id: ContactDetails(r.email, r.name, Person(r.name)) for r in rows}
