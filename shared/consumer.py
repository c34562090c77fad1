"""Consuming contract events: envelope → inbox → handler → commit → offset, or dead letter.

Every service subscribes through ``Consumer.subscribe``: one consumer group per service, manual
acknowledgement, offsets committed only after the handler's transaction committed. A message
that cannot be parsed or validated, or whose handler keeps failing, goes to ``<topic>.dlq`` with
the error in its headers, and the consumer moves on.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared import topics
from shared.envelope import Envelope, InvalidEnvelope, parse
from shared.events import Event
from shared.inbox import Inbox
from shared.observability import DEAD_LETTERS, EVENTS_CONSUMED, HANDLER_SECONDS, event_id_var
from shared.outbox import Outbox
from shared.settings import ServiceSettings

log = logging.getLogger(__name__)


@dataclass
class Context:
    """What a handler gets besides its event: the open transaction and where to put new events."""

    session: AsyncSession
    envelope: Envelope
    outbox: Outbox

    async def publish(self, *events: Event) -> None:
        await self.outbox.add(self.session, *events)


Handler = Callable[[Context, Any], Awaitable[None]]


# SQLSTATE classes of a database that is away rather than an event that is bad: connection
# exceptions (08), operator intervention such as admin shutdown or starting up (57), and
# insufficient resources (53).
_UNAVAILABLE_SQLSTATES = ("08", "53", "57")


def unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` says the database could not be reached, so the event should simply wait."""
    if isinstance(exc, OSError | ConnectionError | TimeoutError):
        return True
    if isinstance(exc, DBAPIError):
        if exc.connection_invalidated or isinstance(exc, InterfaceError):
            return True
        sqlstate = str(getattr(exc.orig, "sqlstate", "") or getattr(exc.orig, "pgcode", "") or "")
        if sqlstate.startswith(_UNAVAILABLE_SQLSTATES):
            return True
        cause = exc.orig.__cause__ if exc.orig is not None else None
        return isinstance(exc, OperationalError) and isinstance(cause, OSError | ConnectionError)
    return False


class Consumer:
    def __init__(
        self,
        *,
        settings: ServiceSettings,
        broker: KafkaBroker,
        sessions: Callable[[], async_sessionmaker[AsyncSession]],
        inbox: Inbox,
        outbox: Outbox,
        handlers: Mapping[type[Event], Handler],
    ) -> None:
        self.settings = settings
        self.broker = broker
        self.sessions = sessions
        self.inbox = inbox
        self.outbox = outbox
        self.handlers = {cls.type_name(): h for cls, h in handlers.items()}
        self.topics = sorted({cls.topic for cls in handlers})
        self.failures: dict[uuid.UUID, int] = {}
        self.outages: dict[uuid.UUID, int] = {}
        self.applied = 0
        self.duplicates = 0
        self.dead_lettered = 0

    def subscribe(self) -> None:
        if not self.handlers:
            return

        @self.broker.subscriber(
            *self.topics,
            group_id=self.settings.group_id,
            ack_policy=AckPolicy.MANUAL,
            auto_offset_reset="earliest",
            session_timeout_ms=self.settings.kafka_session_timeout_ms,
            heartbeat_interval_ms=self.settings.kafka_heartbeat_interval_ms,
            title=f"{self.settings.service_name}:events",
            description=f"Contract events the {self.settings.service_name} service consumes",
        )
        async def on_event(message: KafkaMessage) -> None:
            await self.handle(message)

    async def handle(self, message: Any) -> None:
        raw = message.raw_message
        try:
            envelope, event = parse(message.body)
        except InvalidEnvelope as exc:
            await self.dead_letter(raw, str(exc))
            await message.ack()
            return
        handler = self.handlers.get(envelope.type)
        service = self.settings.service_name
        if handler is None:  # an event of the topic that this service does not act on
            EVENTS_CONSUMED.labels(service, envelope.type, "ignored").inc()
            await message.ack()
            return
        token = event_id_var.set(str(envelope.id))
        started = time.perf_counter()
        try:
            applied = await self.apply(envelope, event, handler)
            HANDLER_SECONDS.labels(service, envelope.type).observe(time.perf_counter() - started)
            EVENTS_CONSUMED.labels(service, envelope.type, "applied" if applied else "duplicate").inc()
        except Exception as exc:
            EVENTS_CONSUMED.labels(service, envelope.type, "retried").inc()
            if unavailable(exc):
                # The database is away (restarting, failing over): not the event's fault. Keep it,
                # uncommitted, and try again until the database is back; never dead-letter it.
                self.outages[envelope.id] = outage = self.outages.get(envelope.id, 0) + 1
                log.warning("%s %s waits for the database: %r", envelope.type, envelope.id, exc)
                await asyncio.sleep(min(0.2 * 2 ** min(outage, 5), 5.0))
                await message.nack()
                return
            attempts = self.failures.get(envelope.id, 0) + 1
            self.failures[envelope.id] = attempts
            if attempts >= self.settings.handler_max_attempts:
                log.exception("%s failed %d times; dead-lettering it", envelope.type, attempts)
                await self.dead_letter(raw, f"handler failed {attempts} times: {exc!r}")
                self.failures.pop(envelope.id, None)
                await message.ack()
                return
            log.warning("%s %s failed (attempt %d): %r; will retry", envelope.type, envelope.id, attempts, exc)
            await asyncio.sleep(min(0.1 * 2**attempts, 5.0))  # back off before the redelivery
            await message.nack()
            return
        finally:
            event_id_var.reset(token)
        self.failures.pop(envelope.id, None)
        self.outages.pop(envelope.id, None)
        await message.ack()

    async def apply(self, envelope: Envelope, event: Event, handler: Handler) -> bool:
        """Apply one event in one transaction; False when the inbox says it was applied before."""
        async with self.sessions()() as session, session.begin():
            if not await self.inbox.first_time(session, envelope.id, envelope.type):
                self.duplicates += 1
                return False
            await handler(Context(session=session, envelope=envelope, outbox=self.outbox), event)
        self.applied += 1
        return True

    async def dead_letter(self, raw: Any, error: str) -> None:
        topic = getattr(raw, "topic", "unknown")
        headers = {
            "x-lbb-error": error[:2000],
            "x-lbb-original-topic": str(topic),
            "x-lbb-original-partition": str(getattr(raw, "partition", "")),
            "x-lbb-original-offset": str(getattr(raw, "offset", "")),
            "x-lbb-consumer": self.settings.group_id,
        }
        await self.broker.publish(
            raw.value if raw is not None else b"",
            topic=topics.dlq(topic),
            key=getattr(raw, "key", None),
            headers=headers,
        )
        self.dead_lettered += 1
        DEAD_LETTERS.labels(self.settings.service_name, str(topic)).inc()
        log.warning("dead-lettered a message of %s: %s", topic, error[:300])
