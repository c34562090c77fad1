"""The CloudEvents 1.0 structured envelope of DESIGN.md: ``wrap`` an event, ``parse`` bytes. What is
wrong with a message that does not parse is said by field paths and error types, never its values
(the reason goes into dead-letter headers and logs)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from shared.errors import validation_problems
from shared.events import REGISTRY, Event


class InvalidEnvelope(ValueError):
    """The bytes are not a valid envelope of a known event: they belong on the dead-letter topic."""


class Envelope(BaseModel):
    model_config = ConfigDict(extra="allow")

    specversion: Literal["1.0"] = "1.0"
    id: uuid.UUID
    type: str
    source: str
    time: datetime
    subject: str
    datacontenttype: Literal["application/json"] = "application/json"
    dataschema: str
    data: dict[str, Any]
    # CloudEvents' distributed-tracing extension (``traceparent``, ``tracestate``: the W3C trace
    # context of the operation that staged the event, shared/tracing.py) travels as extension
    # attributes, present only when tracing is on. Not declared fields: an envelope costs the same to
    # write and read without them, and a malformed one never makes an event a dead letter.

    @property
    def traceparent(self) -> str | None:
        return self._extension("traceparent")

    @property
    def tracestate(self) -> str | None:
        return self._extension("tracestate")

    def _extension(self, name: str) -> str | None:
        value = (self.model_extra or {}).get(name)
        return value if isinstance(value, str) else None

    def to_bytes(self) -> bytes:
        return self.model_dump_json().encode()


def wrap(
    event: Event, service: str, *, event_id: uuid.UUID | None = None, trace: dict[str, str] | None = None
) -> Envelope:
    """Put an event into its envelope, keyed and subjected by its aggregate id; ``trace``: the
    ``traceparent`` (and ``tracestate``) of the operation that staged it, when tracing is on."""
    return Envelope(
        id=event_id or uuid.uuid4(),
        type=event.type_name(),
        source=f"lbb/{service}",
        time=datetime.now(UTC),
        subject=event.key,
        dataschema=event.dataschema(),
        data=event.model_dump(mode="json"),
        **(trace or {}),
    )


def parse_envelope(raw: bytes | str) -> Envelope:
    """Validate the envelope and that its type is a contract event, but not its data (see ``event_of``)."""
    try:
        envelope = Envelope.model_validate_json(raw)
    except ValidationError as exc:
        raise InvalidEnvelope(f"not a CloudEvents envelope: {validation_problems(exc)}") from exc
    if envelope.type not in REGISTRY:
        raise InvalidEnvelope(f"unknown event type {envelope.type!r}")
    return envelope


def event_of(envelope: Envelope) -> Event:
    """Validate an envelope's data as its event type, as a tolerant reader: a field this release does
    not know (sent by a producer one release ahead, during a rolling deploy) is ignored, never a reason
    to dead-letter. Producers stay strict: an event is built with ``extra="forbid"``."""
    cls = REGISTRY[envelope.type]
    known = {k: v for k, v in envelope.data.items() if k in cls.model_fields}
    try:
        return cls.model_validate(known)
    except ValidationError as exc:
        raise InvalidEnvelope(f"invalid data for {envelope.type}: {validation_problems(exc)}") from exc


def parse(raw: bytes | str) -> tuple[Envelope, Event]:
    """Parse and validate an envelope and its data; raise InvalidEnvelope with the reason."""
    envelope = parse_envelope(raw)
    return envelope, event_of(envelope)
