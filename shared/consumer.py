"""Consuming contract events: envelope → inbox → handler → commit → offset, or dead letter.

Every service subscribes through ``Consumer.subscribe``: one consumer group per service, manual
acknowledgement, offsets committed only after the handlers' transaction committed. Events are
fetched in batches (up to ``CONSUMER_BATCH_SIZE``, whatever has arrived): one transaction per batch
and one offset commit per batch, so a busy topic costs a few round trips per event rather than
many; a savepoint per event only when a handler failed and the batch is applied again. A ``Batched``
handler gets the consecutive events of a batch that it handles in one call. A message
that cannot be parsed or validated, or whose handler keeps failing, goes to ``<topic>.dlq`` with the
error in its headers, and the consumer moves on. Errors in headers and logs are described by type,
field path and SQLSTATE (``shared.errors.describe``), never by the values they were about.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared import topics
from shared.envelope import Envelope, InvalidEnvelope, event_of, parse_envelope
from shared.errors import describe
from shared.events import Event
from shared.inbox import Inbox
from shared.observability import DEAD_LETTERS, EVENTS_CONSUMED, HANDLER_SECONDS, event_id_var
from shared.outbox import Outbox
from shared.settings import ServiceSettings

log = logging.getLogger(__name__)


@dataclass
class Context:
    """What a handler gets besides its event: the open transaction, where to put new events, and the
    service's settings (the one way configuration reaches a handler)."""

    session: AsyncSession
    envelope: Envelope
    outbox: Outbox
    settings: ServiceSettings

    async def publish(self, *events: Event) -> None:
        await self.outbox.add(self.session, *events)


Handler = Callable[[Context, Any], Awaitable[None]]


@dataclass(frozen=True)
class Batched:
    """A handler that applies several events of its type at once (one statement for all, say).

    Consecutive events of a fetched batch that it handles come to ``apply`` together, in order, in
    the batch's transaction (their inbox ids already recorded). Called with one event it is an
    ordinary ``Handler``: that is how the batch is retried event by event after a failure. For
    effects on the service's own tables only; a handler that publishes events stays a ``Handler``.
    """

    apply: Callable[[Context, list[Any]], Awaitable[None]]

    async def __call__(self, ctx: Context, event: Any) -> None:
        await self.apply(ctx, [event])


@dataclass(frozen=True, eq=False)
class Work:
    """One fetched record this service handles, parsed and validated."""

    record: Any
    envelope: Envelope
    event: Event
    handler: Handler


class _HandlerFailed(Exception):
    """A handler failed in the straight-through pass; ``work`` is the event it failed on, or None
    when a ``Batched`` handler failed on a run of events (no one event has used an attempt then)."""

    def __init__(self, work: Work | None, error: Exception, event_type: str) -> None:
        super().__init__(describe(error))
        self.work, self.error, self.event_type = work, error, event_type


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


