"""The CloudEvents envelope of the contract."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError

from shared import events as ev
from shared.envelope import InvalidEnvelope, parse, wrap
from shared.errors import describe


def submitted() -> ev.ApplicationSubmitted:
    return ev.ApplicationSubmitted(
        application_id=uuid.uuid4(),
        cohort_id=uuid.uuid4(),
        organisation_id=uuid.uuid4(),
        organisation_code="RC9",
        staff_group="clinical",
        band="8a",
        submitted_at=datetime.now(UTC),
    )


def test_an_event_round_trips_through_its_envelope() -> None:
    event = submitted()
    raw = wrap(event, "applications").to_bytes()
    body = json.loads(raw)
    assert body["specversion"] == "1.0"
    assert body["type"] == "ApplicationSubmitted"
    assert body["source"] == "lbb/applications"
    assert body["subject"] == str(event.application_id)
    assert body["dataschema"] == "lbb/ApplicationSubmitted/v1"
    assert body["datacontenttype"] == "application/json"
    envelope, parsed = parse(raw)
    assert parsed == event and envelope.id == uuid.UUID(body["id"])


def test_every_contract_event_is_registered_with_a_topic_and_key() -> None:
    named = {
        "ApplicationSubmitted", "ApplicationEndorsed", "ApplicationShortlisted", "ApplicationWaitlisted",
        "ApplicationDeclined", "ApplicationWithdrawn", "FellowEnrolled", "CohortOpened", "CohortClosed",
        "PairingRequested", "PairAssigned", "ExchangeVisitScheduled", "ExchangeVisitCompleted", "ExchangeCompleted",
        "FeedbackRequested", "FeedbackSubmitted", "FeedbackReleased", "CollaborationOpportunityIdentified",
        "NotificationSent", "NotificationFailed",
    }  # fmt: skip
    assert named <= set(ev.REGISTRY)
    for cls in ev.REGISTRY.values():
        assert cls.topic.startswith("lbb.") and cls.key_field in cls.model_fields


def test_personal_data_lives_only_on_the_internal_contacts_topic() -> None:
    for cls in ev.REGISTRY.values():
        if "email" in cls.model_fields or "job_title" in cls.model_fields:
            assert cls.topic == "lbb.internal.contacts.v1", cls.__name__


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"{oops", "not a CloudEvents envelope"),
        (b'{"specversion":"1.0"}', "not a CloudEvents envelope"),
    ],
)
def test_broken_envelopes_are_refused_with_a_reason(raw: bytes, reason: str) -> None:
    with pytest.raises(InvalidEnvelope, match=reason):
        parse(raw)


def test_unknown_types_and_invalid_data_are_refused() -> None:
    body = json.loads(wrap(submitted(), "applications").to_bytes())
    with pytest.raises(InvalidEnvelope, match="unknown event type"):
        parse(json.dumps(body | {"type": "Nope"}))
    body["data"]["staff_group"] = "astronaut"
    with pytest.raises(InvalidEnvelope, match="invalid data for ApplicationSubmitted"):
        parse(json.dumps(body))


def test_a_field_this_release_does_not_know_is_ignored_by_the_reader_but_refused_to_a_producer() -> None:
    """Tolerant reader, strict producer: an event from a release ahead still applies."""
    sent = submitted()
    body = json.loads(wrap(sent, "applications").to_bytes())
    body["data"]["added_next_release"] = {"anything": [1, 2]}
    envelope, event = parse(json.dumps(body))
    assert event == sent
    assert envelope.data["added_next_release"] == {"anything": [1, 2]}
    with pytest.raises(ValidationError):
        type(event)(**body["data"])


def test_an_invalid_message_is_described_by_field_paths_and_error_types_never_its_values() -> None:
    secret = "ada.lovelace@example.nhs.uk"
    event = submitted()
    body = json.loads(wrap(event, "applications").to_bytes())
    body["data"]["organisation_id"] = secret
    with pytest.raises(InvalidEnvelope) as refused:
        parse(json.dumps(body))
    assert "organisation_id: uuid_parsing" in str(refused.value)
    body["time"] = secret
    with pytest.raises(InvalidEnvelope) as broken:
        parse(json.dumps(body))
    assert "time: " in str(broken.value)
    for reason in (str(refused.value), str(broken.value)):
        assert secret not in reason and "input" not in reason, reason


def test_a_database_error_is_described_by_its_sqlstate_and_constraint_never_its_detail() -> None:
    class UniqueViolation(Exception):
        sqlstate = "23505"
        constraint_name = "uq_application_email"

        def __str__(self) -> str:
            return "duplicate key\nDETAIL:  Key (email)=(ada@example.nhs.uk) already exists."

    error = IntegrityError("INSERT INTO application VALUES ($1)", ("ada@example.nhs.uk",), UniqueViolation())
    said = describe(error)
    assert "SQLSTATE 23505" in said and "constraint uq_application_email" in said
    assert "ada@" not in said and "INSERT" not in said
    assert describe(ValueError("ada@example.nhs.uk")) == "builtins.ValueError"
