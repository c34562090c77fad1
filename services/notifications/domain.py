"""Who hears about which event, what they are told, which reminders an event sets or settles, and
when a delivery is tried again.

Pure, no I/O: the commands look up the audience (pair members, the organisation's sponsors, the
board) and pass it in; the messages carry only ids and facts from the event, and the templates
get names, job titles and organisations from the contact projection when the e-mail is rendered.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from services.notifications import diary
from shared import events as ev

PERSON = "person"  # a recipient from the contact projection (an application / fellow id)
STAFF = "staff"  # a recipient from the notifications-owned staff directory (sponsor, board)

# Delivery states (the life cycle is described on models.Delivery)
PENDING = "pending"
SENDING = "sending"
HANDING_OVER = "handing_over"
SENT = "sent"
FAILED = "failed"
UNCONFIRMED = "unconfirmed"
MUTED = "muted"
# A delivery in one of these states is done with: its address is no longer needed once retention ends.
SETTLED = (SENT, FAILED, UNCONFIRMED, MUTED)


def may_resend(status: str) -> bool:
    """Only an ``unconfirmed`` delivery is sent again, and only on an operator's word: the SMTP server
    may have it (the sender stopped while handing it over), so whether it arrived is for someone who
    can ask the mail system by its Message-ID; the resend carries the same Message-ID."""
    return status == UNCONFIRMED


# Reminder states
REMINDER_PENDING = "pending"
REMINDER_FIRED = "fired"
REMINDER_SETTLED = "settled"


@dataclass(frozen=True)
class Template:
    title: str
    summary: str  # the in-app text before the e-mail is rendered: no personal data
    essential: bool = True


TEMPLATES: dict[str, Template] = {
    "application_submitted": Template(
        "We have your application", "Thank you for applying. Your organisation's sponsor will review it next."
    ),
    "endorsement_requested": Template(
        "An application needs your endorsement", "A member of your organisation's staff applied and needs your review."
    ),
    "application_endorsed": Template(
        "Your organisation has put you forward",
        "Your sponsor endorsed your application; the Programme Board will decide next.",
    ),
    "decision_requested": Template(
        "An application awaits the Programme Board's decision", "An endorsed application is ready for a decision."
    ),
    "application_shortlisted": Template("You are shortlisted", "The Programme Board shortlisted you."),
    "application_waitlisted": Template("You are on the waiting list", "The Programme Board waitlisted you."),
    "application_declined": Template("About your application", "The Programme Board declined your application."),
    "application_withdrawn": Template("Your application is withdrawn", "Your application has been withdrawn."),
    "waitlist_promoted": Template(
        "A place has come up for you", "You have been moved from the waiting list onto the programme."
    ),
    "fellow_enrolled": Template("Welcome, fellow", "You are enrolled as a fellow of the cohort."),
    "pair_assigned": Template(
        "Meet your Leadership Exchange partner",
        "You have been paired for the Leadership Exchange: arrange your visits.",
    ),
    "visit_scheduled": Template("An exchange visit is in the diary", "A Leadership Exchange visit has been scheduled."),
    "meeting_planned": Template("A mentoring meeting is in the diary", "A mentoring meeting has been planned."),
    "meeting_moved": Template("A mentoring meeting has moved", "A planned mentoring meeting has moved."),
    "meeting_cancelled": Template("A mentoring meeting is cancelled", "A planned mentoring meeting is cancelled."),
    "visit_moved": Template("An exchange visit has moved", "A scheduled visit has moved to another day."),
    "visit_cancelled": Template("An exchange visit is cancelled", "A scheduled visit has been cancelled."),
    "reflection_shared": Template(
        "Your learner has thanked you", "The learner you hosted shared what they learnt from the visit."
    ),
    "exchange_completed": Template("Your exchange is complete", "Please give your partner feedback."),
    "feedback_requested": Template("Feedback for your partner", "Please give your partner feedback."),
    "feedback_released": Template("Your feedback is ready", "Your partner's feedback is ready to read."),
    "collaboration_check_in": Template(
        "What came of a way to work closer together?",
        "A collaboration opportunity your organisation shares has a check-in due: say how it is going.",
    ),
    "reminder_schedule_visit": Template(
        "Reminder: schedule the visit you host", "You have not yet scheduled the visit you host.", essential=False
    ),
    "reminder_complete_visit": Template(
        "Reminder: has your exchange visit happened?",
        "A scheduled visit has not been marked complete.",
        essential=False,
    ),
    "reminder_feedback_due": Template(
        "Reminder: your partner's feedback is due soon", "Your feedback for your partner is due soon.", essential=False
    ),
    "reminder_mentoring_check_in": Template(
        "Reminder: how is your mentoring going?",
        "Your mentoring check-in is due: is it working? Your answer stays private to you.",
        essential=False,
    ),
    "reminder_milestone_due": Template(
        "Reminder: a project milestone is due soon", "A milestone of your joint project is due soon.", essential=False
    ),
}


@dataclass(frozen=True)
class Message:
    """One message to one recipient. ``context`` holds JSON facts for the templates; the ids in
    ``about_id`` and ``partner_ids`` are people whose contact details the e-mail introduces."""

    recipient_id: uuid.UUID
    template: str
    recipient_kind: str = PERSON
    context: dict[str, Any] = field(default_factory=dict)

    @property
    def title(self) -> str:
        return TEMPLATES[self.template].title

    @property
    def body(self) -> str:
        return TEMPLATES[self.template].summary

    @property
    def essential(self) -> bool:
        return TEMPLATES[self.template].essential


@dataclass(frozen=True)
class Audience:
    """Who, besides the event's own ids, could hear about it: looked up by the handler."""

    pair_members: list[uuid.UUID] = field(default_factory=list)
    sponsors: list[uuid.UUID] = field(default_factory=list)  # staff ids of the organisation's sponsors
    board: list[uuid.UUID] = field(default_factory=list)  # staff ids of the Programme Board


