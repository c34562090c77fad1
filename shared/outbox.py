"""The transactional outbox: events saved with the state change, published after commit by a relay.

``Outbox.add`` writes the envelopes in the caller's transaction. The ``Relay`` publishes unsent
rows in order. One relay at a time per schema publishes, the holder of a lease
(``shared.relay_lease``), so per-key order survives several instances; no transaction stays open
across broker I/O. The holder renews the lease while it publishes; a relay that stops renewing
(killed, frozen by SIGSTOP or a long pause) loses it when it expires, and another instance takes
over. A relay that finds its lease expired sends nothing more, and its producer
(``shared.relay_kafka``) writes nothing more: sends buffered before a freeze fail unwritten.

A batch goes out in waves: the first unsent row of every key of a topic, pipelined, then (once those are
acknowledged) the second of every key, and so on, so a key's events reach the broker one after the other
while different keys share round trips. When a send fails, that key stops there (its later events wait
for the next batch); every acknowledged row is marked sent and never sent again: in a transaction of its
own, or, when a commit woke the relay while it sent, in the next batch's claim, which runs at once (and,
if the marking fails, with the next poll). A relay that takes over a lease left to run out reads the
topics back and marks sent what its predecessor published but did not mark (docs/decisions/0010).
Delivery stays at least once where no fence reaches (a freeze between the fence's check and the socket
write, a write held in a kernel buffer by a hung connection), and consumers dedupe on the envelope id
through their inbox. Sent rows are kept for a retention period (for audit and replay by hand), then
pruned in batches.

With tracing on (shared/tracing.py), ``Outbox.add`` puts the current trace context into each envelope
(``traceparent``, ``tracestate``), and the relay sends each row in a producer span of that trace,
ended at the broker's acknowledgement, whose context goes in the record's ``traceparent`` header.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Identity,
    Index,
    MetaData,
    String,
    Table,
    Text,
    Uuid,
    delete,
    func,
    select,
    text,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared import tracing
from shared.envelope import wrap
from shared.events import Event
from shared.observability import EVENTS_PUBLISHED, OUTBOX_LAG, OUTBOX_UNSENT
from shared.relay_lease import Lease
from shared.worker import Worker, channel_name, wake_on_commit

if TYPE_CHECKING:
    from opentelemetry.trace import Span, Tracer

log = logging.getLogger(__name__)

# Send one message (topic, key, value; a value of None is a tombstone); returns an awaitable that
# completes on the broker's ack. With tracing on, a fourth argument: the trace headers of the send.
Send = Callable[..., Awaitable[Awaitable[Any]]]
Readback = Callable[[dict[str, datetime]], Awaitable[set[str]]]
TOMBSTONE = "tombstone"  # the event_type of an outbox row whose payload is NULL
# How far before a row's creation a read-back starts (the hosts' clocks may differ a little).
READBACK_SLACK = timedelta(seconds=30)


class Outbox:
    """The outbox table of one service's schema."""

    def __init__(self, metadata: MetaData, service: str, *, tombstones: bool = False) -> None:
        """``tombstones``: this outbox may stage tombstones (``forget``), so its payload may be NULL."""
        self.service = service
        self.table = Table(
            "outbox",
            metadata,
            Column("seq", BigInteger, Identity(), primary_key=True),
            Column("event_id", Uuid, nullable=False, unique=True),
            Column("event_type", String(100), nullable=False),
            Column("topic", String(200), nullable=False),
            Column("key", String(200), nullable=False),
            Column("payload", Text, nullable=tombstones),  # NULL: a tombstone (``forget``)
            Column("created_at", DateTime(timezone=True), nullable=False),
            Column("sent_at", DateTime(timezone=True)),
            Index("ix_outbox_unsent", "seq", postgresql_where=text("sent_at IS NULL")),
        )
        # Which relay publishes this schema's outbox, and until when (shared by every instance).
        self.lease = Table(
            "relay_lease",
            metadata,
            Column("name", String(100), primary_key=True),
            Column("holder", String(200), nullable=False),
            Column("expires_at", DateTime(timezone=True), nullable=False),
        )
        self._insert = self.table.insert()
        self.channel = channel_name(str(metadata.schema), "outbox")

    async def add(self, session: AsyncSession, *events: Event) -> list[uuid.UUID]:
        """Stage events in the caller's transaction; they are published only if it commits."""
        if not events:
            return []
        now = datetime.now(UTC)
        rows: list[dict[str, Any]] = []
        ids: list[uuid.UUID] = []
        trace = tracing.current() if tracing.ON else None  # the operation staging it: its creation context
        for ev in events:
            envelope = wrap(ev, self.service, trace=trace)
            ids.append(envelope.id)
            rows.append(
                {
                    "event_id": envelope.id,
                    "event_type": envelope.type,
                    "topic": ev.topic,
                    "key": ev.key,
                    "payload": envelope.model_dump_json(),
                    "created_at": now,
                }
            )
        # executemany of one cached statement: asyncpg pipelines the rows in one round trip
        # (docs/decisions/0001).
        await session.execute(self._insert, rows)
        wake_on_commit(session, self.channel)
        return ids

    async def forget(self, session: AsyncSession, topic: str, keys: list[str]) -> None:
        """Erase what this outbox holds under these keys of a compacted topic (sent or not) and stage a
        tombstone for each, so the broker forgets them too (``cleanup.policy=compact``)."""
        if not keys:
            return
        table = self.table
        await session.execute(delete(table).where(table.c.topic == topic, table.c.key.in_(keys)))
        now = datetime.now(UTC)
        rows = [
            {
                "event_id": uuid.uuid4(),
                "event_type": TOMBSTONE,
                "topic": topic,
                "key": k,
                "payload": None,
                "created_at": now,
            }
            for k in keys
        ]
        await session.execute(self._insert, rows)
        wake_on_commit(session, self.channel)


