"""Topic names of the contract (DESIGN.md, "Events")."""

from __future__ import annotations

APPLICATIONS = "lbb.applications.v1"
PAIRING = "lbb.pairing.v1"
FEEDBACK = "lbb.feedback.v1"
NOTIFICATIONS = "lbb.notifications.v1"
# Names and e-mail addresses travel only here, never on the integration topics above.
CONTACTS = "lbb.internal.contacts.v1"

INTEGRATION_TOPICS = (APPLICATIONS, PAIRING, FEEDBACK, NOTIFICATIONS)
ALL_TOPICS = (*INTEGRATION_TOPICS, CONTACTS)

PARTITIONS = 4


def dlq(topic: str) -> str:
    """The dead-letter topic of a topic."""
    return f"{topic}.dlq"


def all_topics_with_dlq() -> list[str]:
    return [*ALL_TOPICS, *(dlq(t) for t in ALL_TOPICS)]
