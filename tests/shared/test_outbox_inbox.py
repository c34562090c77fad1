"""The shared plumbing against the real broker and PostgreSQL: outbox atomicity, inbox idempotency,
dead letters. A scratch schema and topic keep these tests apart from the services."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from faststream.kafka import KafkaBroker
from sqlalchemy import Column, Integer, MetaData, String, Table, Uuid, event, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from lbb.devstack import Stack
from shared import topics
from shared.consumer import Batched, Consumer, Context
from shared.db import schema_metadata
from shared.envelope import wrap
from shared.inbox import Inbox
from shared.outbox import Outbox, Relay
from shared.relay_kafka import RelayProducer
from shared.settings import ServiceSettings
from tests.conftest import _NamedThing, eventually, scratch
from tests.conftest import subscribed as consumer_of

SCHEMA = "lbb_test_plumbing"
TOPIC = "lbb.test.things.v1"


class ThingMade(_NamedThing):
    topic = TOPIC


metadata: MetaData = schema_metadata(SCHEMA)
thing = Table("thing", metadata, Column("id", Uuid, primary_key=True), Column("name", String(50)))
effect = Table("effect", metadata, Column("n", Integer, primary_key=True, autoincrement=True), Column("thing_id", Uuid))
outbox = Outbox(metadata, service="plumbing-test")
inbox = Inbox(metadata)


@pytest.fixture(scope="module")
async def sessions(stack: Stack, engine: AsyncEngine) -> AsyncIterator[async_sessionmaker[Any]]:
    yield await scratch(stack, engine, SCHEMA, metadata, TOPIC)


def settings(stack: Stack) -> ServiceSettings:
    return ServiceSettings(
        service_name=f"plumbing-test-{uuid.uuid4().hex[:8]}",
        kafka_bootstrap_servers=stack.kafka_bootstrap_servers or "",
        database_url=stack.database_url or "",
        handler_max_attempts=2,
    )


def subscribed(
    cfg: ServiceSettings, name: str, sessions: async_sessionmaker[Any], handler: Any
) -> tuple[KafkaBroker, Consumer]:
    """A broker with a consumer of ThingMade through the shared inbox, not started yet."""
    return consumer_of(cfg, name, sessions, inbox, outbox, {ThingMade: handler})


async def relay_all(stack: Stack, staged: Outbox, sessions: async_sessionmaker[Any], name: str) -> None:
    """Publish every row staged in ``staged`` as the service's relay ``name`` would, until none is left."""
    producer = RelayProducer(settings(stack), name)
    await producer.start()
    try:
        relay = Relay(staged, sessions, producer.send)
        while await relay.publish_batch():
            pass
    finally:
        await producer.stop()


def ids_on(records: list[Any]) -> list[str]:
    return [json.loads(r.value)["data"]["thing_id"] for r in records if r.topic == TOPIC]


async def test_a_rolled_back_state_change_publishes_no_event(
    stack: Stack, sessions: async_sessionmaker[Any], topic_reader: Any
) -> None:
    lost, kept = uuid.uuid4(), uuid.uuid4()
    with pytest.raises(RuntimeError, match="the business rule failed"):
        async with sessions() as s, s.begin():
            await s.execute(insert(thing).values(id=lost, name="lost"))
            await outbox.add(s, ThingMade(thing_id=lost, name="lost"))
            raise RuntimeError("the business rule failed after the event was staged")
    async with sessions() as s, s.begin():
        await s.execute(insert(thing).values(id=kept, name="kept"))
        await outbox.add(s, ThingMade(thing_id=kept, name="kept"))

    await relay_all(stack, outbox, sessions, "plumbing-test")
    reader = await topic_reader([TOPIC])

    async def kept_seen() -> list[str]:
        seen = ids_on(await reader.poll())
        return seen if str(kept) in seen else []

    seen = await eventually(kept_seen, what="the committed event on the topic")
    # The relay publishes in commit order: by the time `kept` is there, `lost` would have been too.
    assert str(lost) not in seen
    assert seen.count(str(kept)) == 1
    async with sessions() as s:
        assert await s.scalar(select(func.count()).select_from(thing).where(thing.c.id == lost)) == 0
        assert (
            await s.scalar(select(func.count()).select_from(outbox.table).where(outbox.table.c.sent_at.is_(None))) == 0
        )