@dataclass(eq=False)
class Relay:
    """Publishes a schema's outbox rows in order, while it holds the schema's lease, and marks them sent."""

    outbox: Outbox
    sessions: async_sessionmaker[AsyncSession]
    send: Send
    poll_interval_s: float = field(default=0.5, kw_only=True)
    batch_size: int = field(default=200, kw_only=True)
    linger_s: float = field(default=0.0, kw_only=True)
    lease_s: float = field(default=10.0, kw_only=True)
    retention: timedelta = field(default=timedelta(days=7), kw_only=True)
    prune_interval_s: float = field(default=3600.0, kw_only=True)
    lag_interval_s: float = field(default=5.0, kw_only=True)
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC), kw_only=True)
    # The envelope ids on each topic since a time: read back after taking the lease over (None: not read)
    readback: Readback | None = field(default=None, kw_only=True)
    tracer: Tracer | None = field(default=None, kw_only=True)  # a send span per event when tracing is on
    holder: str = field(default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}")
    published: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        self.worker = Worker(
            f"outbox-relay-{self.outbox.service}",
            self.step,
            poll_interval_s=self.poll_interval_s,
            linger_s=self.linger_s,
            channels=(self.outbox.channel,),
        )
        self._next_due: dict[str, float] = {}  # periodic chore: when it is due next (loop time)
        self.lease = Lease(self.outbox.lease, self.outbox.service, self.holder, self.lease_s)
        self._unmarked: list[Any] = []  # acknowledged rows whose marking failed: marked before any send

    def wake(self) -> None:
        self.worker.wake()

    @property
    def holding(self) -> bool:
        """Whether the lease is ours for sure (this process's clock, started before the lease was taken)."""
        return self.lease.holding

    def may_write(self) -> bool:
        """For the producer's fence (``shared.relay_kafka``): whether a write may still go out."""
        return self.lease.may_write()

    async def release(self) -> None:
        """Give the lease up (a clean stop): another instance takes over at once, not when it expires."""
        await self.lease.release(self.sessions)

    async def publish_batch(self, *, defer: bool = False) -> int:
        """Publish up to one batch of unsent rows while holding the lease; return how many were published.

        Every acknowledged row is marked sent before this returns, except with ``defer`` (the worker's
        step) when a commit woke the worker during the batch: then the last wave's rows are marked in
        the next batch's transaction, which runs at once (one transaction a batch instead of two).
        Raises the first send failure after marking what was acknowledged (the worker backs off)."""
        table = self.outbox.table
        marking = list(self._unmarked)
        async with self.sessions() as session, session.begin():
            if marking:  # on the topic already, whoever holds the lease: marked, so the select leaves them out
                await self._mark(session, marking)
            # renewed here once half of it has gone: most polls of the holder are the one select
            held = not self.lease.due or await self.lease.take(session)
            rows = (
                (
                    await session.execute(
                        select(table.c.seq, table.c.topic, table.c.key, table.c.payload, table.c.event_type)
                        .where(table.c.sent_at.is_(None))
                        .order_by(table.c.seq)
                        .limit(self.batch_size)
                    )
                ).all()
                if held
                else []
            )
        self._marked(marking)
        if self.lease.taken_over and self.readback is not None:
            rows = await self._reconcile(rows) if rows else []
            self.lease.taken_over = False
        if not rows:
            return 0
        renewing = asyncio.create_task(self.lease.keep(self.sessions))
        try:
            published = await self._send_in_key_order(rows, defer)
        finally:
            renewing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewing
        return published

    async def _mark(self, session: AsyncSession, rows: Sequence[Any]) -> None:
        table = self.outbox.table
        await session.execute(
            update(table).where(table.c.seq.in_([r.seq for r in rows])).values(sent_at=datetime.now(UTC))
        )

    async def _mark_sent(self, rows: list[Any]) -> None:
        self._unmarked.extend(rows)  # acknowledged: never sent again; if this fails, marked with the next poll
        await self._flush()

    async def _flush(self) -> None:
        """Mark what was acknowledged and is not marked yet, in a transaction of its own."""
        marking = list(self._unmarked)
        if not marking:
            return
        async with self.sessions() as session, session.begin():
            await self._mark(session, marking)
        self._marked(marking)

    def _marked(self, rows: list[Any]) -> None:
        """``rows``, the first of ``_unmarked``, are marked sent now: no longer waiting, and counted."""
        del self._unmarked[: len(rows)]
        self.published += len(rows)
        for r in rows:
            EVENTS_PUBLISHED.labels(self.outbox.service, r.event_type).inc()

    async def _reconcile(self, rows: Sequence[Any]) -> Sequence[Any]:
        """After taking the lease over from a relay that let it run out: the oldest unsent rows that
        relay may have published (its batch, and rows committed late below it) are looked up on
        their topics by envelope id; those found are marked sent, not published again."""
        assert self.readback is not None
        table = self.outbox.table
        async with self.sessions() as session:
            candidates = (
                await session.execute(
                    select(table.c.seq, table.c.event_id, table.c.topic, table.c.created_at)
                    .where(table.c.sent_at.is_(None), table.c.event_type != TOMBSTONE)
                    .order_by(table.c.seq)
                    .limit(2 * self.batch_size)
                )
            ).all()
        since: dict[str, datetime] = {}
        for c in candidates:
            since[c.topic] = min(since.get(c.topic, c.created_at), c.created_at)
        on_topics = await self.readback({t: at - READBACK_SLACK for t, at in since.items()}) if since else set()
        found = [c for c in candidates if str(c.event_id) in on_topics]
        if found:
            async with self.sessions() as session, session.begin():
                await self._mark(session, found)
            log.warning("%d events of %s were on the topics already: marked sent", len(found), self.outbox.service)
        done = {c.seq for c in found}
        return [r for r in rows if r.seq not in done]

    async def _send_in_key_order(self, rows: Sequence[Any], defer: bool = False) -> int:
        """Send in waves: the next row of every key, pipelined, then wait for their acknowledgements and
        mark those sent (so a relay frozen later never has them sent again). A key stops at its first
        failure, and everything stops once the lease is not surely held. Returns how many were
        published; raises the first failure once the acknowledged rows are marked."""
        # Order matters per key of a topic (a partition keeps it); the same key on two topics (an
        # application's ApplicationSubmitted and its ContactRecorded) shares a wave.
        queues: dict[tuple[str, str], deque[Any]] = {}
        for r in rows:
            queues.setdefault((r.topic, r.key), deque()).append(r)
        published = 0
        error: Exception | None = None
        spans: dict[int, Span] = {}  # with tracing on: each row's send span, ended at its ack
        while queues:
            wave: list[tuple[Any, Awaitable[Any]]] = []
            for key in list(queues):
                if not self.holding:  # frozen or cut off past the lease: another relay may be publishing
                    queues.clear()
                    break
                r = queues[key].popleft()
                try:
                    payload = r.payload.encode() if r.payload is not None else None  # None: a tombstone
                    if self.tracer is None or payload is None:
                        wave.append((r, await self.send(r.topic, r.key.encode(), payload)))
                    else:
                        spans[r.seq], headers = tracing.sending(self.tracer, r.topic, r.event_type, r.payload)
                        wave.append((r, await self.send(r.topic, r.key.encode(), payload, headers)))
                except Exception as exc:
                    tracing.ended(spans.pop(r.seq, None), exc)
                    error = error or exc
                    del queues[key]
                    continue
                if not queues[key]:
                    del queues[key]
            results = await asyncio.gather(*(ack for _, ack in wave), return_exceptions=True)
            acked = []
            for (r, _), result in zip(wave, results, strict=True):
                if spans:
                    tracing.ended(spans.pop(r.seq, None), result)
                if isinstance(result, BaseException):
                    error = error or (result if isinstance(result, Exception) else RuntimeError(repr(result)))
                    queues.pop((r.topic, r.key), None)  # this key's later events wait for the next batch
                else:
                    acked.append(r)
            if acked and not queues and error is None and defer and self.worker.woken:
                self._unmarked.extend(acked)  # the last wave: marked with the next batch, which runs at once
                published += len(acked)
            elif acked:
                await self._mark_sent(acked)
                published += len(acked)
        if error is not None:
            raise error
        return published

    async def prune(self, batch_size: int = 5000) -> int:
        """Delete rows sent longer ago than the retention period; unsent rows are never touched."""
        table = self.outbox.table
        cutoff = self.clock() - self.retention
        removed = 0
        while True:
            async with self.sessions() as session, session.begin():
                doomed = (
                    select(table.c.seq)
                    .where(table.c.sent_at.is_not(None), table.c.sent_at < cutoff)
                    .order_by(table.c.seq)
                    .limit(batch_size)
                    .scalar_subquery()
                )
                result = await session.execute(delete(table).where(table.c.seq.in_(doomed)))
            count = int(getattr(result, "rowcount", 0) or 0)
            removed += count
            if count < batch_size:
                break
        if removed:
            log.info("pruned %d sent outbox rows of %s older than %s", removed, self.outbox.service, cutoff)
        return removed

    def _due(self, chore: str, interval_s: float) -> bool:
        """Whether a periodic chore is due now; if it is, it is next due ``interval_s`` from now."""
        now = asyncio.get_running_loop().time()
        if now < self._next_due.get(chore, 0.0):
            return False
        self._next_due[chore] = now + interval_s
        return True

    async def _housekeeping(self) -> None:
        if self._due("prune", self.prune_interval_s):
            try:
                await self.prune()
            except Exception:  # pruning is housekeeping: never let it stop publishing
                log.exception("pruning the outbox of %s failed; trying again later", self.outbox.service)
        # The gauges are scraped every few seconds at most: measuring after every batch would cost a query each.
        if self._due("lag", self.lag_interval_s):
            with contextlib.suppress(Exception):
                await self.measure_lag()

    async def measure_lag(self) -> None:
        """Update the outbox gauges: unsent rows and the age of the oldest one."""
        table = self.outbox.table
        async with self.sessions() as session:
            count, oldest = (
                await session.execute(
                    select(func.count(), func.min(table.c.created_at)).where(table.c.sent_at.is_(None))
                )
            ).one()
        OUTBOX_UNSENT.labels(self.outbox.service).set(count)
        lag = (datetime.now(UTC) - oldest).total_seconds() if oldest is not None else 0.0
        OUTBOX_LAG.labels(self.outbox.service).set(lag)

    async def step(self) -> bool:
        """One round: a batch published (and, when the backlog is drained, the periodic chores)."""
        # rows left to mark with the next batch were left because a commit woke the worker: it runs at once
        if await self.publish_batch(defer=True) == self.batch_size:
            return True
        await self._housekeeping()
        return False

    def start(self) -> None:
        self.worker.start()

    async def stop(self) -> None:
        """Finish the batch in flight and mark what it had acknowledged, then stop."""
        await self.worker.stop()
        try:
            await self._flush()
        except Exception:  # sent all the same; a relay that takes over reads the topics back
            log.exception("marking %d sent events of %s failed at stop", len(self._unmarked), self.outbox.service)
