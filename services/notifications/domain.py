"""Who hears about which event, and what they are told: pure, no I/O."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from shared import events as ev


@dataclass(frozen=True)
class Message:
    recipient_id: uuid.UUID
    template: str
    title: str
    body: str


def _one(recipient: uuid.UUID, template: str, title: str, body: str) -> list[Message]:
    return [Message(recipient, template, title, body)]


def messages_for(event: ev.Event, pair_members: list[uuid.UUID]) -> list[Message]:
    """The messages an event gives rise to. ``pair_members`` are the fellows of the event's pair."""
    match event:
        case ev.ApplicationSubmitted():
            return _one(
                event.application_id,
                "application_submitted",
                "We have your application",
                "Thank you for applying. Your organisation's sponsor will review it next.",
            )
        case ev.ApplicationEndorsed():
            return _one(
                event.application_id,
                "application_endorsed",
                "Your organisation has put you forward",
                "Your sponsor endorsed your application; the Programme Board will decide next.",
            )
        case ev.ApplicationShortlisted():
            return _one(
                event.application_id,
                "application_shortlisted",
                "You are shortlisted",
                "The Programme Board shortlisted you.",
            )
        case ev.ApplicationWaitlisted():
            return _one(
                event.application_id,
                "application_waitlisted",
                "You are on the waiting list",
                "The Programme Board waitlisted you.",
            )
        case ev.ApplicationDeclined():
            return _one(
                event.application_id,
                "application_declined",
                "About your application",
                "The Programme Board declined your application.",
            )
        case ev.FellowEnrolled():
            return _one(
                event.fellow_id, "fellow_enrolled", "Welcome, fellow", "You are enrolled as a fellow of the cohort."
            )
        case ev.PairAssigned():
            return [
                Message(
                    fellow,
                    "pair_assigned",
                    "Meet your Leadership Exchange partner",
                    "You have been paired for the Leadership Exchange: arrange your visits.",
                )
                for fellow in event.fellow_ids
            ]
        case ev.ExchangeCompleted():
            return [
                Message(fellow, "exchange_completed", "Your exchange is complete", "Please give your partner feedback.")
                for fellow in event.fellow_ids
            ]
        case ev.FeedbackRequested():
            return _one(
                event.from_fellow_id,
                "feedback_requested",
                "Feedback for your partner",
                f"Please give your partner feedback by {event.due_at:%d %B %Y}.",
            )
        case ev.FeedbackReleased():
            return _one(
                event.to_fellow_id,
                "feedback_released",
                "Your feedback is ready",
                "Your partner's feedback is ready to read.",
            )
    return []