async def test_the_same_event_delivered_twice_has_one_effect_and_poison_goes_to_the_dlq(
    stack: Stack, sessions: async_sessionmaker[Any], topic_reader: Any
) -> None:
    """Also: an event with a field this release does not know (a producer one release ahead) applies."""
    target, sentinel, ahead = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    key = str(target).encode()  # one key: one partition, so the sentinel is consumed last

    async def on_thing_made(ctx: Context, event: ThingMade) -> None:
        await ctx.session.execute(insert(effect).values(thing_id=event.thing_id))

    cfg = settings(stack)
    broker, consumer = subscribed(cfg, "plumbing-test-consumer", sessions, on_thing_made)
    duplicate = wrap(ThingMade(thing_id=target, name="twice"), "plumbing-test").to_bytes()
    await broker.start()
    try:
        await broker.publish(duplicate, topic=TOPIC, key=key)
        await broker.publish(duplicate, topic=TOPIC, key=key)
        await broker.publish(b"{not json", topic=TOPIC, key=key)
        bad_data = json.loads(duplicate) | {"id": str(uuid.uuid4()), "data": {"thing_id": "not-a-uuid"}}
        await broker.publish(json.dumps(bad_data).encode(), topic=TOPIC, key=key)
        unknown = json.loads(duplicate) | {"id": str(uuid.uuid4()), "type": "NoSuchEvent"}
        await broker.publish(json.dumps(unknown).encode(), topic=TOPIC, key=key)
        await broker.publish(None, topic=TOPIC, key=key)  # a tombstone: skipped, never dead-lettered
        from_next_release = json.loads(wrap(ThingMade(thing_id=ahead, name="newer"), "plumbing-test").to_bytes())
        from_next_release["data"]["colour"] = "added in the next release"
        await broker.publish(json.dumps(from_next_release).encode(), topic=TOPIC, key=key)
        await broker.publish(
            wrap(ThingMade(thing_id=sentinel, name="last"), "plumbing-test").to_bytes(), topic=TOPIC, key=key
        )

        async def sentinel_applied() -> int:
            async with sessions() as s:
                return int(
                    await s.scalar(select(func.count()).select_from(effect).where(effect.c.thing_id == sentinel))
                )

        await eventually(sentinel_applied, timeout_s=60, what="the consumer to reach the last message")
        async with sessions() as s:
            twice = await s.scalar(select(func.count()).select_from(effect).where(effect.c.thing_id == target))
            newer = await s.scalar(select(func.count()).select_from(effect).where(effect.c.thing_id == ahead))
        assert twice == 1
        assert newer == 1  # the unknown field was ignored, not dead-lettered (three dead letters below)
        assert consumer.duplicates == 1

        async def three_dead() -> bool:  # dead letters go out after their batch's transaction commits
            return consumer.dead_lettered == 3

        await eventually(three_dead, what="three dead letters sent")
    finally:
        await broker.stop()

    dlq = await topic_reader([topics.dlq(TOPIC)])

    async def dead_letters() -> list[Any]:
        records = [r for r in await dlq.poll() if r.key == key]
        return records if len(records) >= 3 else []

    records = await eventually(dead_letters, what="three dead letters")
    errors = [dict(r.headers)["x-lbb-error"].decode() for r in records]
    assert any("not a CloudEvents envelope" in e for e in errors)
    assert any("invalid data for ThingMade" in e for e in errors)
    assert any("unknown event type 'NoSuchEvent'" in e for e in errors)
    assert {r.value for r in records} >= {b"{not json"}
    source = await topic_reader([TOPIC])

    async def tombstone() -> list[Any]:
        return [r for r in await source.poll() if r.key == key and r.value is None]

    assert await eventually(tombstone, what="the tombstone on the topic (a null value, not empty bytes)")


