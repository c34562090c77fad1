"""Events the feedback service consumes; each runs in one transaction with its inbox row."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy.dialects.postgresql import insert

from services.feedback import domain
from services.feedback.models import ExchangePair, FeedbackRequest, Fellow
from shared import events as ev
from shared.consumer import Context, Handler


def make_handlers(due_after: timedelta) -> dict[type[ev.Event], Handler]:
    async def on_fellow_enrolled(ctx: Context, event: ev.FellowEnrolled) -> None:
        """Who a fellow is, organisationally: for collaboration opportunities and the report."""
        values = {
            "cohort_id": event.cohort_id,
            "organisation_id": event.organisation_id,
            "organisation_code": event.organisation_code,
            "sector": event.sector,
            "place": event.place,
            "enrolled_at": event.enrolled_at,
        }
        await ctx.session.execute(
            insert(Fellow)
            .values(id=event.fellow_id, **values)
            .on_conflict_do_update(index_elements=["id"], set_=values)
        )

    async def on_pair_assigned(ctx: Context, event: ev.PairAssigned) -> None:
        await ctx.session.execute(
            insert(ExchangePair)
            .values(
                id=event.pair_id,
                cohort_id=event.cohort_id,
                fellow_ids=[str(f) for f in event.fellow_ids],
                organisation_codes=event.organisation_codes,
                assigned_at=event.assigned_at,
            )
            .on_conflict_do_nothing(index_elements=["id"])
        )

    async def on_exchange_completed(ctx: Context, event: ev.ExchangeCompleted) -> None:
        s = ctx.session
        pair = await s.get(ExchangePair, event.pair_id, with_for_update=True)
        if pair is None:  # PairAssigned and ExchangeCompleted share a key, so this means a lost event
            raise LookupError(f"ExchangeCompleted for unknown pair {event.pair_id}")
        if pair.exchange_completed_at is not None:
            return
        pair.exchange_completed_at = event.completed_at
        now = datetime.now(UTC)
        due = domain.due_at(event.completed_at, due_after)
        pair.due_at = due
        for giver in event.fellow_ids:
            for receiver in domain.partners(event.fellow_ids, giver):
                request = FeedbackRequest(
                    id=uuid.uuid4(),
                    pair_id=pair.id,
                    from_fellow_id=giver,
                    to_fellow_id=receiver,
                    due_at=due,
                    created_at=now,
                )
                s.add(request)
                await ctx.publish(
                    ev.FeedbackRequested(
                        request_id=request.id, pair_id=pair.id, from_fellow_id=giver, to_fellow_id=receiver, due_at=due
                    )
                )

    return {
        ev.FellowEnrolled: on_fellow_enrolled,
        ev.PairAssigned: on_pair_assigned,
        ev.ExchangeCompleted: on_exchange_completed,
    }
