"""The transactional outbox: events saved with the state change, published after commit by a relay.

``Outbox.add`` writes the envelopes in the caller's transaction. The ``Relay`` claims unsent rows
in order (one relay at a time per schema, held by a transaction-scoped advisory lock, so per-key
order survives several instances), publishes them pipelined, waits for every acknowledgement and
marks them sent in the same transaction. A crash between publish and mark publishes again:
delivery is at least once, and consumers dedupe on the envelope id through their inbox.
Sent rows are kept for a retention period (for audit and replay by hand), then pruned in batches.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

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

from shared.envelope import wrap
from shared.events import Event
from shared.observability import EVENTS_PUBLISHED, OUTBOX_LAG, OUTBOX_UNSENT
from shared.worker import Worker, channel_name, wake_on_commit

log = logging.getLogger(__name__)

# Send one message (topic, key, value; a value of None is a tombstone); returns an awaitable that
# completes on the broker's ack.
Send = Callable[[str, bytes, bytes | None], Awaitable[Awaitable[Any]]]
TOMBSTONE = "tombstone"  # the event_type of an outbox row whose payload is NULL


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
        self._insert = self.table.insert()
        self.channel = channel_name(str(metadata.schema), "outbox")

    async def add(self, session: AsyncSession, *events: Event) -> list[uuid.UUID]:
        """Stage events in the caller's transaction; they are published only if it commits."""
        if not events:
            return []
        now = datetime.now(UTC)
        rows: list[dict[str, Any]] = []
        ids: list[uuid.UUID] = []
        for ev in events:
            envelope = wrap(ev, self.service)
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
    """Publishes a schema's outbox rows in order and marks them sent."""

    outbox: Outbox
    sessions: async_sessionmaker[AsyncSession]
    send: Send
    poll_interval_s: float = field(default=0.5, kw_only=True)
    batch_size: int = field(default=200, kw_only=True)
    linger_s: float = field(default=0.0, kw_only=True)
    retention: timedelta = field(default=timedelta(days=7), kw_only=True)
    prune_interval_s: float = field(default=3600.0, kw_only=True)
    lag_interval_s: float = field(default=5.0, kw_only=True)
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC), kw_only=True)
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

    def wake(self) -> None:
        self.worker.wake()

    async def publish_batch(self) -> int:
        """Publish up to one batch of unsent rows; return how many were published."""
        table = self.outbox.table
        lock_key = f"lbb-outbox-{table.schema}"
        async with self.sessions() as session, session.begin():
            locked = await session.scalar(select(func.pg_try_advisory_xact_lock(func.hashtext(lock_key))))
            if not locked:
                return 0
            rows = (
                await session.execute(
                    select(table.c.seq, table.c.topic, table.c.key, table.c.payload, table.c.event_type)
                    .where(table.c.sent_at.is_(None))
                    .order_by(table.c.seq)
                    .limit(self.batch_size)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            if not rows:
                return 0
            acks = [
                await self.send(r.topic, r.key.encode(), r.payload.encode() if r.payload is not None else None)
                for r in rows
            ]
            await asyncio.gather(*acks)
            await session.execute(
                update(table).where(table.c.seq.in_([r.seq for r in rows])).values(sent_at=datetime.now(UTC))
            )
        self.published += len(rows)
        for r in rows:
            EVENTS_PUBLISHED.labels(self.outbox.service, r.event_type).inc()
        return len(rows)

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
        if await self.publish_batch() == self.batch_size:
            return True
        await self._housekeeping()
        return False

    def start(self) -> None:
        self.worker.start()

    async def stop(self) -> None:
        """Finish the batch in flight, then stop."""
        await self.worker.stop()
