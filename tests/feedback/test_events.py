"""What the feedback service puts on the broker: ids and scores, never narrative; and redelivery
of what it consumes changes nothing."""

from __future__ import annotations

import json
import uuid
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from lbb.devstack import Stack
from shared import topics
from tests.conftest import Api, envelopes, eventually
from tests.feedback.flow import exchanged_pair, give


async def every_topic(stack: Stack) -> list[str]:
    consumer = AIOKafkaConsumer(bootstrap_servers=stack.kafka_bootstrap_servers)
    await consumer.start()
    try:
        return sorted(t for t in await consumer.topics() if not t.startswith("__"))
    finally:
        await consumer.stop()


async def test_narrative_and_collaboration_ideas_never_reach_any_topic(
    api: Api, stack: Stack, topic_reader: Any
) -> None:
    cohort, pair, a, b = await exchanged_pair(api, "Narrative")
    marker = uuid.uuid4().hex
    first = await give(
        api,
        cohort,
        pair["id"],
        a,
        b,
        narrative=f"narrative-{marker}-a",
        collaboration_ideas=[f"idea-{marker}-1", f"idea-{marker}-2"],
    )
    corrected = await api.call(
        "PUT",
        f"/api/pairs/{pair['id']}/feedback/{first['id']}",
        cohort.who[a],
        {
            "strengths": {"leading_with_care": 5, "engaging_the_team": 4, "holding_to_account": 3},
            "narrative": f"corrected-{marker}-a",
            "collaboration_ideas": [f"idea-{marker}-1", f"idea-{marker}-3"],
        },
    )
    assert corrected.status_code == 202, corrected.text
    second = await give(
        api, cohort, pair["id"], b, a, narrative=f"narrative-{marker}-b", collaboration_ideas=[f"idea-{marker}-4"]
    )

    feedback_reader = await topic_reader([topics.FEEDBACK])

    async def pair_events() -> list[dict[str, Any]] | None:
        events = envelopes(await feedback_reader.poll())
        mine = [e for e in events if e["subject"] == pair["id"]]
        done = sum(e["type"] == "CollaborationOpportunityIdentified" for e in mine) == 3
        return mine if done and sum(e["type"] == "FeedbackReleased" for e in mine) == 2 else None

    events = await eventually(pair_events, what="the pair's feedback events")
    kinds = [e["type"] for e in events]
    assert kinds.count("FeedbackRequested") == 2 and kinds.count("FeedbackSubmitted") == 3
    released = {e["data"]["feedback_id"]: e["data"] for e in events if e["type"] == "FeedbackReleased"}
    assert set(released) == {first["id"], second["id"]}
    # the facts of submission and release travel; the ratings stay with the feedback service
    given = [e["data"] for e in events if e["type"] in ("FeedbackSubmitted", "FeedbackReleased")]
    assert given and not any("strengths" in d or "top_strengths" in d for d in given)
    correction = [e for e in events if e["type"] == "FeedbackSubmitted" and e["data"]["corrected_at"]]
    assert [e["data"]["feedback_id"] for e in correction] == [first["id"]]
    organisations = {cohort.organisation[a]["id"], cohort.organisation[b]["id"]}
    for e in events:
        if e["type"] == "CollaborationOpportunityIdentified":
            assert set(e["data"]["organisation_ids"]) == organisations

    # Every topic on the broker, read raw from the beginning: no narrative, no idea, anywhere.
    all_topics = await every_topic(stack)
    assert topics.FEEDBACK in all_topics and topics.CONTACTS in all_topics
    reader = await topic_reader(all_topics)

    async def read_past_the_pair() -> list[Any] | None:
        records = await reader.poll()
        ours = [r for r in records if r.topic == topics.FEEDBACK and r.key == pair["id"].encode()]
        return list(records) if len(ours) == len(events) else None

    records = await eventually(read_past_the_pair, what="every topic read past the pair's feedback events")
    while len(records) != len(await reader.poll()):  # and whatever else has arrived since
        records = list(reader.records)
    leaking = [r.topic for r in records if marker.encode() in (r.value or b"") or marker.encode() in (r.key or b"")]
    assert leaking == []


async def test_redelivered_pairing_events_change_nothing(
    api: Api, engine: AsyncEngine, stack: Stack, topic_reader: Any
) -> None:
    _, pair, _, _ = await exchanged_pair(api, "Redelivery")
    reader = await topic_reader([topics.PAIRING, topics.FEEDBACK])

    async def originals() -> list[Any] | None:
        records = [r for r in await reader.poll() if r.key == pair["id"].encode()]
        kinds = {json.loads(r.value)["type"] for r in records}
        return records if {"PairAssigned", "ExchangeCompleted", "FeedbackRequested"} <= kinds else None

    records = await eventually(originals, what="the pair's events")
    pairing = [r for r in records if r.topic == topics.PAIRING]
    requested_before = sum(json.loads(r.value)["type"] == "FeedbackRequested" for r in records)
    assert requested_before == 2

    # Redeliver every pairing event of the pair byte for byte, then one fresh copy of ExchangeCompleted
    # (a new envelope id: the inbox cannot catch it, the handler must) as a barrier on the same partition.
    completed = next(json.loads(r.value) for r in pairing if json.loads(r.value)["type"] == "ExchangeCompleted")
    barrier = completed | {"id": str(uuid.uuid4())}
    producer = AIOKafkaProducer(bootstrap_servers=stack.kafka_bootstrap_servers, acks="all")
    await producer.start()
    try:
        for r in pairing:
            await producer.send_and_wait(r.topic, r.value, key=r.key)
        await producer.send_and_wait(topics.PAIRING, json.dumps(barrier).encode(), key=pair["id"].encode())
    finally:
        await producer.stop()

    async def barrier_applied() -> bool:
        async with engine.connect() as c:
            seen = (
                await c.execute(text("SELECT count(*) FROM feedback.inbox WHERE event_id = :e"), {"e": barrier["id"]})
            ).scalar_one()
        return bool(seen)

    await eventually(barrier_applied, what="the feedback service to consume the redelivered events")
    async with engine.connect() as c:
        requests = (
            await c.execute(
                text("SELECT count(*) FROM feedback.feedback_request WHERE pair_id = :p"), {"p": pair["id"]}
            )
        ).scalar_one()
        pairs = (
            await c.execute(text("SELECT count(*) FROM feedback.exchange_pair WHERE id = :p"), {"p": pair["id"]})
        ).scalar_one()
        published = (
            await c.execute(
                text("SELECT count(*) FROM feedback.outbox WHERE key = :p AND event_type = 'FeedbackRequested'"),
                {"p": pair["id"]},
            )
        ).scalar_one()
    assert (requests, pairs, published) == (2, 1, 2)
