"""A handler's call to another server that times out for every event does not hold a partition: the
events are retried within the batch's budget, dead-lettered, recorded in the inbox as such, and the
partition moves on. PostgreSQL away is different: the same consumer waits for it, dead-letters
nothing, and applies every event once when it is back.

The consumer runs in the test process (scratch schema and topic, shared/consumer.py as every service
uses it) on the fault stack's broker and PostgreSQL; the outside server is a real TCP server that
accepts and never answers.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from faststream.kafka import KafkaBroker
from sqlalchemy import Column, Integer, MetaData, Table, Uuid, func, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from lbb.devstack import Stack
from shared import topics
from shared.broker import ensure_topics
from shared.consumer import Consumer, Context
from shared.db import make_engine, make_sessionmaker, schema_metadata
from shared.envelope import wrap
from shared.events import Event
from shared.inbox import DEAD_LETTERED, Inbox
from shared.outbox import Outbox
from shared.settings import ServiceSettings
from tests.conftest import eventually, scratch, subscribed
from tests.faults.conftest import Count, Ledger, fault_n, recover

SCHEMA = "lbb_test_outside"
TOPIC = "lbb.test.outside.v1"
AWAY_TOPIC = "lbb.test.outside-db-away.v1"  # a topic of its own: the other test's hung events stay out of it
CALL_TIMEOUT_S = 0.01
RETRY_BUDGET_S = 1.0


class Called(Event):
    """An event whose handler calls another server (``outside``) or only writes its effect."""

    topic = TOPIC
    key_field = "thing_id"
    thing_id: uuid.UUID
    outside: bool


class Waited(Called):
    """The same, on the topic of the database-away scenario."""

    topic = AWAY_TOPIC


metadata: MetaData = schema_metadata(SCHEMA)
# no unique constraint on thing_id: a doubled effect would be counted, not refused
effect = Table("effect", metadata, Column("n", Integer, primary_key=True, autoincrement=True), Column("thing_id", Uuid))
inbox = Inbox(metadata)
outbox = Outbox(metadata, service="outside-test")


@pytest.fixture
async def silent_server() -> AsyncIterator[tuple[str, int]]:
    """Accepts connections and never answers (an SMTP or HTTP server that hangs)."""
    held: list[asyncio.StreamWriter] = []

    async def hang(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(hang, "127.0.0.1", 0)
    host, port = server.sockets[0].getsockname()[:2]
    yield host, port
    for writer in held:
        writer.close()
    server.close()
    await server.wait_closed()


@pytest.fixture
async def sessions(stack: Stack, engine: AsyncEngine) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    assert stack.kafka_bootstrap_servers and stack.database_url
    await scratch(stack, engine, SCHEMA, metadata, TOPIC)
    await ensure_topics(stack.kafka_bootstrap_servers, [AWAY_TOPIC, topics.dlq(AWAY_TOPIC)])
    own = make_engine(stack.database_url)  # the consumer's own pool, as in a service
    yield make_sessionmaker(own)
    await own.dispose()


Consuming = Callable[[type[Called]], Awaitable[tuple[KafkaBroker, Consumer]]]


@pytest.fixture
def consuming(stack: Stack, sessions: async_sessionmaker[AsyncSession], silent_server: tuple[str, int]) -> Consuming:
    """Starts a consumer of an event kind in the test process, on the fault stack, its outside calls
    going to the silent server."""

    async def start(kind: type[Called]) -> tuple[KafkaBroker, Consumer]:
        cfg = ServiceSettings(
            service_name=f"outside-test-{uuid.uuid4().hex[:8]}",
            kafka_bootstrap_servers=stack.kafka_bootstrap_servers or "",
            database_url=stack.database_url or "",
            handler_max_attempts=3,
            consumer_retry_budget_s=RETRY_BUDGET_S,
        )

        async def on_called(ctx: Context, event: Called) -> None:
            if event.outside:  # the call times out: a hung server, not the database
                reader, writer = await asyncio.open_connection(*silent_server)
                try:
                    await asyncio.wait_for(reader.read(1), timeout=CALL_TIMEOUT_S)
                finally:
                    writer.close()
            await ctx.session.execute(insert(effect).values(thing_id=event.thing_id))

        broker, consumer = subscribed(cfg, cfg.service_name, sessions, inbox, outbox, {kind: on_called})
        await broker.start()
        return broker, consumer

    return start


async def send(broker: KafkaBroker, events: list[Called]) -> set[str]:
    """Onto the topic as a relay would; returns the envelope ids."""
    envelopes = [wrap(e, "outside-test") for e in events]
    acks = [
        await broker.publish(env.to_bytes(), topic=e.topic, key=e.key.encode(), no_confirm=True)
        for env, e in zip(envelopes, events, strict=True)
    ]
    await asyncio.gather(*acks)
    return {str(env.id) for env in envelopes}


async def effects(sessions: async_sessionmaker[AsyncSession], things: set[uuid.UUID]) -> tuple[int, int]:
    """Effect rows of these things, and how many different things they are."""
    async with sessions() as s:
        rows = (await s.scalars(select(effect.c.thing_id))).all()
    mine = [t for t in rows if t in things]
    return len(mine), len(set(mine))


def dead_ids(records: list[Any]) -> list[str]:
    return [json.loads(r.value)["id"] for r in records]


async def test_an_outside_call_that_times_out_for_every_event_is_dead_lettered_and_the_partition_moves_on(
    sessions: async_sessionmaker[AsyncSession], consuming: Consuming, topic_reader: Any, ledger: Ledger
) -> None:
    n = fault_n()
    hung = [Called(thing_id=uuid.uuid4(), outside=True) for _ in range(n)]
    later = [Called(thing_id=uuid.uuid4(), outside=False) for _ in range(n // 10 or 1)]
    dlq = await topic_reader([topics.dlq(TOPIC)])
    broker, consumer = await consuming(Called)
    try:
        started = time.monotonic()
        hung_ids = await send(broker, hung)
        await send(broker, later)  # behind the hung events on their partitions

        async def later_applied() -> bool:
            return (await effects(sessions, {e.thing_id for e in later}))[1] == len(later)

        await eventually(later_applied, timeout_s=60 + n * 0.2, what="the events behind the hung ones to apply")
        moved_on_s = time.monotonic() - started

        async def all_dead() -> list[str] | None:
            ids = [i for i in dead_ids(await dlq.poll()) if i in hung_ids]
            return ids if set(ids) == hung_ids else None

        dead = await eventually(all_dead, timeout_s=30, what="every hung event on the dead-letter topic")
    finally:
        await broker.stop()
    async with sessions() as s:
        marked = select(func.count()).select_from(inbox.table).where(inbox.table.c.status == DEAD_LETTERED)
        recorded = await s.scalar(marked)
    assert (await effects(sessions, {e.thing_id for e in hung}))[0] == 0
    scenario = f"an outside call times out for every event (moved on in {moved_on_s:.0f}s)"
    ids = len(set(dead))
    ledger.record(scenario, "dead letters on the DLQ (envelope ids)", Count(n, ids, ids, len(dead) - ids, 0))
    marked_rows = int(recorded or 0)
    ledger.record(scenario, "inbox rows marked dead-lettered (key)", Count(n, marked_rows, marked_rows, keyed=True))
    found, distinct = await effects(sessions, {e.thing_id for e in later})
    ledger.record(scenario, "later events applied (effect rows)", Count(len(later), found, distinct))
    assert len(dead) == len(set(dead)) == n == recorded
    assert found == distinct == len(later)
    assert consumer.dead_lettered == n


async def test_postgresql_away_holds_the_partition_and_nothing_is_dead_lettered(
    stack: Stack, sessions: async_sessionmaker[AsyncSession], consuming: Consuming, topic_reader: Any, ledger: Ledger
) -> None:
    down_s = float(os.environ.get("LBB_FAULT_PG_DOWN_S", "15"))
    postgres = stack.postgres
    assert postgres is not None, "the fault tests run the embedded PostgreSQL"
    n = fault_n()
    events: list[Called] = [Waited(thing_id=uuid.uuid4(), outside=False) for _ in range(n)]
    things = {e.thing_id for e in events}
    dlq = await topic_reader([topics.dlq(AWAY_TOPIC)])
    broker, consumer = await consuming(Waited)
    loop = asyncio.get_running_loop()
    try:
        sent = await send(broker, events[:1])
        await eventually(lambda: _applied(sessions, things, 1), what="the consumer to apply its first event")
        await loop.run_in_executor(None, postgres.halt)
        try:
            sent |= await send(broker, events[1:])
            away_at = time.monotonic()
            # the outage lasts its set length: a fault's duration, not a wait for a condition
            await asyncio.sleep(max(0.0, down_s - (time.monotonic() - away_at)))
            assert consumer.dead_lettered == 0
        finally:
            await loop.run_in_executor(None, postgres.resume)
        await eventually(lambda: _applied(sessions, things, n), timeout_s=90, what="every event after the outage")
    finally:
        await broker.stop()
        recover(stack)
    found, distinct = await effects(sessions, things)
    scenario = f"PostgreSQL away {down_s:.0f}s under a consumer"
    ledger.record(scenario, "effects applied (effect rows)", Count(n, found, distinct))
    assert found == distinct == n
    assert consumer.dead_lettered == 0
    assert not sent & set(dead_ids(await dlq.poll()))


async def _applied(sessions: async_sessionmaker[AsyncSession], things: set[uuid.UUID], n: int) -> bool:
    try:
        return (await effects(sessions, things))[1] >= n
    except Exception:  # PostgreSQL still coming back
        return False
