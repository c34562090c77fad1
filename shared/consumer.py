"""Consuming contract events: envelope → inbox → handler → commit → offset, or dead letter.

Every service subscribes through ``Consumer.subscribe``: one consumer group per service, manual
acknowledgement, offsets committed only after the handlers' transaction committed. Events are
fetched in batches (up to ``CONSUMER_BATCH_SIZE``, whatever has arrived): one transaction per batch
and one offset commit per batch, so a busy topic costs a few round trips per event rather than
many; a savepoint per event only when a handler failed and the batch is applied again, in rounds
whose pauses hold no transaction and whose total stays within ``CONSUMER_RETRY_BUDGET_S`` (well
inside the poll interval). A ``Batched`` handler gets the consecutive events of a batch that it
handles in one call. A message that cannot be parsed or validated, or whose handler keeps failing,
goes to ``<topic>.dlq`` with the error in its headers (and, for a handler, its id in the inbox as
dead-lettered), and the consumer moves on; only the database being away holds a partition. Errors in
headers and logs are described by type, field path and SQLSTATE (``shared.errors.describe``), never by
the values they were about. With tracing on (shared/tracing.py), each event is handled in a consumer
span that continues its envelope's trace and links to the relay's send span.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
import traceback
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import asyncpg
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared import topics, tracing
from shared.envelope import Envelope, InvalidEnvelope, event_of, parse_envelope
from shared.errors import describe
from shared.events import Event
from shared.inbox import DEAD_LETTERED, Inbox
from shared.observability import DEAD_LETTERS, EVENTS_CONSUMED, HANDLER_SECONDS, event_id_var
from shared.outbox import Outbox
from shared.settings import ServiceSettings

if TYPE_CHECKING:
    from opentelemetry.trace import Tracer

log = logging.getLogger(__name__)


@dataclass
class Context:
    """What a handler gets besides its event: the open transaction, where to put new events, and the
    service's settings (the one way configuration reaches a handler)."""

    session: AsyncSession
    envelope: Envelope
    outbox: Outbox
    settings: ServiceSettings
    run: tuple[Envelope, ...] = ()  # a ``Batched`` run's envelopes, in the order of its events

    @property
    def envelopes(self) -> tuple[Envelope, ...]:
        """The envelopes of the events a handler was given: a run's, or the one event's."""
        return self.run or (self.envelope,)

    async def publish(self, *events: Event) -> None:
        await self.outbox.add(self.session, *events)


Handler = Callable[[Context, Any], Awaitable[None]]


@dataclass(frozen=True)
class Batched:
    """A handler that applies several events of its type at once (one statement for all, say).

    Consecutive events of a fetched batch that it handles come to ``apply`` together, in order, in
    the batch's transaction (their inbox ids already recorded; ``ctx.envelopes`` has their envelopes,
    in the same order). Called with one event it is an
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
# Modules whose frames in a traceback say an OSError came from the database connection.
_DATABASE_MODULES = ("asyncpg", "sqlalchemy")


def _sqlstate(exc: BaseException | None) -> str:
    return str(getattr(exc, "sqlstate", "") or getattr(exc, "pgcode", "") or "")


def _raised_by_database(exc: BaseException) -> bool:
    """Whether the database driver raised ``exc`` (a frame of asyncpg or SQLAlchemy on its way up),
    not a handler's own call to another server."""
    return any(
        str(frame.f_globals.get("__name__", "")).startswith(_DATABASE_MODULES)
        for frame, _ in traceback.walk_tb(exc.__traceback__)
    )


def _connection_class(exc: BaseException | None) -> bool:
    """A driver error that is about the connection: gone, refused, cut, or timed out reaching it."""
    if exc is None:
        return False
    if isinstance(exc, asyncpg.exceptions.PostgresConnectionError):  # ConnectionDoesNotExistError among them
        return True
    if _sqlstate(exc).startswith(_UNAVAILABLE_SQLSTATES):
        return True
    return isinstance(exc, OSError)  # ConnectionError and TimeoutError are OSErrors; wrapped by the driver


def unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` says the database could not be reached, so the event should simply wait.

    Decided by the database driver's own errors: SQLAlchemy's connection errors (an invalidated
    connection, a connection-class SQLSTATE, an OperationalError or InterfaceError caused by a
    connection-class error), asyncpg's connection errors, and an OSError or TimeoutError only when
    the driver raised it (connecting). Any other OSError or TimeoutError (a handler's SMTP or HTTP
    call, a bug) is the event's failure: retried, then dead-lettered."""
    if isinstance(exc, DBAPIError):
        if exc.connection_invalidated or _sqlstate(exc.orig).startswith(_UNAVAILABLE_SQLSTATES):
            return True
        if isinstance(exc, OperationalError | InterfaceError):
            orig = exc.orig
            return _connection_class(orig.__cause__ if orig is not None else None) or isinstance(
                orig, asyncpg.exceptions.PostgresConnectionError
            )
        return False
    if isinstance(exc, asyncpg.exceptions.PostgresConnectionError):
        return True
    if isinstance(exc, asyncpg.exceptions.PostgresError):
        return _sqlstate(exc).startswith(_UNAVAILABLE_SQLSTATES)
    if isinstance(exc, OSError):
        return _raised_by_database(exc)
    return False


REPLAYED_FROM = "x-lbb-replayed-from"  # lbb dlq replay's header: an operator wants the event applied again


def _replayed(record: Any) -> bool:
    """Whether an operator put this record back from a dead-letter topic (``lbb dlq replay``)."""
    return any(name == REPLAYED_FROM for name, _ in getattr(record, "headers", None) or ())


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
        self.tracer: Tracer | None = None  # with tracing on: a process span per event (``_processing``)

    def _context(self, session: AsyncSession, envelope: Envelope, run: tuple[Envelope, ...] = ()) -> Context:
        return Context(session=session, envelope=envelope, outbox=self.outbox, settings=self.settings, run=run)

    def subscribe(self) -> None:
        if not self.handlers:
            return

        @self.broker.subscriber(
            *self.topics,
            group_id=self.settings.group_id,
            ack_policy=AckPolicy.MANUAL,
            auto_offset_reset="earliest",
            session_timeout_ms=self.settings.kafka_session_timeout_ms,
            max_poll_interval_ms=self.settings.kafka_max_poll_interval_ms,
            heartbeat_interval_ms=self.settings.kafka_heartbeat_interval_ms,
            batch=True,
            max_records=self.settings.consumer_batch_size,
            batch_timeout_ms=self.settings.consumer_batch_timeout_ms,
            fetch_max_wait_ms=self.settings.kafka_fetch_max_wait_ms,
            fetch_min_bytes=self.settings.kafka_fetch_min_bytes,
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
        back and the batch applied again in rounds (``_apply_with_retries``): one transaction a round,
        a savepoint per event; an event that fails is left for the next round, and so are the later
        events of its key (per-key order), while the rest of the batch commits. Between rounds the
        consumer pauses with no transaction open. An event that failed ``handler_max_attempts`` times,
        or fails once the batch's retry budget (``consumer_retry_budget_s``, well inside the poll
        interval) is spent, is recorded in the inbox as dead-lettered and sent to the dead-letter
        topic. Savepoints cost two statements an event, so only a batch that needs them pays for
        them. A failure of the database (``unavailable``) raises: the round in flight is not committed
        and the batch is fetched again. Events of a type this
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
                outcomes += await self._apply_straight(work, dead)
            except _HandlerFailed as failed:
                log.warning(
                    "%s %s failed (attempt 1): %s; applying its batch again event by event",
                    failed.event_type,
                    failed.work.envelope.id if failed.work else "(a run of them)",
                    describe(failed.error),
                )
                EVENTS_CONSUMED.labels(self.settings.service_name, failed.event_type, "retried").inc()
                outcomes += await self._apply_with_retries(work, dead, failed)
        service = self.settings.service_name
        for event_type, outcome, seconds in outcomes:  # counted once the transaction committed
            EVENTS_CONSUMED.labels(service, event_type, outcome).inc()
            if outcome == "applied":
                self.applied += 1
                HANDLER_SECONDS.labels(service, event_type).observe(seconds)
            elif outcome == "duplicate":
                self.duplicates += 1
        return dead

    async def _apply_straight(self, work: list[Work], dead: list[tuple[Any, str]]) -> list[tuple[str, str, float]]:
        """The whole batch in one transaction without savepoints, its inbox ids in one statement; a
        handler failure rolls it all back."""
        outcomes: list[tuple[str, str, float]] = []
        async with self.sessions()() as session, session.begin():
            await self.inbox.reopen(session, [w.envelope.id for w in work if _replayed(w.record)])
            new = await self.inbox.first_times(session, [(w.envelope.id, w.envelope.type) for w in work])
            seen = [w.envelope.id for w in work if w.envelope.id not in new]
            given_up = await self.inbox.dead_lettered(session, seen) if seen else set()
            fresh: list[Work] = []
            for item in work:
                if item.envelope.id not in new:  # applied before, or earlier in this batch
                    outcomes.append(self._seen_before(item, given_up, dead))
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
            with tracing.UNTRACED if self.tracer is None else self._processing(run):
                if len(run) == 1:
                    await first.handler(self._context(session, first.envelope), first.event)
                else:
                    assert isinstance(first.handler, Batched)
                    ctx = self._context(session, first.envelope, tuple(item.envelope for item in run))
                    await first.handler.apply(ctx, [item.event for item in run])
        except Exception as exc:
            if unavailable(exc):  # the database is away: not the event's fault, the whole batch waits
                raise
            raise _HandlerFailed(first if len(run) == 1 else None, exc, first.envelope.type) from exc
        finally:
            event_id_var.reset(token)
        seconds = (time.perf_counter() - started) / len(run)
        return [(item.envelope.type, "applied", seconds) for item in run]

    def _processing(self, run: list[Work]) -> contextlib.AbstractContextManager[Any]:
        """A consumer span over handling one event: it continues the trace the event was staged in
        (its envelope's ``traceparent``) and links to the relay's send span (the record's header).
        A run of a ``Batched`` handler gets one span linked to each event's creation context."""
        assert self.tracer is not None
        from opentelemetry.trace import SpanKind

        first = run[0]
        attributes: dict[str, Any] = {
            "messaging.system": "kafka",
            "messaging.operation.type": "process",
            "messaging.destination.name": str(getattr(first.record, "topic", "")),
            "messaging.consumer.group.name": self.settings.group_id,
            "lbb.event.type": first.envelope.type,
        }
        name = f"process {first.envelope.type}"
        if len(run) == 1:
            return tracing.span(
                self.tracer,
                name,
                kind=SpanKind.CONSUMER,
                parent={tracing.TRACEPARENT: first.envelope.traceparent, tracing.TRACESTATE: first.envelope.tracestate},
                links=tracing.link_to(tracing.headers_of(first.record)),
                attributes=attributes | {"messaging.message.id": str(first.envelope.id)},
            )
        links = [link for item in run for link in tracing.link_to({tracing.TRACEPARENT: item.envelope.traceparent})]
        attributes["messaging.batch.message_count"] = len(run)
        return tracing.span(self.tracer, name, kind=SpanKind.CONSUMER, parent={}, links=links, attributes=attributes)

    def _seen_before(self, item: Work, given_up: set[Any], dead: list[tuple[Any, str]]) -> tuple[str, str, float]:
        """An event the inbox already has: a duplicate, or one dead-lettered before whose offset was not
        committed (sent to the dead-letter topic again: its first copy may never have got there)."""
        if item.envelope.id in given_up:
            dead.append((item.record, "dead-lettered before (delivered again)"))
            return (item.envelope.type, "dead_lettered", 0.0)
        return (item.envelope.type, "duplicate", 0.0)

    async def _apply_with_retries(
        self, work: list[Work], dead: list[tuple[Any, str]], failed: _HandlerFailed
    ) -> list[tuple[str, str, float]]:
        """The batch again in rounds, until every event is applied, a duplicate or dead-lettered (the
        one that failed straight through, if one event did, has used an attempt; a failed run of a
        ``Batched`` handler charges none of its events). Pauses between rounds hold no transaction."""
        outcomes: list[tuple[str, str, float]] = []
        attempts: dict[int, tuple[int, Exception | None]] = {id(w): (0, None) for w in work}
        if failed.work is not None:
            attempts[id(failed.work)] = (1, failed.error)
        started = time.monotonic()
        pending, rounds = work, 0
        given_up: set[uuid.UUID] = set()  # dead-lettered by these rounds
        while True:
            spent = time.monotonic() - started >= self.settings.consumer_retry_budget_s
            pending = await self._apply_round(pending, attempts, spent, given_up, dead, outcomes)
            if not pending:
                return outcomes
            rounds += 1
            left = self.settings.consumer_retry_budget_s - (time.monotonic() - started)
            await asyncio.sleep(max(0.0, min(0.1 * 2**rounds, 5.0, left)))

    async def _apply_round(
        self,
        pending: list[Work],
        attempts: dict[int, tuple[int, Exception | None]],
        spent: bool,
        given_up_now: set[uuid.UUID],
        dead: list[tuple[Any, str]],
        outcomes: list[tuple[str, str, float]],
    ) -> list[Work]:
        """One transaction over the pending events, a savepoint each; returns those still pending."""
        waiting: list[Work] = []
        held: set[Any] = set()  # keys with an earlier event still pending: their later events wait
        async with self.sessions()() as session, session.begin():
            for item in pending:
                envelope = item.envelope
                key = item.record.key if getattr(item.record, "key", None) is not None else id(item)
                if key in held:
                    waiting.append(item)
                    continue
                token = event_id_var.set(str(envelope.id))
                started = time.perf_counter()
                try:
                    async with session.begin_nested():
                        if _replayed(item.record) and envelope.id not in given_up_now:
                            await self.inbox.reopen(session, [envelope.id])
                        if not await self.inbox.first_time(session, envelope.id, envelope.type):
                            # dead-lettered before, unless in this very batch (a relay's second copy)
                            given_up = await self.inbox.dead_lettered(session, [envelope.id]) - given_up_now
                            outcomes.append(self._seen_before(item, given_up, dead))
                            continue
                        with tracing.UNTRACED if self.tracer is None else self._processing([item]):
                            await item.handler(self._context(session, envelope), item.event)
                    outcomes.append((envelope.type, "applied", time.perf_counter() - started))
                    continue
                except Exception as exc:
                    if unavailable(exc):  # the database is away: not the event's fault, the whole batch waits
                        raise
                    await session.execute(text("SELECT 1"))  # the transaction itself is broken: let it raise
                    tried, failure = attempts[id(item)][0] + 1, exc
                    attempts[id(item)] = (tried, exc)
                finally:
                    event_id_var.reset(token)
                EVENTS_CONSUMED.labels(self.settings.service_name, envelope.type, "retried").inc()
                if tried < self.settings.handler_max_attempts and not spent:
                    log.warning(
                        "%s %s failed (attempt %d): %s; retrying", envelope.type, envelope.id, tried, describe(failure)
                    )
                    held.add(key)
                    waiting.append(item)
                    continue
                reason = f"handler failed {tried} times: {describe(failure)}"
                log.error("%s %s %s; dead-lettering it", envelope.type, envelope.id, reason)
                async with session.begin_nested():  # so a redelivery does not run it again
                    await self.inbox.first_time(session, envelope.id, envelope.type, status=DEAD_LETTERED)
                dead.append((item.record, reason))
                given_up_now.add(envelope.id)
                outcomes.append((envelope.type, "dead_lettered", 0.0))
        return waiting

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
