"""The outbox relay's side of Kafka: a producer of its own, fenced by the relay's lease, and the
read-back of what is already on the topics (docs/decisions/0010).

The producer hands a produce request to its connection only while the relay holds its lease for
sure, checked in the same step of the event loop as the write. A relay frozen (SIGSTOP, a long
pause) with sends buffered in its producer therefore writes none of them once it thaws past its
lease: the requests fail with ``LeaseLost`` and nothing of them is marked sent. What it wrote before
the freeze is on the topic: the relay that takes over reads it back (``envelope_ids``) and marks it
sent instead of publishing it again.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.client import ConnectionGroup
from aiokafka.errors import KafkaError, NodeNotReadyError
from aiokafka.protocol.produce import ProduceRequest

from shared.broker import client_options
from shared.settings import Settings

log = logging.getLogger(__name__)

CONTENT_TYPE = [("content-type", b"application/cloudevents+json; charset=utf-8")]


class LeaseLost(KafkaError):  # type: ignore[misc]  # aiokafka is untyped
    """A produce request held back: the relay's lease is not surely held (another relay may publish)."""

    retriable = False


class RelayProducer:
    """The relay's producer (``send`` is the relay's ``Send``); ``may_write`` says whether the lease is
    held, and is asked just before each produce request goes onto the connection."""

    def __init__(self, settings: Settings, client_id: str) -> None:
        self.options = client_options(settings)
        self.may_write: Callable[[], bool] = lambda: True
        self.held_back = 0  # produce requests not written for want of the lease
        self._producer = AIOKafkaProducer(
            acks="all",
            # No linger of its own: the relay hands a whole wave over before it awaits an ack (the
            # appends do not yield, so they share one request), and the relay's own linger gathers
            # commits (docs/decisions/0004). A producer linger would only hold each wave back.
            linger_ms=0,
            client_id=client_id,
            request_timeout_ms=settings.kafka_request_timeout_ms,
            **self.options,
        )
        self._fence(self._producer.client)

    def _fence(self, client: Any) -> None:
        """Check the lease between the connection being ready and the request being written: the
        client's ``send`` then writes without yielding to the event loop, so nothing that ran
        before the check (a freeze, a lost lease) can come between the two."""
        send = client.send

        async def fenced(node_id: int, request: Any, *, group: Any = ConnectionGroup.DEFAULT) -> Any:
            if isinstance(request, ProduceRequest):
                if not await client.ready(node_id, group=group):
                    raise NodeNotReadyError(f"node {node_id} not ready")
                if not self.may_write():
                    self.held_back += 1
                    raise LeaseLost("the relay's lease is not held: nothing written")
            return await send(node_id, request, group=group)

        client.send = fenced

    async def start(self) -> None:
        await self._producer.start()

    async def stop(self) -> None:
        await self._producer.stop()

    async def send(self, topic: str, key: bytes, value: bytes | None, trace: dict[str, str] | None = None) -> Any:
        """Hand one message to the producer; returns the future of its acknowledgement. ``trace``: the
        relay's send span (``traceparent``) as record headers, with tracing on."""
        headers = CONTENT_TYPE if trace is None else [*CONTENT_TYPE, *((k, v.encode()) for k, v in trace.items())]
        return await self._producer.send(topic, value, key=key, headers=headers)

    async def envelope_ids(self, since: dict[str, datetime], timeout_s: float = 30.0) -> set[str]:
        """The envelope ids on each topic written at or after its time (to the end of every partition)."""
        consumer = AIOKafkaConsumer(enable_auto_commit=False, **self.options)
        try:
            async with asyncio.timeout(timeout_s):
                await consumer.start()
                return await self._read(consumer, since)
        finally:
            await consumer.stop()

    @staticmethod
    async def _read(consumer: AIOKafkaConsumer, since: dict[str, datetime]) -> set[str]:
        """Read each partition from the first offset at or after its topic's time to its end."""
        await consumer.topics()  # metadata: the partitions of every topic
        parts = [TopicPartition(t, p) for t in since for p in sorted(consumer.partitions_for_topic(t) or ())]
        if not parts:
            return set()
        found = await consumer.offsets_for_times({tp: int(since[tp.topic].timestamp() * 1000) for tp in parts})
        ends = await consumer.end_offsets(parts)
        consumer.assign(parts)
        left = {}
        for tp in parts:
            start = found[tp].offset if found.get(tp) is not None else ends[tp]
            if start < ends[tp]:
                consumer.seek(tp, start)
                left[tp] = ends[tp]
        ids: set[str] = set()
        while left:
            batches = await consumer.getmany(*left, timeout_ms=1000)
            for records in batches.values():
                for r in records:
                    if r.value is not None:  # a tombstone carries no envelope
                        with contextlib.suppress(ValueError, KeyError, TypeError):  # not an envelope
                            ids.add(str(json.loads(r.value)["id"]))
            for tp in list(left):
                if await consumer.position(tp) >= left[tp]:
                    del left[tp]
        return ids
