"""Events the feedback service consumes; each runs in one transaction with its inbox row."""

from __future__ import annotations

from sqlalchemy.dialects.postgresql import insert

from services.feedback import commands, models, settings
from services.feedback.models import ExchangePair
from shared import events as ev
from shared.consumer import Context, Handler


async def on_fellow_enrolled(ctx: Context, event: ev.FellowEnrolled) -> None:
    await commands.enrol_fellow(ctx.session, event)


async def on_application_withdrawn(ctx: Context, event: ev.ApplicationWithdrawn) -> None:
    await commands.withdraw_fellow(ctx.session, event.application_id, event.withdrawn_at)


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
    await commands.open_feedback(
        ctx.session,
        event.pair_id,
        event.fellow_ids,
        event.completed_at,
        settings.of(ctx.settings).due_after,
        now=commands.system_clock(),
    )


async def on_erasure_requested(ctx: Context, event: ev.PersonErasureRequested) -> None:
    await commands.erase_person(ctx.session, event)


HANDLERS: dict[type[ev.Event], Handler] = {
    ev.ContactRecorded: models.applicants.handler,
    ev.FellowEnrolled: on_fellow_enrolled,
    ev.ApplicationWithdrawn: on_application_withdrawn,
    ev.PairAssigned: on_pair_assigned,
    ev.ExchangeCompleted: on_exchange_completed,
    ev.PersonErasureRequested: on_erasure_requested,
}