async def _undecoded(message: Any) -> None:
    """FastStream's decoder, which would JSON-decode every body for nothing: ``apply_batch`` parses
    the raw records itself (and dead-letters what does not parse)."""
    return None


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
        self.batch_failures = 0
        self.applied = 0
        self.duplicates = 0
        self.dead_lettered = 0

    def _context(self, session: AsyncSession, envelope: Envelope) -> Context:
        return Context(session=session, envelope=envelope, outbox=self.outbox, settings=self.settings)

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
            batch=True,
            max_records=self.settings.consumer_batch_size,
            batch_timeout_ms=self.settings.consumer_batch_timeout_ms,
            fetch_max_wait_ms=self.settings.kafka_fetch_max_wait_ms,
            decoder=_undecoded,
            title=f"{self.settings.service_name}:events",
            description=f"Contract events the {self.settings.service_name} service consumes",
        )
        async def on_events(message: KafkaMessage) -> None:
            await self.handle_batch(message)

    async def handle_batch(self, message: Any) -> None:
        """Apply what was fetched in one transaction, then commit the offsets; on failure, fetch again."""
        records: tuple[Any, ...] = message.raw_message
        if not isinstance(records, tuple):
            records = (records,)
        try:
            dead = await self.apply_batch(records)
            for record, error in dead:  # before the offsets move on, so a crash here dead-letters again
                await self.dead_letter(record, error)
        except Exception as exc:  # the database or broker is away: nothing was committed, the batch comes again
            # Never counted against handler_max_attempts and never dead-lettered: it waits, offsets uncommitted.
            self.batch_failures += 1
            pause = min(0.2 * 2**self.batch_failures, 5.0)
            log.warning(
                "a batch of %d events could not be applied (%s); fetching it again in %.1fs",
                len(records),
                describe(exc),
                pause,
            )
            await asyncio.sleep(pause)
            await message.nack()
            return
        self.batch_failures = 0
        await message.ack()

    async def apply_batch(self, records: tuple[Any, ...]) -> list[tuple[Any, str]]:
        """Every record of a batch in one transaction; returns dead letters.

        The batch is first applied straight through. If a handler fails, that transaction is rolled
        back and the batch applied again with a savepoint per event: a failing handler is retried in
        place (its savepoint rolled back, with backoff) up to ``handler_max_attempts`` times in all,
        then dead-lettered, and the records before and after it still apply. Savepoints cost two
        statements an event, so only a batch that needs them pays for them. A failure of the
        transaction itself (database gone) raises: nothing is committed. Events of a type this
        service does not handle are counted as ignored without validating their data, and a batch of
        nothing but those opens no transaction.
        """
        dead: list[tuple[Any, str]] = []
        outcomes: list[tuple[str, str, float]] = []
        work: list[Work] = []
        for record in records:
            if record.value is None:  # a tombstone (a compacted topic forgetting a key): nothing to apply
                outcomes.append(("tombstone", "ignored", 0.0))
                continue
            try:
                envelope = parse_envelope(record.value)
                handler = self.handlers.get(envelope.type)
                if handler is None:  # an event of the topic that this service does not act on: not validated
                    outcomes.append((envelope.type, "ignored", 0.0))
                    continue
                work.append(Work(record, envelope, event_of(envelope), handler))
            except InvalidEnvelope as exc:
                dead.append((record, str(exc)))
        if work:  # a batch of events this service ignores costs no transaction
            try:
                outcomes += await self._apply_straight(work)
            except _HandlerFailed as failed:
                log.warning(
                    "%s %s failed (attempt 1): %s; applying its batch again event by event",
                    failed.event_type,
                    failed.work.envelope.id if failed.work else "(a run of them)",
                    describe(failed.error),
                )
                EVENTS_CONSUMED.labels(self.settings.service_name, failed.event_type, "retried").inc()
                outcomes += await self._apply_each(work, dead, failed)
        service = self.settings.service_name
        for event_type, outcome, seconds in outcomes:  # counted once the transaction committed
            EVENTS_CONSUMED.labels(service, event_type, outcome).inc()
            if outcome == "applied":
                self.applied += 1
                HANDLER_SECONDS.labels(service, event_type).observe(seconds)
            elif outcome == "duplicate":
                self.duplicates += 1
        return dead

    async def _apply_straight(self, work: list[Work]) -> list[tuple[str, str, float]]:
        """The whole batch in one transaction without savepoints, its inbox ids in one statement; a
        handler failure rolls it all back."""
        outcomes: list[tuple[str, str, float]] = []
        async with self.sessions()() as session, session.begin():
            new = await self.inbox.first_times(session, [(w.envelope.id, w.envelope.type) for w in work])
            fresh: list[Work] = []
            for item in work:
                if item.envelope.id not in new:  # applied before, or earlier in this batch
                    outcomes.append((item.envelope.type, "duplicate", 0.0))
                    continue
                new.discard(item.envelope.id)
                fresh.append(item)
            # a run: consecutive events for one Batched handler; any other event is a run of its own
            for _, run in itertools.groupby(fresh, key=lambda w: w.handler if isinstance(w.handler, Batched) else w):
                outcomes += await self._apply_run(session, list(run))
        return outcomes

    async def _apply_run(self, session: AsyncSession, run: list[Work]) -> list[tuple[str, str, float]]:
        """One event with its handler, or a run of events with their ``Batched`` handler."""
        first = run[0]
        token = event_id_var.set(str(first.envelope.id) if len(run) == 1 else None)
        started = time.perf_counter()
        try:
            if len(run) == 1:
                await first.handler(self._context(session, first.envelope), first.event)
            else:
                assert isinstance(first.handler, Batched)
                await first.handler.apply(self._context(session, first.envelope), [item.event for item in run])
        except Exception as exc:
            if unavailable(exc):  # the database is away: not the event's fault, the whole batch waits
                raise
            raise _HandlerFailed(first if len(run) == 1 else None, exc, first.envelope.type) from exc
        finally:
            event_id_var.reset(token)
        seconds = (time.perf_counter() - started) / len(run)
        return [(item.envelope.type, "applied", seconds) for item in run]

    async def _apply_each(
        self, work: list[Work], dead: list[tuple[Any, str]], failed: _HandlerFailed
    ) -> list[tuple[str, str, float]]:
        """The batch again, each event in its own savepoint (the one that failed, if one event did, has
        used an attempt; a failed run of a ``Batched`` handler charges none of its events)."""
        outcomes: list[tuple[str, str, float]] = []
        async with self.sessions()() as session, session.begin():
            for item in work:
                envelope = item.envelope
                token = event_id_var.set(str(envelope.id))
                try:
                    earlier = (1, failed.error) if item is failed.work else (0, None)
                    outcome, seconds = await self._apply_one(session, item, *earlier)
                finally:
                    event_id_var.reset(token)
                if outcome.startswith("dead:"):
                    dead.append((item.record, outcome[5:]))
                    outcomes.append((envelope.type, "dead_lettered", seconds))
                else:
                    outcomes.append((envelope.type, outcome, seconds))
        return outcomes

    async def _apply_one(
        self, session: AsyncSession, item: Work, attempts: int, error: Exception | None
    ) -> tuple[str, float]:
        envelope = item.envelope
        while True:
            if attempts >= self.settings.handler_max_attempts:
                reason = describe(error) if error is not None else "unknown"
                log.error("%s failed %d times; dead-lettering it: %s", envelope.type, attempts, reason)
                return f"dead:handler failed {attempts} times: {reason}", 0.0
            started = time.perf_counter()
            try:
                async with session.begin_nested():
                    if not await self.inbox.first_time(session, envelope.id, envelope.type):
                        return "duplicate", 0.0
                    await item.handler(self._context(session, envelope), item.event)
                return "applied", time.perf_counter() - started
            except Exception as exc:
                if unavailable(exc):  # the database is away: not the event's fault, the whole batch waits
                    raise
                await session.execute(text("SELECT 1"))  # the transaction itself is broken: let it raise
                attempts, error = attempts + 1, exc
                EVENTS_CONSUMED.labels(self.settings.service_name, envelope.type, "retried").inc()
                if attempts < self.settings.handler_max_attempts:
                    log.warning(
                        "%s %s failed (attempt %d): %s; retrying", envelope.type, envelope.id, attempts, describe(exc)
                    )
                    await asyncio.sleep(min(0.1 * 2**attempts, 5.0))

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
