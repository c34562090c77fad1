"""Events the notifications service consumes; each runs in one transaction with its inbox row."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert

from services.notifications.domain import messages_for
from services.notifications.models import Contact, Delivery, PairMember
from shared import events as ev
from shared.consumer import Context, Handler

RECORDED = "recorded"


async def on_contact_recorded(ctx: Context, event: ev.ContactRecorded) -> None:
    values = event.model_dump(exclude={"person_id"}) | {"updated_at": datetime.now(UTC)}
    await ctx.session.execute(
        insert(Contact)
        .values(person_id=event.person_id, **values)
        .on_conflict_do_update(index_elements=["person_id"], set_=values)
    )


async def notify(ctx: Context, event: Any) -> None:
    s = ctx.session
    if isinstance(event, ev.PairAssigned) and event.fellow_ids:
        await s.execute(
            insert(PairMember)
            .values([{"pair_id": event.pair_id, "person_id": f} for f in event.fellow_ids])
            .on_conflict_do_nothing()
        )
    pair_id = getattr(event, "pair_id", None)
    members: list[uuid.UUID] = []
    if pair_id is not None:
        members = list((await s.scalars(select(PairMember.person_id).where(PairMember.pair_id == pair_id))).all())
    now = datetime.now(UTC)
    for message in messages_for(event, members):
        await s.execute(
            insert(Delivery)
            .values(
                id=uuid.uuid4(),
                event_id=ctx.envelope.id,
                event_type=ctx.envelope.type,
                recipient_id=message.recipient_id,
                template=message.template,
                title=message.title,
                body=message.body,
                context={"subject": ctx.envelope.subject},
                status=RECORDED,
                attempts=0,
                created_at=now,
            )
            .on_conflict_do_nothing(index_elements=["event_id", "recipient_id"])
        )


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

HANDLERS: dict[type[ev.Event], Handler] = {ev.ContactRecorded: on_contact_recorded, **dict.fromkeys(NOTIFIED, notify)}
