"""Reminders: which an event sets, which it settles, and what each says when it fires. Pure, no I/O.

A reminder is for one recipient about one subject (a pair, a visit, a feedback, a mentoring check-in,
a project milestone) and fires at ``due_at`` unless what it asks for happened first:

- a visit not scheduled three weeks after the pair was published (the host), a scheduled visit not
  marked complete two days after its day (both), feedback due in three days (the giver);
- mentoring: the check-ins at 3 and 6 months after the pair's agreement, to both of the pair, and once
  more two weeks later to whoever has not answered yet (an answer settles that person's; closing the
  relationship settles all);
- paired learning: a project milestone a week before its due date, to both fellows (done settles it).

``commands.plan`` stores what is planned (the first plan of a reminder stands: a pair that agrees again
keeps the check-ins of its first agreement; only a visit moved to another day moves its pending
reminder), ``commands.settle`` what is settled, ``commands.fire_due`` fires.
"""

from __future__ import annotations

import calendar
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from services.notifications.domain import Message, partners_of
from shared import events as ev
from shared import programmes

# Reminder kinds
VISIT_UNSCHEDULED = "visit_unscheduled"
VISIT_UNCOMPLETED = "visit_uncompleted"
FEEDBACK_DUE = "feedback_due"
MENTORING_CHECK_IN = "mentoring_check_in"
MENTORING_CHECK_IN_AGAIN = "mentoring_check_in_again"
MILESTONE_DUE = "milestone_due"

CHECK_IN_MONTHS = (3, 6)  # months after the agreement (DESIGN.md, "Programme kinds")

_NAMESPACE = uuid.UUID("6b3f0a52-7d0e-4a55-9d0c-6a1f1f6a0b6e")


REMINDER_TEMPLATES = {
    VISIT_UNSCHEDULED: "reminder_schedule_visit",
    VISIT_UNCOMPLETED: "reminder_complete_visit",
    FEEDBACK_DUE: "reminder_feedback_due",
    MENTORING_CHECK_IN: "reminder_mentoring_check_in",
    MENTORING_CHECK_IN_AGAIN: "reminder_mentoring_check_in",
    MILESTONE_DUE: "reminder_milestone_due",
}


@dataclass(frozen=True)
class ReminderRules:
    visit_unscheduled_after: timedelta = timedelta(days=21)
    visit_uncompleted_after: timedelta = timedelta(days=2)
    feedback_before_due: timedelta = timedelta(days=3)
    check_in_again_after: timedelta = timedelta(days=14)
    milestone_before_due: timedelta = timedelta(days=7)


@dataclass(frozen=True)
class ReminderPlan:
    kind: str
    subject_id: uuid.UUID
    recipient_id: uuid.UUID
    due_at: datetime
    context: dict[str, Any] = field(default_factory=dict)
    moves: bool = False  # planned again while pending, it takes the new date (a visit moved); else the first stands

    @property
    def id(self) -> uuid.UUID:
        return reminder_id(self.kind, self.subject_id, self.recipient_id)


@dataclass(frozen=True)
class ReminderSettled:
    """What a reminder asked for happened: it must not fire."""

    kind: str
    subject_id: uuid.UUID
    recipient_ids: list[uuid.UUID]


def reminder_id(kind: str, subject_id: uuid.UUID, recipient_id: uuid.UUID) -> uuid.UUID:
    """Deterministic: the same reminder always has the same id (and so the same delivery key)."""
    return uuid.uuid5(_NAMESPACE, f"{kind}/{subject_id}/{recipient_id}")


def feedback_subject(pair_id: uuid.UUID, from_fellow: uuid.UUID, to_fellow: uuid.UUID) -> uuid.UUID:
    """The key FeedbackRequested and FeedbackSubmitted share (the latter carries no request id)."""
    return uuid.uuid5(_NAMESPACE, f"feedback/{pair_id}/{from_fellow}/{to_fellow}")


def check_in_subject(pair_id: uuid.UUID, month: int) -> uuid.UUID:
    """The subject of a mentoring pair's check-in of ``month``: what its reminders and its answer share."""
    return uuid.uuid5(_NAMESPACE, f"check-in/{pair_id}/{month}")


def months_after(moment: datetime, months: int) -> datetime:
    """The same day ``months`` calendar months later (the month's last day when it is shorter)."""
    month0 = moment.month - 1 + months
    year, month = moment.year + month0 // 12, month0 % 12 + 1
    return moment.replace(year=year, month=month, day=min(moment.day, calendar.monthrange(year, month)[1]))


def _morning(day: date) -> datetime:
    return datetime.combine(day, time(9), tzinfo=UTC)


