"""The pairing service through the real stack: history across cohorts, the board's swap and re-run,
visits, and ExchangeCompleted exactly once under retried requests and redelivered events."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.structs import TopicPartition
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from lbb.devstack import Stack
from shared import topics
from tests.conftest import Api, envelopes, eventually
from tests.feedback import flow
from tests.flows import BOARD, cohort_in_pairing, paired, publish


async def count(engine: AsyncEngine, sql: str, **params: Any) -> int:
    async with engine.connect() as c:
        return int((await c.execute(text(sql), params)).scalar() or 0)


async def test_the_board_swaps_reruns_and_publishes_and_an_odd_cohort_gets_one_trio(
    api: Api, engine: AsyncEngine
) -> None:
    # fellows never paired before: nothing from earlier cohorts changes this round's pairs and reasons
    cohort_id = (await cohort_in_pairing(api, 5, "Swap", people=f"swap-{uuid.uuid4().hex[:8]}")).id
    pairs = await paired(api, cohort_id, 5)
    assert sorted(len(p["fellow_ids"]) for p in pairs) == [2, 3]
    trio = next(p for p in pairs if len(p["fellow_ids"]) == 3)
    assert any(r.startswith("trio") for r in trio["reasons"])
    assert all(p["score"] > 0 and p["reasons"] and not p["published"] for p in pairs)
    status = "SELECT count(*) FROM pairing.pairing_round WHERE cohort_id = :c AND status = 'paired' AND unpaired = '{}'"
    assert await count(engine, status, c=cohort_id) == 1

    pair, other = pairs[0], pairs[1]
    a, b = pair["fellow_ids"][0], other["fellow_ids"][0]
    swapped = await api.call("POST", f"/api/cohorts/{cohort_id}/pairs/swap", BOARD, {"fellow_a": a, "fellow_b": b})
    assert swapped.status_code == 202, swapped.text
    after = {frozenset(p["fellow_ids"]): p for p in await paired(api, cohort_id, 5)}
    moved = next(p for k, p in after.items() if b in k and set(pair["fellow_ids"]) - {a} <= k)
    assert "swapped by the board" in moved["reasons"]

    rerun = await api.call("POST", f"/api/cohorts/{cohort_id}/pairing", BOARD, {})
    assert rerun.status_code == 202, rerun.text

    async def rerun_done() -> list[dict[str, Any]] | None:
        pairs = await paired(api, cohort_id, 5)
        return None if any("swapped by the board" in p["reasons"] for p in pairs) else pairs

    again = await eventually(rerun_done, timeout_s=60, what="the re-run round to replace the swapped pairs")
    assert {frozenset(p["fellow_ids"]) for p in again} == {frozenset(p["fellow_ids"]) for p in pairs}

    assert (await publish(api, cohort_id))["published"] == 2
    late = await api.call("POST", f"/api/cohorts/{cohort_id}/pairs/swap", BOARD, {"fellow_a": a, "fellow_b": b})
    assert late.status_code == 409


async def test_earlier_pairings_across_cohorts_are_known_to_the_next_round(api: Api, engine: AsyncEngine) -> None:
    first = await flow.cohort_with_pairs(api, 2, name="History 1")
    second = await flow.cohort_with_pairs(api, 4, name="History 2")
    async with engine.connect() as c:
        found = await c.execute(
            text("SELECT id, person_id FROM pairing.fellow WHERE cohort_id IN (:a, :b)"),
            {"a": first.id, "b": second.id},
        )
        people = {str(row[0]): row[1] for row in found.all()}
    assert all(people.values()), "FellowEnrolled carries the person id"
    same_people = {frozenset({people[f] for f in p["fellow_ids"]}) for p in first.pairs}
    this_round = [p["id"] for p in second.pairs]
    async with engine.connect() as c:
        rows = (
            await c.execute(
                text("SELECT person_a, person_b, pair_id FROM pairing.earlier_pairing"),
            )
        ).all()
    before = {frozenset({a, b}) for a, b, pair_id in rows if str(pair_id) not in this_round}
    assert same_people <= before
    for p in second.pairs:
        met = frozenset({people[f] for f in p["fellow_ids"]})
        assert ("not paired before" in p["reasons"]) == (met not in before)


async def test_visits_and_exchange_completed_exactly_once_under_retries_and_redelivery(
    api: Api, engine: AsyncEngine, stack: Stack, topic_reader: Any
) -> None:
    cohort = await flow.cohort_with_pairs(api, 2, name="Exchange")
    pair = cohort.pairs[0]
    host, guest = pair["fellow_ids"]
    today = datetime.now(UTC).date()
    outside = await api.call(
        "POST",
        f"/api/pairs/{pair['id']}/visits",
        cohort.who[host],
        {"host_fellow_id": host, "date": (today + timedelta(days=800)).isoformat()},
    )
    assert outside.status_code == 422
    stranger = await api.call(
        "POST",
        f"/api/pairs/{pair['id']}/visits",
        cohort.who[host],
        {"host_fellow_id": str(uuid.uuid4()), "date": today.isoformat()},
    )
    assert stranger.status_code == 422
    visits = []
    for fellow in (host, guest):
        body = {"host_fellow_id": fellow, "date": today.isoformat()}
        made = await api.call("POST", f"/api/pairs/{pair['id']}/visits", cohort.who[fellow], body)
        assert made.status_code == 201, made.text
        twice = await api.call("POST", f"/api/pairs/{pair['id']}/visits", cohort.who[fellow], body)
        assert twice.status_code == 409
        visits.append((made.json()["id"], fellow))
    # each fellow's client retries its completion while the other completes: four requests at once
    answers = await asyncio.gather(
        *(api.call("POST", f"/api/visits/{v}/complete", cohort.who[f], {}) for v, f in visits for _ in range(2))
    )
    assert sorted(a.status_code for a in answers) == [202, 202, 409, 409]

    await flow.feedback_open(api, cohort, pair)
    key = pair["id"]
    unsent = "SELECT count(*) FROM pairing.outbox WHERE key = :k AND sent_at IS NULL"
    await eventually(
        lambda: _zero(count(engine, unsent, k=key)), timeout_s=30, what="the relay to publish the pair's events"
    )
    in_outbox = "SELECT count(*) FROM pairing.outbox WHERE key = :k AND event_type = :t"
    assert await count(engine, in_outbox, k=key, t="ExchangeCompleted") == 1
    assert await count(engine, in_outbox, k=key, t="ExchangeVisitCompleted") == 2
    assert await count(engine, in_outbox, k=key, t="ExchangeVisitScheduled") == 2

    reader = await topic_reader([topics.PAIRING])

    async def completed() -> list[Any] | None:
        records = [
            r
            for r in await reader.poll()
            for e in envelopes([r])
            if e.get("type") == "ExchangeCompleted" and e.get("data", {}).get("pair_id") == key
        ]
        return records or None

    records = await eventually(completed, timeout_s=30, what="ExchangeCompleted on the topic")
    assert len(records) == 1

    # the broker redelivers the very same event: its consumers change nothing
    duplicate = records[0]
    producer = AIOKafkaProducer(bootstrap_servers=stack.kafka_bootstrap_servers, acks="all")
    await producer.start()
    try:
        sent = await producer.send_and_wait(topics.PAIRING, duplicate.value, key=duplicate.key)
    finally:
        await producer.stop()
    event_id = envelopes([duplicate])[0]["id"]
    await _consumed_past(stack, TopicPartition(topics.PAIRING, sent.partition), sent.offset)
    assert await count(engine, "SELECT count(*) FROM feedback.feedback_request WHERE pair_id = :p", p=key) == 2
    assert await count(engine, "SELECT count(*) FROM notifications.delivery WHERE event_id = :e", e=event_id) == 2
    assert len(await completed() or []) == 2  # the original and the redelivered copy, nothing more


async def _zero(value: Any) -> bool | None:
    return True if await value == 0 else None


async def _consumed_past(stack: Stack, partition: TopicPartition, offset: int) -> None:
    """Wait until the feedback and notifications consumer groups committed past ``offset``."""
    admin = AIOKafkaAdminClient(bootstrap_servers=stack.kafka_bootstrap_servers)
    await admin.start()
    try:
        for group in ("lbb-feedback", "lbb-notifications"):

            async def committed(group: str = group) -> bool | None:
                offsets = await admin.list_consumer_group_offsets(group, partitions=[partition])
                meta = offsets.get(partition)
                return True if meta is not None and meta.offset > offset else None

            await eventually(committed, timeout_s=60, what=f"{group} to consume the redelivered event")
    finally:
        await admin.close()