# PairAssigned.reasons are codes (ev.PAIR_REASONS); the e-mail says them in words.
REASON_WORDS = {
    "different_sector": "different sectors",
    "different_place": "different places",
    "clinical_mix": "a clinical and a non-clinical fellow",
    "shared_availability": "weekdays both are available",
    "shared_interests": "shared interests",
    "not_paired_before": "not paired before",
    "trio": "a trio: the cohort has an odd number of fellows",
    "swapped_by_board": "chosen by the programme board",
}


def reason_words(codes: Iterable[str]) -> list[str]:
    """The words of a pair's reason codes; a code this release does not know is shown as it is."""
    return [REASON_WORDS.get(code, code.replace("_", " ")) for code in codes]


def _one(recipient: uuid.UUID, template: str, **context: Any) -> list[Message]:
    return [Message(recipient, template, context=context)]


def partners_of(members: list[uuid.UUID], fellow: uuid.UUID) -> list[str]:
    return [str(m) for m in members if m != fellow]


def messages_for(
    event: ev.Event, audience: Audience | None = None, revision: diary.Revision | None = None
) -> list[Message]:
    """The messages an event gives rise to (``revision``: the calendar entry of a visit or a meeting, as
    it stands after the event)."""
    who = audience or Audience()
    match event:
        case ev.ApplicationSubmitted():
            facts = {"application_id": str(event.application_id), "organisation_code": event.organisation_code}
            return _one(event.application_id, "application_submitted", **facts) + [
                Message(
                    sponsor,
                    "endorsement_requested",
                    STAFF,
                    {**facts, "about_id": str(event.application_id)},
                )
                for sponsor in who.sponsors
            ]
        case ev.ApplicationEndorsed():
            facts = {"application_id": str(event.application_id), "organisation_code": event.organisation_code}
            return _one(event.application_id, "application_endorsed", **facts) + [
                Message(member, "decision_requested", STAFF, {**facts, "about_id": str(event.application_id)})
                for member in who.board
            ]
        case ev.ApplicationShortlisted(promoted_after_withdrawal_of=None):
            return _one(event.application_id, "application_shortlisted")
        case ev.ApplicationShortlisted():  # a withdrawal freed a place and this waitlisted one moved up
            return _one(event.application_id, "waitlist_promoted")
        case ev.ApplicationWaitlisted():
            return _one(event.application_id, "application_waitlisted")
        case ev.ApplicationDeclined():
            return _one(event.application_id, "application_declined")
        case ev.ApplicationWithdrawn():
            return _one(event.application_id, "application_withdrawn")
        case ev.FellowEnrolled():
            return _one(event.fellow_id, "fellow_enrolled")
        case ev.PairAssigned():
            return [
                Message(
                    fellow,
                    "pair_assigned",
                    context={
                        "partner_ids": partners_of(event.fellow_ids, fellow),
                        "reasons": reason_words(event.reasons),
                        "kind": event.kind,
                        "role": event.roles.get(fellow, "fellow"),
                    },
                )
                for fellow in event.fellow_ids
            ]
        case (
            ev.ExchangeVisitScheduled()
            | ev.ExchangeVisitMoved()
            | ev.ExchangeVisitCancelled()
            | ev.MentoringMeetingPlanned()
            | ev.MentoringMeetingMoved()
            | ev.MentoringMeetingCancelled()
        ):
            return _diary_messages(event, who.pair_members, revision or diary.unrevised(event, datetime.now(UTC)))
        case ev.ShadowingReflectionShared():
            return _one(
                event.sharer_id, "reflection_shared", about_id=str(event.learner_id), pair_id=str(event.pair_id)
            )
        case ev.ExchangeCompleted():
            return [
                Message(fellow, "exchange_completed", context={"partner_ids": partners_of(event.fellow_ids, fellow)})
                for fellow in event.fellow_ids
            ]
        case ev.FeedbackRequested():
            return _one(
                event.from_fellow_id,
                "feedback_requested",
                due_at=event.due_at.isoformat(),
                about_id=str(event.to_fellow_id),
            )
        case ev.FeedbackReleased():
            return _one(event.to_fellow_id, "feedback_released", fellow_id=str(event.to_fellow_id))
        case ev.CollaborationCheckInDue():
            check_in = {"opportunity_id": str(event.opportunity_id), "month": event.month, "status": event.status}
            return [Message(sponsor, "collaboration_check_in", STAFF, dict(check_in)) for sponsor in who.sponsors]
    return []


