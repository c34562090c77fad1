"""The outbox relay against the real broker and PostgreSQL: a lease instead of a lock held across
broker I/O, and per-key order when a send fails (tests/faults/test_relays.py freezes a relay process)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from lbb.devstack import Stack
from shared.outbox import Relay
from shared.relay_kafka import RelayProducer
from shared.settings import Settings
from tests.conftest import eventually, scratch, stopped_at_the_end
from tests.relaying import SCHEMA, TOPIC, TopicCheck, metadata, numbered, outbox, stage


@pytest.fixture
async def sessions(stack: Stack, engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return await scratch(stack, engine, SCHEMA, metadata, TOPIC)


@pytest.fixture
async def producers(stack: Stack) -> AsyncIterator[Callable[[], Awaitable[RelayProducer]]]:
    settings = Settings(kafka_bootstrap_servers=stack.kafka_bootstrap_servers or "", database_url="")
    async with stopped_at_the_end(lambda: RelayProducer(settings, "relay-test")) as make:
        yield make


@pytest.fixture
async def producer(producers: Callable[[], Awaitable[RelayProducer]]) -> RelayProducer:
    return await producers()


async def unsent(sessions: async_sessionmaker[AsyncSession]) -> set[tuple[str, int]]:
    table = outbox.table
    async with sessions() as s:
        payloads = (await s.scalars(select(table.c.payload).where(table.c.sent_at.is_(None)))).all()
    return {(json.loads(p)["data"]["stream"], json.loads(p)["data"]["seq"]) for p in payloads}


async def on_topic(reader: Any, rounds: list[list[Any]], total: int) -> TopicCheck:
    """What reached the topic of the streams of ``rounds``, once all ``total`` events have."""
    streams = {e.stream for e in rounds[0]}

    async def all_there() -> TopicCheck | None:
        check = TopicCheck(await reader.poll(), streams)
        return check if check.distinct == total else None

    return await eventually(all_there, what=f"the {total} events on the topic")


async def test_a_failed_send_stops_its_key_and_nothing_acknowledged_is_sent_again(
    sessions: async_sessionmaker[AsyncSession], producer: RelayProducer, topic_reader: Any
) -> None:
    """One stream's second event is refused when it is handed over, another's when the broker answers:
    each of those streams stops there (its later events are not even tried), every other event and
    every earlier one is marked sent, and the next batch sends exactly what was left, in order."""
    rounds = numbered(streams=5, per_stream=4)
    for events in rounds:
        await stage(sessions, events)
    refused, unanswered = rounds[0][0].stream, rounds[0][1].stream
    real = producer.send
    tried: list[tuple[str, int]] = []
    faults = True

    async def send(topic: str, key: bytes, value: bytes) -> Any:
        data = json.loads(value)["data"]
        tried.append((data["stream"], data["seq"]))
        if faults and data["seq"] == 1 and data["stream"] == refused:
            raise RuntimeError("the producer refused the message")
        if faults and data["seq"] == 1 and data["stream"] == unanswered:
            failed: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
            failed.set_exception(RuntimeError("the broker answered with an error"))
            return failed
        return await real(topic, key, value)

    relay = Relay(outbox, sessions, send)
    with pytest.raises(RuntimeError, match=r"refused|answered"):
        await relay.publish_batch()
    left = {(s, seq) for s in (refused, unanswered) for seq in (1, 2, 3)}
    assert await unsent(sessions) == left
    assert not (left - {(s, 1) for s in (refused, unanswered)}) & set(tried)  # never tried past a failure
    assert relay.published == 20 - 6

    faults, tried = False, []
    while await relay.publish_batch():
        pass
    assert sorted(tried) == sorted(left)  # what was acknowledged is not sent again
    assert await unsent(sessions) == set()

    check = await on_topic(await topic_reader([TOPIC]), rounds, 20)
    assert (check.found, check.out_of_order) == (20, 0)


async def test_one_relay_holds_the_lease_until_it_expires_or_is_given_up(
    sessions: async_sessionmaker[AsyncSession], producer: RelayProducer
) -> None:
    """A second relay publishes nothing while the first holds the lease; when the first stops renewing
    it (frozen, killed) the second takes over once it expires; a lease given up passes at once."""
    a = Relay(outbox, sessions, producer.send, lease_s=2.0)
    b = Relay(outbox, sessions, producer.send, lease_s=2.0)
    rounds = numbered(streams=5, per_stream=3)
    await stage(sessions, rounds[0])
    assert await a.publish_batch() == 5
    await stage(sessions, rounds[1])
    loop = asyncio.get_running_loop()
    held_since = loop.time()
    assert await b.publish_batch() == 0
    assert len(await unsent(sessions)) == 5

    taken = await eventually(b.publish_batch, timeout_s=10, what="the second relay to take the expired lease")
    assert taken == 5
    assert loop.time() - held_since >= 1.0  # not before the first holder's lease ran out
    await stage(sessions, rounds[2])
    assert await a.publish_batch() == 0  # a has lost it: it sends nothing more

    await b.release()
    assert await a.publish_batch() == 5
    assert await unsent(sessions) == set()


async def test_a_relay_paused_past_its_lease_writes_nothing_it_had_buffered(
    sessions: async_sessionmaker[AsyncSession], producers: Callable[[], Awaitable[RelayProducer]], topic_reader: Any
) -> None:
    """The first relay stops dead in the middle of a wave (the event loop blocked past its lease, as a
    freeze or a long pause would), its earlier sends of that wave still in its producer. When it goes
    on, its producer writes none of them (the lease is gone), and the relay that takes over publishes
    every event once, in order.

    The producer's sender may have written some of the wave's first four sends before the pause (it
    lingers for none, and a send that waits on metadata or buffer space lets it run): those were
    written while the lease was held, are acknowledged and marked by the first relay, and are not
    published again."""
    lease_s = 1.0
    pa, pb = await producers(), await producers()
    rounds = numbered(streams=10, per_stream=3)
    for events in rounds:
        await stage(sessions, events)
    sends = 0

    async def pausing(topic: str, key: bytes, value: bytes | None) -> Any:
        nonlocal sends
        sends += 1
        if sends == 15:  # the middle of the second wave
            time.sleep(lease_s + 0.5)  # noqa: ASYNC251 - the pause under test: nothing else may run
        return await pa.send(topic, key, value)

    a = Relay(outbox, sessions, pausing, lease_s=lease_s)
    b = Relay(outbox, sessions, pb.send, lease_s=lease_s, readback=pb.envelope_ids)
    pa.may_write, pb.may_write = a.may_write, b.may_write
    with pytest.raises(Exception, match="lease"):
        await a.publish_batch()
    assert pa.held_back >= 1  # the send after the pause at least: never written
    # the first wave, and of the second at most the four sends made before the pause
    assert 10 <= a.published <= 14
    assert await b.publish_batch() == 30 - a.published

    check = await on_topic(await topic_reader([TOPIC]), rounds, 30)
    assert (check.found, check.out_of_order) == (30, 0)


async def test_taking_over_a_lease_left_to_run_out_marks_what_is_on_the_topic_already(
    sessions: async_sessionmaker[AsyncSession], producer: RelayProducer, topic_reader: Any
) -> None:
    """A relay published the first six events and died before marking them (its lease left to run
    out): the relay that takes over finds them on the topic by envelope id, marks them sent and
    publishes only the rest. After a lease given up cleanly, nothing is read back."""
    rounds = numbered(streams=4, per_stream=3)
    for events in rounds:
        await stage(sessions, events)
    table = outbox.table
    async with sessions() as s:
        first = (await s.execute(select(table.c.key, table.c.payload).order_by(table.c.seq).limit(6))).all()
    acks = [await producer.send(TOPIC, r.key.encode(), r.payload.encode()) for r in first]
    await asyncio.gather(*acks)
    async with sessions() as s, s.begin():
        await s.execute(outbox.lease.insert().values(name=outbox.service, holder="dead", expires_at=func.now()))

    read: list[dict[str, Any]] = []

    async def readback(since: dict[str, Any]) -> set[str]:
        read.append(since)
        return await producer.envelope_ids(since)

    relay = Relay(outbox, sessions, producer.send, readback=readback)
    assert await relay.publish_batch() == 6
    assert len(read) == 1 and set(read[0]) == {TOPIC}
    assert await unsent(sessions) == set()

    check = await on_topic(await topic_reader([TOPIC]), rounds, 12)
    assert (check.found, check.out_of_order) == (12, 0)

    await relay.release()
    await stage(sessions, numbered(streams=2, per_stream=1)[0])
    assert await Relay(outbox, sessions, producer.send, readback=readback).publish_batch() == 2
    assert len(read) == 1  # a released lease: nothing read back


async def test_a_commit_during_a_batch_has_that_batch_marked_with_the_next_claim(
    sessions: async_sessionmaker[AsyncSession], producer: RelayProducer, topic_reader: Any
) -> None:
    """The worker's relay: a commit that wakes it while it sends leaves that batch's acknowledged rows to
    be marked in the next batch's transaction, which runs at once; a batch that nobody woke it during is
    marked in a transaction of its own. Every event is published once, in order, and marked."""
    rounds = numbered(streams=3, per_stream=2)
    await stage(sessions, rounds[0])
    sends = 0

    async def send(topic: str, key: bytes, value: bytes | None) -> Any:
        nonlocal sends
        sends += 1
        if sends == 1:  # a commit while the first batch is sent: it wakes the relay
            await stage(sessions, rounds[1])
        return await producer.send(topic, key, value)

    flushes = 0

    class Counting(Relay):
        async def _flush(self) -> None:
            nonlocal flushes
            flushes += bool(self._unmarked)
            await super()._flush()

    relay = Counting(outbox, sessions, send)
    relay.start()
    try:

        async def all_marked() -> bool:
            return await unsent(sessions) == set() and not relay._unmarked

        await eventually(all_marked, what="every event marked sent")
    finally:
        await relay.stop()
    assert relay.published == 6 and sends == 6
    assert flushes == 1  # the second batch alone; the first was marked with the second's claim
    check = await on_topic(await topic_reader([TOPIC]), rounds, 6)
    assert (check.found, check.out_of_order) == (6, 0)
