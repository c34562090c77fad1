"""Reads: who is who (contacts, the staff directory, pair members, who hears about an event), a
caller's in-app inbox and preferences."""

from __future__ import annotations

import uuid
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any
from typing import cast as cast_type

from sqlalchemy import Uuid, and_, any_, bindparam, cast, literal, or_, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

from services.notifications import domain
from services.notifications.models import Contact, Delivery, PairMember, Preference, Reminder, StaffContact
from services.notifications.render import Person
from shared import events as ev
from shared.privacy import Holds
from shared.views import view


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


async def mutes_reminders(session: AsyncSession, subject: str) -> bool:
    return bool(await session.scalar(select(Preference.mute_reminders).where(Preference.subject == subject)))


async def muted(session: AsyncSession, recipients: Collection[tuple[uuid.UUID, str]]) -> set[tuple[uuid.UUID, str]]:
    """The (recipient id, kind) among ``recipients`` whose subject muted reminders: one query a kind."""
    found: set[tuple[uuid.UUID, str]] = set()
    kinds = ((domain.PERSON, Contact, Contact.person_id), (domain.STAFF, StaffContact, StaffContact.id))
    for kind, table, key in kinds:
        if ids := {r for r, k in recipients if k == kind}:
            rows = await session.scalars(
                select(key)
                .join(Preference, Preference.subject == table.subject)
                .where(_any(key, ids), Preference.mute_reminders.is_(True))
            )
            found |= {(r, kind) for r in rows}
    return found


# Built once: the statements' cache keys are computed once, not per event.
_ACTIVE = StaffContact.active.is_(True)
_BOARD = select(StaffContact.id).where(StaffContact.role == "board", _ACTIVE).order_by(StaffContact.subject)
_SPONSORS = (
    select(StaffContact.organisation_id, StaffContact.id)
    .where(
        StaffContact.role == "sponsor",
        _ACTIVE,
        StaffContact.organisation_id == any_(cast(bindparam("organisation_ids"), ARRAY(Uuid))),
    )
    .order_by(StaffContact.subject)
)


async def sponsors_of(
    session: AsyncSession, organisation_ids: Collection[uuid.UUID]
) -> dict[uuid.UUID, list[uuid.UUID]]:
    """The active sponsors of each of the organisations (staff ids, in the order of their subjects), in
    one query; an organisation without any is left out."""
    found: dict[uuid.UUID, list[uuid.UUID]] = {}
    if organisation_ids:
        rows = await session.execute(_SPONSORS, {"organisation_ids": list(organisation_ids)})
        for organisation_id, staff_id in rows:  # the query admits no NULL organisation
            found.setdefault(cast_type(uuid.UUID, organisation_id), []).append(staff_id)
    return found


async def audience(session: AsyncSession, event: Any) -> domain.Audience:
    """Who, besides the event's own ids, could hear about it: its pair's members, the sponsors of the
    applicant's organisation (a submission) or of a collaboration's organisations (its check-ins), the
    Programme Board (an endorsement)."""
    members: list[uuid.UUID] = []
    pair_id = getattr(event, "pair_id", None)
    if pair_id is not None:
        members = list(
            (
                await session.scalars(
                    select(PairMember.person_id).where(PairMember.pair_id == pair_id).order_by(PairMember.person_id)
                )
            ).all()
        )
    sponsors: list[uuid.UUID] = []
    if isinstance(event, ev.ApplicationSubmitted | ev.CollaborationCheckInDue):  # the applicant's or the owners'
        ids = [event.organisation_id] if isinstance(event, ev.ApplicationSubmitted) else event.organisation_ids
        by_organisation = await sponsors_of(session, ids)
        sponsors = [s for organisation_id in ids for s in by_organisation.get(organisation_id, [])]
    board = list((await session.scalars(_BOARD)).all()) if isinstance(event, ev.ApplicationEndorsed) else []
    return domain.Audience(pair_members=members, sponsors=sponsors, board=board)


async def inbox(session: AsyncSession, subject: str) -> list[dict[str, Any]]:
    """A caller's own notifications, newest first: as an applicant/fellow and as staff."""
    mine_as_person = select(Contact.person_id).where(Contact.subject == subject)
    mine_as_staff = select(StaffContact.id).where(StaffContact.subject == subject)
    rows = (
        await session.scalars(
            select(Delivery)
            .where(
                or_(
                    and_(Delivery.recipient_kind == domain.PERSON, Delivery.recipient_id.in_(mine_as_person)),
                    and_(Delivery.recipient_kind == domain.STAFF, Delivery.recipient_id.in_(mine_as_staff)),
                )
            )
            .order_by(Delivery.created_at.desc(), Delivery.id)
            .limit(200)
        )
    ).all()
    return [view(d, "id event_type template title body status essential created_at sent_at") for d in rows]


async def staff_directory(session: AsyncSession) -> list[dict[str, Any]]:
    rows = (
        await session.scalars(select(StaffContact).order_by(StaffContact.role, StaffContact.name, StaffContact.id))
    ).all()
    return [view(r, "id role subject name email organisation_id active") for r in rows]


async def unconfirmed(session: AsyncSession, limit: int = 500) -> list[dict[str, Any]]:
    """Deliveries whose outcome is unknown (the sender stopped while handing them over), oldest
    first: what an operator needs to decide on a resend, and nothing personal (no address, no name,
    no recipient)."""
    rows = (
        await session.execute(
            select(
                Delivery.id,
                Delivery.template,
                Delivery.attempts,
                Delivery.created_at,
                Delivery.claimed_at.label("last_attempt_at"),
            )
            .where(Delivery.status == domain.UNCONFIRMED)
            .order_by(Delivery.claimed_at, Delivery.id)
            .limit(limit)
        )
    ).all()
    return [dict(r._mapping) for r in rows]


# --- subject access ----------------------------------------------------------------------------------

PERSONAL_DATA = [
    Holds(Contact, "person_id", "application"),
    Holds(Contact, "subject", "subject"),
    Holds(Delivery, "recipient_id", "application"),
    Holds(StaffContact, "subject", "subject"),
    Holds(Preference, "subject", "subject"),
    Holds(Reminder, "recipient_id", "application"),
]