async def test_pruning_removes_only_rows_sent_before_the_retention_period(sessions: async_sessionmaker[Any]) -> None:
    now = datetime(2026, 11, 23, 12, tzinfo=UTC)
    ids = {name: uuid.uuid4() for name in ("old-sent", "recent-sent", "old-unsent")}
    async with sessions() as s, s.begin():
        staged = {name: (await outbox.add(s, ThingMade(thing_id=i, name=name)))[0] for name, i in ids.items()}
    table = outbox.table
    async with sessions() as s, s.begin():
        await s.execute(
            update(table)
            .where(table.c.event_id == staged["old-sent"])
            .values(created_at=now - timedelta(days=9), sent_at=now - timedelta(days=8))
        )
        await s.execute(
            update(table)
            .where(table.c.event_id == staged["recent-sent"])
            .values(created_at=now - timedelta(days=2), sent_at=now - timedelta(days=1))
        )
        await s.execute(
            update(table).where(table.c.event_id == staged["old-unsent"]).values(created_at=now - timedelta(days=30))
        )

    relay = Relay(outbox, sessions, lambda *_: None, retention=timedelta(days=7), clock=lambda: now)  # type: ignore[arg-type,return-value]
    removed = await relay.prune(batch_size=1)
    async with sessions() as s:
        left = set((await s.scalars(select(table.c.event_id).where(table.c.event_id.in_(staged.values())))).all())
    assert left == {staged["recent-sent"], staged["old-unsent"]}
    assert removed >= 1  # other tests' rows sent long ago may go too; never an unsent or recent one
    async with sessions() as s, s.begin():  # leave nothing unsent behind for other tests' relays
        await s.execute(update(table).where(table.c.event_id == staged["old-unsent"]).values(sent_at=now))


async def test_a_failing_handler_is_retried_in_place_then_dead_lettered_and_the_rest_of_the_batch_applies(
    stack: Stack, sessions: async_sessionmaker[Any], topic_reader: Any
) -> None:
    flaky, broken, after = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    key = str(flaky).encode()  # one partition: the three arrive in order, usually in one batch
    calls: dict[uuid.UUID, int] = {}

    async def on_thing_made(ctx: Context, event: ThingMade) -> None:
        calls[event.thing_id] = calls.get(event.thing_id, 0) + 1
        await ctx.session.execute(insert(effect).values(thing_id=event.thing_id))
        if event.thing_id == broken or (event.thing_id == flaky and calls[flaky] == 1):
            raise RuntimeError(f"handler failure for {event.name}")

    cfg = settings(stack)
    broker, _consumer = subscribed(cfg, "plumbing-test-retry", sessions, on_thing_made)
    await broker.start()
    try:
        for thing_id, name in ((flaky, "flaky"), (broken, "broken"), (after, "after")):
            await broker.publish(wrap(ThingMade(thing_id=thing_id, name=name), "t").to_bytes(), topic=TOPIC, key=key)

        async def after_applied() -> int:
            async with sessions() as s:
                return int(await s.scalar(select(func.count()).select_from(effect).where(effect.c.thing_id == after)))

        await eventually(after_applied, timeout_s=60, what="the event after the broken one to apply")
        async with sessions() as s:
            counts = {
                t: await s.scalar(select(func.count()).select_from(effect).where(effect.c.thing_id == t))
                for t in (flaky, broken, after)
            }
        # the failed attempts' writes were rolled back with their savepoint: one effect, or none
        assert counts == {flaky: 1, broken: 0, after: 1}
        assert calls[flaky] == 2 and calls[broken] == cfg.handler_max_attempts == 2
    finally:
        await broker.stop()

    dlq = await topic_reader([topics.dlq(TOPIC)])

    async def dead_letter() -> list[Any]:
        return [r for r in await dlq.poll() if r.key == key]

    (record,) = await eventually(dead_letter, what="the broken event's dead letter")
    assert "handler failed 2 times" in dict(record.headers)["x-lbb-error"].decode()
    assert json.loads(record.value)["data"]["thing_id"] == str(broken)