def _diary_messages(event: diary.CalendarEvent, members: list[uuid.UUID], revision: diary.Revision) -> list[Message]:
    """Each of the pair hears of a visit or a meeting put in the diary, moved or cancelled, with its
    calendar entry: the invitation (``REQUEST``), its update (the same uid, a higher ``SEQUENCE``), or
    ``CANCEL``."""
    entry = diary.entry(event, revision)
    host = getattr(event, "host_fellow_id", None)
    facts = {"date": entry["date"], "starts_at": entry["starts_at"], "calendar": entry}
    return [
        Message(
            fellow,
            diary.TEMPLATES[event.type_name()],
            context=facts
            | {"partner_ids": partners_of(members, fellow)}
            | ({"about_id": str(host), "hosting": fellow == host} if host else {}),
        )
        for fellow in members
    ]


def retry_delay(attempts: int, base_s: float, max_s: float) -> timedelta:
    """Exponential backoff after the ``attempts``-th failed attempt: base, 2·base, 4·base … ≤ max."""
    return timedelta(seconds=min(base_s * 2 ** max(attempts - 1, 0), max_s))


def retry_at(attempts: int, now: datetime, max_attempts: int, base_s: float, max_s: float) -> datetime | None:
    """When a delivery whose ``attempts``-th attempt certainly failed is tried again; None: it has failed."""
    if attempts >= max_attempts:
        return None
    return now + retry_delay(attempts, base_s, max_s)


def contact_retry(created_at: datetime, now: datetime, first_s: float, max_s: float) -> timedelta:
    """How long a delivery waiting for a contact waits before looking again: half the time waited so
    far, between ``first_s`` and ``max_s`` (a contact usually arrives milliseconds behind its event,
    on another topic, so the first looks are quick)."""
    waited = (now - created_at).total_seconds()
    return timedelta(seconds=min(max(waited / 2, first_s), max_s))


def people_named(context: dict[str, Any], recipient_kind: str, recipient_id: uuid.UUID) -> list[uuid.UUID]:
    """The people a delivery's e-mail names: partners, whom it is about, and a person recipient."""
    people = [uuid.UUID(p) for p in context.get("partner_ids", [])]
    if context.get("about_id"):
        people.append(uuid.UUID(context["about_id"]))
    if recipient_kind != STAFF:
        people.append(recipient_id)
    return people


def summary(template: str) -> str:
    """A message's text without the names it was rendered with (what erasure leaves of it)."""
    found = TEMPLATES.get(template)
    return found.summary if found is not None else ""


def by_template(deliveries: Iterable[tuple[uuid.UUID, str]]) -> dict[str, list[uuid.UUID]]:
    """Delivery ids grouped by their template."""
    out: dict[str, list[uuid.UUID]] = {}
    for delivery_id, template in deliveries:
        out.setdefault(template, []).append(delivery_id)
    return out
