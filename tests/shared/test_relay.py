"""The outbox relay against the real broker and PostgreSQL: a lease instead of a lock held across
broker I/O, and per-key order when a send fails (tests/faults/test_relays.py freezes a relay process)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from faststream.kafka import KafkaBroker
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from lbb.devstack import Stack
from shared.broker import make_broker, sender
from shared.outbox import Relay
from shared.settings import Settings
from tests.conftest import eventually, scratch
from tests.relaying import SCHEMA, TOPIC, TopicCheck, metadata, numbered, outbox, stage


@pytest.fixture
async def sessions(stack: Stack, engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return await scratch(stack, engine, SCHEMA, metadata, TOPIC)


@pytest.fixture
async def broker(stack: Stack) -> AsyncIterator[KafkaBroker]:
    settings = Settings(kafka_bootstrap_servers=stack.kafka_bootstrap_servers or "", database_url="")
    running = make_broker(settings, "relay-test")
    await running.start()
    yield running
    await running.stop()


async def unsent(sessions: async_sessionmaker[AsyncSession]) -> set[tuple[str, int]]:
    table = outbox.table
    async with sessions() as s:
        payloads = (await s.scalars(select(table.c.payload).where(table.c.sent_at.is_(None)))).all()
    return {(json.loads(p)["data"]["stream"], json.loads(p)["data"]["seq"]) for p in payloads}


async def test_a_failed_send_stops_its_key_and_nothing_acknowledged_is_sent_again(
    sessions: async_sessionmaker[AsyncSession], broker: KafkaBroker, topic_reader: Any
) -> None:
    """One stream's second event is refused when it is handed over, another's when the broker answers:
    each of those streams stops there (its later events are not even tried), every other event and
    every earlier one is marked sent, and the next batch sends exactly what was left, in order."""
    rounds = numbered(streams=5, per_stream=4)
    for events in rounds:
        await stage(sessions, events)
    refused, unanswered = rounds[0][0].stream, rounds[0][1].stream
    real = sender(broker)
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

    reader = await topic_reader([TOPIC])
    streams = {e.stream for e in rounds[0]}

    async def all_there() -> TopicCheck | None:
        check = TopicCheck(await reader.poll(), streams)
        return check if check.distinct == 20 else None

    check = await eventually(all_there, what="the 20 events on the topic")
    assert (check.found, check.out_of_order) == (20, 0)


async def test_one_relay_holds_the_lease_until_it_expires_or_is_given_up(
    sessions: async_sessionmaker[AsyncSession], broker: KafkaBroker
) -> None:
    """A second relay publishes nothing while the first holds the lease; when the first stops renewing
    it (frozen, killed) the second takes over once it expires; a lease given up passes at once."""
    a = Relay(outbox, sessions, sender(broker), lease_s=2.0)
    b = Relay(outbox, sessions, sender(broker), lease_s=2.0)
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
