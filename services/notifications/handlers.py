"""Events the notifications service consumes; each runs in one transaction with its inbox row.

A handler only records: who gets which message (deliveries) and which reminders are set or
settled. E-mail goes out later from the delivery worker, so a slow or refusing SMTP server never
holds up consumption, and a redelivered event finds its deliveries already recorded.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast

from services.notifications import commands
from services.notifications.settings import NotificationsSettings
from shared import events as ev
from shared.consumer import Batched, Context, Handler


async def contacts_recorded(ctx: Context, events: list[ev.ContactRecorded]) -> None:
    """A run of ContactRecorded in one statement (the contact projection)."""
    await commands.record_contacts(ctx.session, events, datetime.now(UTC))


async def notify(ctx: Context, event: Any) -> None:
    rules = cast(NotificationsSettings, ctx.settings).reminder_rules()
    await commands.notify(ctx.session, ctx.envelope, event, rules, datetime.now(UTC))


async def applications_submitted(ctx: Context, events: list[ev.ApplicationSubmitted]) -> None:
    """A run of submissions in a few statements (the busiest event: one per application)."""
    await commands.notify_submitted(ctx.session, list(zip(ctx.envelopes, events, strict=True)), datetime.now(UTC))


NOTIFIED: tuple[type[ev.Event], ...] = (
    ev.ApplicationSubmitted,
    ev.ApplicationEndorsed,
    ev.ApplicationShortlisted,  # a promotion from the waiting list too (promoted_after_withdrawal_of)
    ev.ApplicationWaitlisted,
    ev.ApplicationDeclined,
    ev.ApplicationWithdrawn,
    ev.FellowEnrolled,
    ev.PairAssigned,
    ev.ExchangeVisitScheduled,
    ev.ExchangeVisitMoved,
    ev.ExchangeVisitCancelled,
    ev.ExchangeVisitCompleted,
    ev.ExchangeCompleted,
    ev.ShadowingReflectionShared,
    ev.MentoringAgreed,  # its check-in reminders
    ev.MentoringMeetingPlanned,  # calendar invitations
    ev.MentoringMeetingMoved,
    ev.MentoringMeetingCancelled,
    ev.MentoringCheckInAnswered,
    ev.MentoringClosed,
    ev.ProjectMilestoneSet,  # its reminder
    ev.ProjectMilestoneDone,
    ev.FeedbackRequested,
    ev.FeedbackSubmitted,
    ev.FeedbackReleased,
    ev.CollaborationOpportunityIdentified,
    ev.CollaborationCheckInDue,
)


async def erasure_requested(ctx: Context, event: ev.PersonErasureRequested) -> None:
    await commands.erase_person(ctx.session, event)


HANDLERS: dict[type[ev.Event], Handler] = {
    ev.ContactRecorded: Batched(contacts_recorded),
    ev.PersonErasureRequested: erasure_requested,
    **dict.fromkeys(NOTIFIED, notify),
    # submissions come in bursts when a window opens: a run of them finds its sponsors in one query
    # and records its deliveries in one statement (README, "Before and after issue 16's refactor")
    ev.ApplicationSubmitted: Batched(applications_submitted),
}