async def test_a_batch_applies_straight_through_and_only_a_failing_one_pays_for_savepoints(
    stack: Stack, engine: AsyncEngine, sessions: async_sessionmaker[Any]
) -> None:
    """A batch without failures uses no savepoint; a handler that always fails gets its
    ``handler_max_attempts`` in all (the straight-through attempt counts) and the others apply once."""
    first, broken, last = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    calls: dict[uuid.UUID, int] = {}

    async def on_thing_made(ctx: Context, event: ThingMade) -> None:
        calls[event.thing_id] = calls.get(event.thing_id, 0) + 1
        await ctx.session.execute(insert(effect).values(thing_id=event.thing_id))
        if event.thing_id == broken:
            raise RuntimeError("always fails")

    cfg = settings(stack)
    _, consumer = subscribed(cfg, "plumbing-test-straight", sessions, on_thing_made)
    savepoints: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.upper().startswith("SAVEPOINT"):
            savepoints.append(statement)

    def records(*things: uuid.UUID) -> tuple[Any, ...]:
        return tuple(
            SimpleNamespace(value=wrap(ThingMade(thing_id=t, name="n"), "t").to_bytes(), topic=TOPIC) for t in things
        )

    async def effects(*things: uuid.UUID) -> dict[uuid.UUID, int]:
        async with sessions() as s:
            return {
                t: int(await s.scalar(select(func.count()).select_from(effect).where(effect.c.thing_id == t)) or 0)
                for t in things
            }

    event.listen(engine.sync_engine, "before_cursor_execute", count)
    try:
        smooth = uuid.uuid4(), uuid.uuid4()
        assert await consumer.apply_batch(records(*smooth)) == []
        assert savepoints == [] and await effects(*smooth) == dict.fromkeys(smooth, 1)

        once = uuid.uuid4()  # published twice by a relay, fetched twice in one batch: applied once
        twice = SimpleNamespace(value=wrap(ThingMade(thing_id=once, name="n"), "t").to_bytes(), topic=TOPIC)
        assert await consumer.apply_batch((twice, twice)) == []
        assert (consumer.applied, consumer.duplicates) == (3, 1) and await effects(once) == {once: 1}
        assert await consumer.apply_batch((twice,)) == [] and consumer.duplicates == 2  # and again later

        dead = await consumer.apply_batch(records(first, broken, last))
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", count)
    assert [json.loads(r.value)["data"]["thing_id"] for r, _ in dead] == [str(broken)]
    assert "handler failed 2 times" in dead[0][1]
    assert calls == {**dict.fromkeys(smooth, 1), once: 1, first: 2, broken: cfg.handler_max_attempts, last: 1}
    assert savepoints, "the batch with a failure is applied again with savepoints"
    assert await effects(first, broken, last) == {first: 1, broken: 0, last: 1}


async def test_a_batched_handler_gets_its_runs_whole_and_a_failing_run_is_retried_event_by_event(
    stack: Stack, sessions: async_sessionmaker[Any]
) -> None:
    """Consecutive events for a ``Batched`` handler come in one call, in order, after the inbox has
    dropped duplicates, with their envelopes in the same order; when the call fails, each event is
    applied alone and only the bad one is dead-lettered (none was charged an attempt for the failed run)."""
    runs: list[list[uuid.UUID]] = []
    bad: set[uuid.UUID] = set()
    envelope_ids: dict[uuid.UUID, set[uuid.UUID]] = {}  # thing -> the envelope ids it came with

    async def things_made(ctx: Context, events: list[ThingMade]) -> None:
        assert len(ctx.envelopes) == len(events) and ctx.envelopes[0] == ctx.envelope
        for envelope, e in zip(ctx.envelopes, events, strict=True):
            envelope_ids.setdefault(e.thing_id, set()).add(envelope.id)
        runs.append([e.thing_id for e in events])
        await ctx.session.execute(insert(effect), [{"thing_id": e.thing_id} for e in events])
        if bad & {e.thing_id for e in events}:
            raise RuntimeError("a bad thing in the run")

    cfg = settings(stack)
    _, consumer = subscribed(cfg, "plumbing-test-batched", sessions, Batched(things_made))

    sent: dict[uuid.UUID, uuid.UUID] = {}  # thing -> the envelope id it was published with

    def record(thing_id: uuid.UUID) -> Any:
        envelope = wrap(ThingMade(thing_id=thing_id, name="n"), "t")
        sent[thing_id] = envelope.id
        return SimpleNamespace(value=envelope.to_bytes(), topic=TOPIC)

    async def effects(*things: uuid.UUID) -> list[int]:
        async with sessions() as s:
            return [
                int(await s.scalar(select(func.count()).select_from(effect).where(effect.c.thing_id == t)) or 0)
                for t in things
            ]

    a, b, c = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    again = record(b)
    assert await consumer.apply_batch((record(a), again, again, record(c))) == []
    assert runs == [[a, b, c]] and await effects(a, b, c) == [1, 1, 1]

    runs.clear()
    d, e, f = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    bad.add(e)
    dead = await consumer.apply_batch((record(d), record(e), again, record(f)))
    # the run, then one by one: e's second attempt comes in a round of its own, after the rest committed
    # (these records have no key, so f does not wait for e)
    assert runs == [[d, e, f], [d], [e], [f], [e]]
    assert [json.loads(r.value)["data"]["thing_id"] for r, _ in dead] == [str(e)]
    assert await effects(d, e, f, b) == [1, 0, 1, 1]
    assert envelope_ids == {thing: {envelope_id} for thing, envelope_id in sent.items()}


