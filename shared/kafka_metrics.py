"""What only the broker knows, as Prometheus gauges: each service's consumer lag per topic, and the
depth of the dead-letter topics of what it consumes.

Kafka cannot delete one record, and the embedded broker cannot delete any (no DeleteRecords), so a
purged dead letter stays on its topic until retention removes it (14 days, ``shared/topics.py``).
What was purged is a **watermark**: the committed offsets of the consumer group ``lbb-ops-dlq`` on
each ``<topic>.dlq`` partition (``lbb dlq purge`` moves them forward). ``lbb dlq`` reads from them,
and the depth is what lies past them: end offset - max(watermark, log start).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from aiokafka import AIOKafkaConsumer, TopicPartition
from prometheus_client import Gauge

from shared import topics
from shared.broker import client_options
from shared.settings import Settings

log = logging.getLogger(__name__)

OPS_GROUP = "lbb-ops-dlq"
STEP_TIMEOUT_S = 10.0

CONSUMER_LAG = Gauge(
    "lbb_consumer_lag",
    "Events on a topic the service consumes that its consumer group has not committed yet",
    ["service", "topic"],
)
DLQ_DEPTH = Gauge(
    "lbb_dlq_depth",
    "Dead letters on the dead-letter topic of a topic the service consumes, past the purge watermark",
    ["service", "topic"],
)


async def partitions(client: AIOKafkaConsumer, topic: str) -> list[TopicPartition]:
    found = client.partitions_for_topic(topic)
    if not found:
        await client._client.force_metadata_update()
        found = client.partitions_for_topic(topic) or set()
    return [TopicPartition(topic, p) for p in sorted(found)]


async def watermarks(ops: AIOKafkaConsumer, parts: list[TopicPartition]) -> dict[TopicPartition, int]:
    """Where each dead-letter partition starts for operators: the purge watermark or the log start."""
    start = await ops.beginning_offsets(parts) if parts else {}
    out = {}
    for tp in parts:
        committed = await ops.committed(tp)
        out[tp] = max(committed or 0, start[tp])
    return out


def consumer(settings: Settings, group_id: str | None) -> AIOKafkaConsumer:
    """A client for offsets only: never subscribes (so never joins the group), never commits by itself."""
    return AIOKafkaConsumer(group_id=group_id, enable_auto_commit=False, **client_options(settings))


class KafkaGauges:
    """Sets CONSUMER_LAG and DLQ_DEPTH for one service's topics; ``step`` is a ``Worker`` step."""

    def __init__(self, settings: Settings, service: str, group_id: str, consumed: list[str]) -> None:
        self.settings, self.service, self.group_id, self.consumed = settings, service, group_id, consumed
        self._own: AIOKafkaConsumer | None = None
        self._ops: AIOKafkaConsumer | None = None

    async def step(self) -> bool:
        try:
            async with asyncio.timeout(STEP_TIMEOUT_S):  # a frozen broker must not hold a stopping service
                await self._read()
        except BaseException:
            await self.close()  # a fresh pair of clients next time
            raise
        return False

    async def _read(self) -> None:
        if self._own is None or self._ops is None:
            self._own, self._ops = consumer(self.settings, self.group_id), consumer(self.settings, OPS_GROUP)
            await self._own.start()
            await self._ops.start()
        for topic in self.consumed:
            parts = await partitions(self._own, topic)
            end = await self._own.end_offsets(parts) if parts else {}
            lag = 0
            for tp in parts:
                lag += max(end[tp] - ((await self._own.committed(tp)) or 0), 0)
            CONSUMER_LAG.labels(self.service, topic).set(lag)
            dead = await partitions(self._ops, topics.dlq(topic))
            dead_end = await self._ops.end_offsets(dead) if dead else {}
            marks = await watermarks(self._ops, dead)
            DLQ_DEPTH.labels(self.service, topics.dlq(topic)).set(sum(dead_end[tp] - marks[tp] for tp in dead))

    async def close(self) -> None:
        for client in (self._own, self._ops):
            if client is not None:
                with contextlib.suppress(Exception):
                    async with asyncio.timeout(STEP_TIMEOUT_S):
                        await client.stop()
        self._own = self._ops = None
