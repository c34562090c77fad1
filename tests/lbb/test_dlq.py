"""`lbb dlq` against the real broker and PostgreSQL: a handler that fails for a marker dead-letters the
event; the operator sees it listed, fixes the handler, replays it (applied once), replays again
(nothing changes: the envelope id is kept, so the inbox knows it) and purges it. A scratch schema and
topic keep this apart from the services."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import Column, Integer, MetaData, String, Table, func, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from typer.testing import CliRunner, Result

from lbb import dlq
from lbb.cli import app
from lbb.devstack import Stack
from shared import topics
from shared.consumer import Context
from shared.db import schema_metadata
from shared.envelope import wrap
from shared.inbox import Inbox
from shared.kafka_metrics import KafkaGauges
from shared.outbox import Outbox
from shared.settings import ServiceSettings
from tests.conftest import _NamedThing, eventually, scratch, subscribed

SCHEMA = "lbb_test_dlq"
TOPIC = f"lbb.test.dlq-{uuid.uuid4().hex[:8]}.v1"


class Mended(_NamedThing):
    topic = TOPIC


metadata: MetaData = schema_metadata(SCHEMA)
effect = Table("effect", metadata, Column("n", Integer, primary_key=True, autoincrement=True), Column("name", String))
inbox, outbox = Inbox(metadata), Outbox(metadata, service="dlq-test")
POISONED: set[str] = set()  # names the handler fails on, until the "fix" empties it


async def on_tested(ctx: Context, event: Mended) -> None:
    if event.name in POISONED:
        raise RuntimeError("a bug that the fix removes")
    await ctx.session.execute(insert(effect).values(name=event.name))


@pytest.fixture(scope="module")
async def sessions(stack: Stack, engine: AsyncEngine) -> AsyncIterator[async_sessionmaker[Any]]:
    yield await scratch(stack, engine, SCHEMA, metadata, TOPIC)


async def lbb(stack: Stack, *args: str) -> Result:
    """The command as an operator runs it (in a thread: it runs its own event loop)."""
    argv = [*args, "--bootstrap-servers", stack.kafka_bootstrap_servers or ""]
    result = await asyncio.to_thread(CliRunner().invoke, app, argv, env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    return result


async def test_poisoned_listed_fixed_replayed_once_and_purged(stack: Stack, sessions: async_sessionmaker[Any]) -> None:
    marker = f"poison-{uuid.uuid4().hex[:8]}"
    POISONED.add(marker)
    key = b"one-partition"  # one key: one partition, so what is sent later is applied later
    cfg = ServiceSettings(
        service_name="dlq-test",
        kafka_bootstrap_servers=stack.kafka_bootstrap_servers or "",
        database_url=stack.database_url or "",
        handler_max_attempts=2,
    )
    broker, consumer = subscribed(cfg, "dlq-test", sessions, inbox, outbox, {Mended: on_tested})
    gauges = KafkaGauges(cfg, "dlq-test", cfg.group_id, [TOPIC])

    async def applied(name: str) -> int:
        async with sessions() as s:
            return int(await s.scalar(select(func.count()).select_from(effect).where(effect.c.name == name)) or 0)

    async def send(name: str) -> None:
        await broker.publish(
            wrap(Mended(thing_id=uuid.uuid4(), name=name), "dlq-test").to_bytes(), topic=TOPIC, key=key
        )

    def depth() -> float | None:
        return REGISTRY.get_sample_value("lbb_dlq_depth", {"service": "dlq-test", "topic": topics.dlq(TOPIC)})

    await broker.start()
    try:
        for name in ("before", marker, "after"):
            await send(name)
        await eventually(lambda: applied("after"), timeout_s=60, what="the consumer to go past the poison")

        async def dead_lettered() -> bool:
            return consumer.dead_lettered == 1

        await eventually(dead_lettered, what="the poisoned event dead-lettered")
        assert await applied(marker) == 0

        listed = (await lbb(stack, "dlq", "list", TOPIC)).output
        assert "1 dead letters" in listed and "Mended" in listed and "handler: builtins.RuntimeError" in listed
        assert "lbb-dlq-test" in listed  # which consumer group gave up on it
        await gauges.step()
        assert depth() == 1
        [letter] = await dlq.read(cfg, TOPIC)
        assert letter.id is not None
        shown = (await lbb(stack, "dlq", "show", TOPIC, "--id", letter.id)).output
        assert letter.id in shown and "x-lbb-error" in shown and "handler failed 2 times" in shown

        dry = (await lbb(stack, "dlq", "replay", TOPIC, "--dry-run")).output
        assert f"would replay {letter.position} {letter.id}" in dry

        POISONED.discard(marker)  # the fix is deployed
        assert "replayed 1" in (await lbb(stack, "dlq", "replay", TOPIC, "--id", letter.id)).output
        await eventually(lambda: applied(marker), timeout_s=60, what="the replayed event applied")

        duplicates = consumer.duplicates
        assert "replayed 1" in (await lbb(stack, "dlq", "replay", TOPIC)).output  # again: the inbox keeps it once
        await send("sentinel")
        await eventually(lambda: applied("sentinel"), timeout_s=60, what="the consumer past the second replay")
        assert await applied(marker) == 1
        assert consumer.duplicates == duplicates + 1

        purged = (await lbb(stack, "dlq", "purge", TOPIC, "--before", datetime.now(UTC).isoformat())).output
        assert "purged 1 dead letters" in purged
        assert "0 dead letters" in (await lbb(stack, "dlq", "list", TOPIC)).output
        await gauges.step()
        assert depth() == 0
        assert REGISTRY.get_sample_value("lbb_consumer_lag", {"service": "dlq-test", "topic": TOPIC}) is not None
    finally:
        POISONED.discard(marker)
        await gauges.close()
        await broker.stop()


def test_error_classes_and_times_an_operator_can_type() -> None:
    assert dlq.error_class("handler failed 5 times: builtins.KeyError") == "handler: builtins.KeyError"
    assert (
        dlq.error_class("handler failed 2 times: sqlalchemy.exc.IntegrityError: UniqueViolationError, SQLSTATE 23505")
        == "handler: sqlalchemy.exc.IntegrityError"
    )
    assert dlq.error_class("not a CloudEvents envelope: id: missing") == "not a CloudEvents envelope"
    assert dlq.error_class("unknown event type 'NoSuchEvent'") == "unknown event type"
    now = datetime(2026, 12, 1, 12, tzinfo=UTC)
    assert dlq.parse_time("2h", now) == datetime(2026, 12, 1, 10, tzinfo=UTC)
    assert dlq.parse_time("2026-12-01T09:00Z") == datetime(2026, 12, 1, 9, tzinfo=UTC)
    assert dlq.parse_time("2026-12-01T09:00") == datetime(2026, 12, 1, 9, tzinfo=UTC)
    assert dlq.dlq_topic("lbb.pairing.v1") == dlq.dlq_topic("lbb.pairing.v1.dlq") == "lbb.pairing.v1.dlq"