def reminders_for(
    event: ev.Event, members: list[uuid.UUID], rules: ReminderRules
) -> tuple[list[ReminderPlan], list[ReminderSettled]]:
    """The reminders an event sets, and the ones it settles."""
    match event:
        case ev.PairAssigned():  # each fellow who hosts a visit (none in mentoring; the sharer in shadowing)
            due = event.assigned_at + rules.visit_unscheduled_after
            return [
                ReminderPlan(
                    VISIT_UNSCHEDULED,
                    event.pair_id,
                    fellow,
                    due,
                    {"partner_ids": partners_of(event.fellow_ids, fellow)},
                )
                for fellow in hosts(event)
            ], []
        case ev.ExchangeVisitScheduled():
            due = _morning(event.date) + rules.visit_uncompleted_after
            plans = [
                ReminderPlan(
                    VISIT_UNCOMPLETED,
                    event.visit_id,
                    fellow,
                    due,
                    {"date": event.date.isoformat(), "about_id": str(event.host_fellow_id)},
                )
                for fellow in members
            ]
            return plans, [ReminderSettled(VISIT_UNSCHEDULED, event.pair_id, [event.host_fellow_id])]
        case ev.ExchangeVisitMoved():  # the reminder still pending follows the visit to its new day
            due = _morning(event.date) + rules.visit_uncompleted_after
            context = {"date": event.date.isoformat(), "about_id": str(event.host_fellow_id)}
            return [
                ReminderPlan(VISIT_UNCOMPLETED, event.visit_id, fellow, due, context, moves=True) for fellow in members
            ], []
        case ev.ExchangeVisitCompleted() | ev.ExchangeVisitCancelled():
            return [], [ReminderSettled(VISIT_UNCOMPLETED, event.visit_id, members)]
        case ev.MentoringAgreed():
            return _check_ins(event, members, rules), []
        case ev.MentoringCheckInAnswered():
            subject = check_in_subject(event.pair_id, event.month)
            kinds = (MENTORING_CHECK_IN, MENTORING_CHECK_IN_AGAIN)
            return [], [ReminderSettled(kind, subject, [event.fellow_id]) for kind in kinds]
        case ev.MentoringClosed():
            return [], [
                ReminderSettled(kind, check_in_subject(event.pair_id, month), members)
                for month in CHECK_IN_MONTHS
                for kind in (MENTORING_CHECK_IN, MENTORING_CHECK_IN_AGAIN)
            ]
        case ev.ProjectMilestoneSet():
            due = _morning(event.due) - rules.milestone_before_due
            return [
                ReminderPlan(
                    MILESTONE_DUE,
                    event.milestone_id,
                    f,
                    due,
                    {"due": event.due.isoformat(), "partner_ids": partners_of(members, f)},
                )
                for f in members
            ], []
        case ev.ProjectMilestoneDone():
            return [], [ReminderSettled(MILESTONE_DUE, event.milestone_id, members)]
        case ev.FeedbackRequested():
            subject = feedback_subject(event.pair_id, event.from_fellow_id, event.to_fellow_id)
            plan = ReminderPlan(
                FEEDBACK_DUE,
                subject,
                event.from_fellow_id,
                event.due_at - rules.feedback_before_due,
                {"due_at": event.due_at.isoformat(), "about_id": str(event.to_fellow_id)},
            )
            return [plan], []
        case ev.FeedbackSubmitted():
            subject = feedback_subject(event.pair_id, event.from_fellow_id, event.to_fellow_id)
            return [], [ReminderSettled(FEEDBACK_DUE, subject, [event.from_fellow_id])]
    return [], []


def _check_ins(event: ev.MentoringAgreed, members: list[uuid.UUID], rules: ReminderRules) -> list[ReminderPlan]:
    """Both of the pair, at 3 and 6 months after they agreed, and once more two weeks later."""
    plans = []
    for month in CHECK_IN_MONTHS:
        due = months_after(event.agreed_at, month)
        subject = check_in_subject(event.pair_id, month)
        for fellow in members:
            context = {"month": month, "pair_id": str(event.pair_id), "partner_ids": partners_of(members, fellow)}
            plans.append(ReminderPlan(MENTORING_CHECK_IN, subject, fellow, due, context))
            plans.append(
                ReminderPlan(MENTORING_CHECK_IN_AGAIN, subject, fellow, due + rules.check_in_again_after, context)
            )
    return plans


def hosts(event: ev.PairAssigned) -> list[uuid.UUID]:
    """The fellows of a pair who host a visit, by the cohort's kind (shared/programmes.py)."""
    kind = programmes.kind(event.kind)
    if kind.visits_per_match == 0:
        return []
    return [f for f in event.fellow_ids if kind.host is None or event.roles.get(f) == kind.host]


def reminder_message(kind: str, recipient_id: uuid.UUID, context: dict[str, Any]) -> Message:
    return Message(recipient_id, REMINDER_TEMPLATES[kind], context=context)
