"""Topic names of the contract (DESIGN.md, "Events")."""

from __future__ import annotations

APPLICATIONS = "lbb.applications.v1"
PAIRING = "lbb.pairing.v1"
FEEDBACK = "lbb.feedback.v1"
NOTIFICATIONS = "lbb.notifications.v1"
# Names and e-mail addresses travel only here, never on the integration topics above.
CONTACTS = "lbb.internal.contacts.v1"
# Erasure requests and each service's confirmation (ids and a pseudonym only): the services' own traffic.
PRIVACY = "lbb.internal.privacy.v1"

INTEGRATION_TOPICS = (APPLICATIONS, PAIRING, FEEDBACK, NOTIFICATIONS)
INTERNAL_TOPICS = (CONTACTS, PRIVACY)
ALL_TOPICS = (*INTEGRATION_TOPICS, *INTERNAL_TOPICS)

PARTITIONS = 4


def dlq(topic: str) -> str:
    """The dead-letter topic of a topic."""
    return f"{topic}.dlq"


DLQ_RETENTION_DAYS = 14


def config(topic: str) -> dict[str, str]:
    """The topic's settings at creation: dead letters are kept 14 days; the contacts topic is
    compacted (the latest record per person stays, and a tombstone erases a person)."""
    if topic.endswith(".dlq"):
        return {"retention.ms": str(DLQ_RETENTION_DAYS * 24 * 3600 * 1000)}
    if topic == CONTACTS:
        return {"cleanup.policy": "compact"}
    return {}


def all_topics_with_dlq() -> list[str]:
    return [*ALL_TOPICS, *(dlq(t) for t in ALL_TOPICS)]