async def test_forget_replaces_a_keys_rows_with_a_tombstone_the_relay_sends_as_a_null(
    stack: Stack, engine: AsyncEngine, sessions: async_sessionmaker[Any], topic_reader: Any
) -> None:
    """Erasure's ``Outbox.forget``: the key's staged events go (sent or not), a tombstone takes their
    place, and the relay publishes it as a keyed null; other keys are untouched."""
    schema = "lbb_test_forget"
    forgetful = Outbox(schema_metadata(schema), service="forget-test", tombstones=True)
    await scratch(stack, engine, schema, forgetful.table.metadata, TOPIC)
    gone, kept = uuid.uuid4(), uuid.uuid4()
    async with sessions() as s, s.begin():
        await forgetful.add(s, ThingMade(thing_id=gone, name="gone"), ThingMade(thing_id=kept, name="kept"))
        await forgetful.forget(s, TOPIC, [str(gone)])
    async with sessions() as s:
        rows = (await s.execute(select(forgetful.table.c.key, forgetful.table.c.payload))).all()
    assert sorted((k, p is None) for k, p in rows) == sorted([(str(gone), True), (str(kept), False)])

    await relay_all(stack, forgetful, sessions, "forget-test")
    reader = await topic_reader([TOPIC])

    async def both() -> list[Any]:
        records = [r for r in await reader.poll() if r.key in (str(gone).encode(), str(kept).encode())]
        return records if len(records) == 2 else []

    records = {r.key: r.value for r in await eventually(both, what="the tombstone and the kept event")}
    assert records[str(gone).encode()] is None
    assert json.loads(records[str(kept).encode()])["data"]["thing_id"] == str(kept)


async def test_retries_keep_a_keys_order_and_a_dead_lettered_event_is_not_handled_again(
    stack: Stack, sessions: async_sessionmaker[Any]
) -> None:
    """While an event waits for its retry, the later events of its key wait too (the rest of the batch
    commits without them); a dead-lettered event is recorded in the inbox, so a redelivery sends it to
    the dead-letter topic again without running its handler."""
    order: list[uuid.UUID] = []
    fails: dict[uuid.UUID, int] = {}

    async def on_thing_made(ctx: Context, event: ThingMade) -> None:
        if fails.get(event.thing_id, 0) > 0:
            fails[event.thing_id] -= 1
            raise RuntimeError("an outside call failed")
        order.append(event.thing_id)

    cfg = settings(stack).model_copy(update={"handler_max_attempts": 3})
    _, consumer = subscribed(cfg, "plumbing-test-order", sessions, on_thing_made)

    def record(thing_id: uuid.UUID, key: bytes) -> Any:
        envelope = wrap(ThingMade(thing_id=thing_id, name="n"), "t").to_bytes()
        return SimpleNamespace(value=envelope, topic=TOPIC, key=key)

    first, second, other, doomed = uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    fails[first] = 2  # applied on its third attempt
    fails[doomed] = 99
    lost = record(doomed, b"k3")
    batch = (record(first, b"k1"), record(second, b"k1"), record(other, b"k2"), lost, lost)  # lost sent twice
    dead = await consumer.apply_batch(batch)
    assert order == [other, first, second]  # second waited for first; other did not
    assert [r for r, _ in dead] == [lost]  # once, not once a copy

    fails[doomed] = 0  # it would succeed now: a redelivery must not run it
    again = await consumer.apply_batch((lost,))
    assert order == [other, first, second]
    assert [r for r, _ in again] == [lost] and "dead-lettered before" in again[0][1]
    async with sessions() as s:
        status = await s.scalar(
            select(inbox.table.c.status).where(inbox.table.c.event_id == uuid.UUID(json.loads(lost.value)["id"]))
        )
    assert status == "dead_lettered"
