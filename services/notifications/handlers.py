"""Events the notifications service consumes; each runs in one transaction with its inbox row.

A handler only records: who gets which message (deliveries) and which reminders are set or
settled. E-mail goes out later from the delivery worker, so a slow or refusing SMTP server never
holds up consumption, and a redelivered event finds its deliveries already recorded.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.dialects.postgresql import insert

from services.notifications import domain, reminders, store
from services.notifications.models import Contact, PairMember, StaffContact
from shared import events as ev
from shared.consumer import Batched, Context, Handler
from shared.db import upsert

_UPSERT_CONTACT = upsert(Contact.__table__)  # type: ignore[arg-type]


async def contacts_recorded(ctx: Context, events: list[ev.ContactRecorded]) -> None:
    """Every ContactRecorded of a run in one executemany (asyncpg pipelines it): a backlog of contacts
    is applied at several thousand a second rather than one statement's round trip each."""
    now = datetime.now(UTC)
    await ctx.session.execute(_UPSERT_CONTACT, [event.model_dump() | {"updated_at": now} for event in events])


on_contact_recorded = Batched(contacts_recorded)


_STAFF_QUERY = select(StaffContact.id).where(StaffContact.role == bindparam("role"), StaffContact.active.is_(True))
# Built once with parameters: the statement's cache key is computed once, not per event.
_STAFF_OF_ORGANISATION = _STAFF_QUERY.where(StaffContact.organisation_id == bindparam("organisation_id")).order_by(
    StaffContact.subject
)
_STAFF = _STAFF_QUERY.order_by(StaffContact.subject)


async def _staff(ctx: Context, role: str, organisation_id: uuid.UUID | None = None) -> list[uuid.UUID]:
    if organisation_id is None:
        result = await ctx.session.scalars(_STAFF, {"role": role})
    else:
        result = await ctx.session.scalars(_STAFF_OF_ORGANISATION, {"role": role, "organisation_id": organisation_id})
    return list(result.all())


async def audience(ctx: Context, event: Any) -> domain.Audience:
    s = ctx.session
    members: list[uuid.UUID] = []
    pair_id = getattr(event, "pair_id", None)
    if pair_id is not None:
        members = list(
            (
                await s.scalars(
                    select(PairMember.person_id).where(PairMember.pair_id == pair_id).order_by(PairMember.person_id)
                )
            ).all()
        )
    sponsors = await _staff(ctx, "sponsor", event.organisation_id) if isinstance(event, ev.ApplicationSubmitted) else []
    board = await _staff(ctx, "board") if isinstance(event, ev.ApplicationEndorsed) else []
    return domain.Audience(pair_members=members, sponsors=sponsors, board=board)


def make_notify(rules: domain.ReminderRules) -> Handler:
    async def notify(ctx: Context, event: Any) -> None:
        s = ctx.session
        now = datetime.now(UTC)
        if isinstance(event, ev.PairAssigned) and event.fellow_ids:
            await s.execute(
                insert(PairMember)
                .values([{"pair_id": event.pair_id, "person_id": f} for f in event.fellow_ids])
                .on_conflict_do_nothing()
            )
        who = await audience(ctx, event)
        for message in domain.messages_for(event, who):
            await store.record(s, event_id=ctx.envelope.id, event_type=ctx.envelope.type, message=message, now=now)
        planned, settled = domain.reminders_for(event, who.pair_members, rules)
        await reminders.settle(s, settled, now)
        await reminders.plan(s, planned, now)

    return notify


NOTIFIED: tuple[type[ev.Event], ...] = (
    ev.ApplicationSubmitted,
    ev.ApplicationEndorsed,
    ev.ApplicationShortlisted,
    ev.ApplicationWaitlisted,
    ev.ApplicationDeclined,
    ev.ApplicationWithdrawn,
    ev.FellowEnrolled,
    ev.PairAssigned,
    ev.ExchangeVisitScheduled,
    ev.ExchangeVisitCompleted,
    ev.ExchangeCompleted,
    ev.FeedbackRequested,
    ev.FeedbackSubmitted,
    ev.FeedbackReleased,
    ev.CollaborationOpportunityIdentified,
)
# Waitlist promotion: whatever the applications service names its event (e.g. ApplicationPromoted)
PROMOTIONS: tuple[type[ev.Event], ...] = tuple(
    cls for name, cls in ev.REGISTRY.items() if "Promot" in name and "application_id" in cls.model_fields
)


def make_handlers(rules: domain.ReminderRules) -> dict[type[ev.Event], Handler]:
    notify = make_notify(rules)
    return {ev.ContactRecorded: on_contact_recorded, **dict.fromkeys(NOTIFIED + PROMOTIONS, notify)}
