"""A poison message on any topic goes to `<topic>.dlq` with the error, and consumers keep going."""

from __future__ import annotations

import importlib
import uuid
from typing import Any

from aiokafka import AIOKafkaProducer
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from lbb.devstack import Stack
from shared import events as ev
from shared import topics
from shared.envelope import wrap
from shared.registry import SERVICES
from tests.conftest import eventually


# which consumer groups read each topic (DESIGN.md, "Shape")
def _consumers() -> dict[str, set[str]]:
    """Topic → the consumer groups that read it, from each service's own handlers."""
    found: dict[str, set[str]] = {}
    for service in SERVICES:
        handlers = importlib.import_module(f"services.{service.name}.handlers").HANDLERS
        for event_type in handlers:
            found.setdefault(event_type.topic, set()).add(f"lbb-{service.name}")
    return found


CONSUMERS = _consumers()


async def test_poison_on_every_topic_is_dead_lettered_by_each_consumer_which_then_carries_on(
    stack: Stack, engine: AsyncEngine, topic_reader: Any
) -> None:
    key = f"poison-{uuid.uuid4()}".encode()
    person = uuid.uuid4()
    after = ev.ContactRecorded(
        person_id=person,
        subject=f"sub-{person}",
        name="Pat After",
        email="pat@example.nhs.uk",
        job_title="Nurse",
        organisation_id=uuid.uuid4(),
        organisation_name="Somewhere",
    )
    producer = AIOKafkaProducer(bootstrap_servers=stack.kafka_bootstrap_servers, acks="all")
    await producer.start()
    try:
        for topic in CONSUMERS:
            await producer.send_and_wait(topic, b'{"specversion": "1.0", "broken', key=key)
        await producer.send_and_wait(topics.CONTACTS, wrap(after, "test").to_bytes(), key=key)
    finally:
        await producer.stop()

    async def contact_projected() -> int:
        async with engine.connect() as c:
            found = await c.execute(
                text("SELECT count(*) FROM notifications.contact WHERE person_id = :p"), {"p": person}
            )
            return int(found.scalar() or 0)

    await eventually(contact_projected, timeout_s=60, what="notifications to go on past the poison message")

    reader = await topic_reader([topics.dlq(t) for t in CONSUMERS])
    expected = {(topics.dlq(t), group) for t, groups in CONSUMERS.items() for group in groups}

    async def dead_letters() -> set[tuple[str, str]]:
        got = {(r.topic, dict(r.headers)["x-lbb-consumer"].decode()) for r in await reader.poll() if r.key == key}
        return got if got >= expected else set()

    got = await eventually(dead_letters, timeout_s=60, what="one dead letter per topic and consumer")
    assert got == expected
    for record in reader.records:
        if record.key == key:
            headers = dict(record.headers)
            assert b"not a CloudEvents envelope" in headers["x-lbb-error"]
            assert headers["x-lbb-original-topic"].decode() + ".dlq" == record.topic
