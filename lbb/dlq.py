"""Dead letters for operators: list, show, replay and purge what is on ``<topic>.dlq``.

A consumer dead-letters a message it cannot parse or whose handler keeps failing
(``shared/consumer.py``): the message goes to ``<topic>.dlq`` byte for byte, keyed as it was, with
``x-lbb-error`` (the reason: error types, field paths, SQLSTATE, never values),
``x-lbb-original-topic/-partition/-offset`` and ``x-lbb-consumer`` (the consumer group) in its headers.

- **replay** writes the message back onto its original topic unchanged, so its CloudEvents ``id`` is
  the one it had: every consumer group's inbox keeps it exactly once (a group that had applied it
  skips it, the group that dead-lettered it applies it now; replaying twice changes nothing). One
  event dead-lettered by two groups is replayed once.
- **purge** cannot delete records (Kafka removes a record only by retention or DeleteRecords, which
  the embedded broker lacks): it moves the ``lbb-ops-dlq`` group's committed offset of each partition
  past the last dead letter older than ``--before`` (``shared/kafka_metrics.py``), and asks the broker
  to delete those records too where it can (Apache Kafka). The tool and the ``lbb_dlq_depth`` metric
  start from that watermark; the records themselves go with the topic's 14-day retention.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from aiokafka import AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, RecordsToDelete

from shared import topics
from shared.broker import client_options
from shared.consumer import REPLAYED_FROM
from shared.kafka_metrics import OPS_GROUP, consumer, partitions, watermarks
from shared.settings import Settings


def dlq_topic(topic: str) -> str:
    """``lbb.pairing.v1`` or ``lbb.pairing.v1.dlq`` → ``lbb.pairing.v1.dlq``."""
    return topic if topic.endswith(".dlq") else topics.dlq(topic)


@dataclass(frozen=True)
class DeadLetter:
    partition: int
    offset: int
    timestamp_ms: int
    key: bytes | None
    value: bytes | None
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def time(self) -> datetime:
        return datetime.fromtimestamp(self.timestamp_ms / 1000, UTC)

    @property
    def position(self) -> str:
        return f"{self.partition}:{self.offset}"

    @property
    def envelope(self) -> dict[str, Any] | None:
        try:
            found = json.loads(self.value or b"")
        except ValueError:
            return None
        return found if isinstance(found, dict) else None

    @property
    def id(self) -> str | None:
        """The CloudEvents id, when the message is an envelope at all."""
        envelope = self.envelope
        return str(envelope["id"]) if envelope and "id" in envelope else None

    @property
    def type(self) -> str:
        envelope = self.envelope
        return str(envelope.get("type", "?")) if envelope else "(not JSON)"

    @property
    def error(self) -> str:
        return self.headers.get("x-lbb-error", "")

    @property
    def error_class(self) -> str:
        return error_class(self.error)

    @property
    def consumer(self) -> str:
        return self.headers.get("x-lbb-consumer", "?")

    @property
    def source_topic(self) -> str:
        return self.headers.get("x-lbb-original-topic", "")


def error_class(error: str) -> str:
    """The kind of failure in an ``x-lbb-error``: ``handler failed 3 times: builtins.KeyError`` →
    ``handler: builtins.KeyError``; ``not a CloudEvents envelope: id: missing`` → ``not a CloudEvents
    envelope``; ``unknown event type 'X'`` → ``unknown event type``."""
    handler = re.match(r"handler failed \d+ times: (.*)", error)
    if handler:
        return "handler: " + re.split(r"[:(]", handler.group(1), maxsplit=1)[0].strip()
    return re.split(r"[:']", error, maxsplit=1)[0].strip() or "unknown"


async def read(settings: Settings, topic: str) -> list[DeadLetter]:
    """Every dead letter of ``topic`` past the purge watermark, in partition and offset order."""
    name = dlq_topic(topic)
    client = consumer(settings, OPS_GROUP)
    await client.start()
    try:
        parts = await partitions(client, name)
        if not parts:
            return []
        client.assign(parts)
        start, end = await watermarks(client, parts), await client.end_offsets(parts)
        out: list[DeadLetter] = []
        for tp in parts:
            if end[tp] <= start[tp]:
                continue
            client.seek(tp, start[tp])
            position = start[tp]
            while position < end[tp]:
                batch = await client.getmany(tp, timeout_ms=1000)
                for record in batch.get(tp, []):
                    if record.offset >= end[tp]:
                        break
                    headers = {k: v.decode("utf-8", "replace") for k, v in record.headers}
                    out.append(
                        DeadLetter(tp.partition, record.offset, record.timestamp, record.key, record.value, headers)
                    )
                    position = record.offset + 1
                if not batch:  # a gap (records deleted): ask where the consumer is; stop if nowhere further
                    moved_to = await client.position(tp)
                    if moved_to <= position:
                        break
                    position = moved_to
        return out
    finally:
        await client.stop()


@dataclass(frozen=True)
class Summary:
    consumer: str
    type: str
    error_class: str
    count: int
    first: datetime
    last: datetime


def summarise(letters: Iterable[DeadLetter]) -> list[Summary]:
    """One row per consumer group, event type and error class: count, first and last time."""
    groups: dict[tuple[str, str, str], list[DeadLetter]] = {}
    for letter in letters:
        groups.setdefault((letter.consumer, letter.type, letter.error_class), []).append(letter)
    return [
        Summary(*key, len(found), min(x.time for x in found), max(x.time for x in found))
        for key, found in sorted(groups.items())
    ]


def select(letters: list[DeadLetter], ids: Iterable[str] = ()) -> list[DeadLetter]:
    """The dead letters with these envelope ids or ``partition:offset`` positions (all when none given)."""
    wanted = set(ids)
    if not wanted:
        return letters
    return [x for x in letters if x.id in wanted or x.position in wanted]


def replayable(letters: list[DeadLetter]) -> tuple[list[DeadLetter], list[DeadLetter]]:
    """(to replay, skipped): once per envelope id (one event dead-lettered by several groups is one
    message on its topic); a message that is no envelope would only be dead-lettered again."""
    seen: set[str] = set()
    chosen, skipped = [], []
    for letter in letters:
        if letter.id is None or not letter.source_topic:
            skipped.append(letter)
        elif letter.id not in seen:
            seen.add(letter.id)
            chosen.append(letter)
    return chosen, skipped


async def replay(
    settings: Settings, letters: list[DeadLetter], progress: Callable[[DeadLetter], None] = lambda _: None
) -> int:
    """Each dead letter back onto its original topic, the same key and the same bytes (so the same
    envelope id), marked with where it came from. Returns how many were sent."""
    producer = AIOKafkaProducer(acks="all", **client_options(settings))
    await producer.start()
    try:
        for letter in letters:
            await producer.send_and_wait(
                letter.source_topic,
                letter.value,
                key=letter.key,
                headers=[
                    ("content-type", b"application/cloudevents+json; charset=utf-8"),
                    (REPLAYED_FROM, f"{topics.dlq(letter.source_topic)}:{letter.position}".encode()),
                ],
            )
            progress(letter)
        return len(letters)
    finally:
        await producer.stop()


@dataclass(frozen=True)
class Purged:
    count: int
    watermarks: dict[int, int]  # partition → first offset kept
    deleted: bool  # whether the broker deleted the records too (DeleteRecords)


async def purge(settings: Settings, topic: str, before: datetime) -> Purged:
    """Move the watermark of each partition past the dead letters older than ``before``."""
    letters = await read(settings, topic)
    cutoff = int(before.timestamp() * 1000)
    moved: dict[TopicPartition, int] = {}
    count = 0
    stopped: set[int] = set()  # partitions where a dead letter to keep was met: later ones stay too
    for letter in letters:  # in offset order per partition
        if letter.partition in stopped or letter.timestamp_ms >= cutoff:
            stopped.add(letter.partition)
            continue
        moved[TopicPartition(dlq_topic(topic), letter.partition)] = letter.offset + 1
        count += 1
    if not moved:
        return Purged(0, {}, False)
    client = consumer(settings, OPS_GROUP)
    await client.start()
    try:
        client.assign(list(moved))
        await client.commit(moved)
    finally:
        await client.stop()
    return Purged(count, {tp.partition: o for tp, o in moved.items()}, await _delete_records(settings, moved))


async def _delete_records(settings: Settings, moved: dict[TopicPartition, int]) -> bool:
    """Ask the broker to delete the purged records (Apache Kafka can; the embedded broker cannot)."""
    admin = AIOKafkaAdminClient(request_timeout_ms=5000, **client_options(settings))
    try:
        await admin.start()
        await admin.delete_records({tp: RecordsToDelete(before_offset=o) for tp, o in moved.items()}, timeout_ms=5000)
        return True
    except Exception:
        return False
    finally:
        await admin.close()


def parse_time(text: str, now: datetime | None = None) -> datetime:
    """An ISO 8601 time (``2026-12-01T09:00Z``; without a zone, UTC) or an age (``30m``, ``2h``, ``7d``)."""
    now = now or datetime.now(UTC)
    age = re.fullmatch(r"(\d+)([smhd])", text.strip())
    if age:
        unit = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}[age.group(2)]
        return now - timedelta(**{unit: int(age.group(1))})
    when = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return when if when.tzinfo else when.replace(tzinfo=UTC)
