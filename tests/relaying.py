"""Relays of a scratch outbox, for the relay tests (tests/shared/test_relay.py) and the two-relays
fault scenario (tests/faults/test_relays.py), which runs each relay in a process of its own:

    python -m tests.relaying BOOTSTRAP DATABASE_URL LEASE_S FREEZE_AT

publishes the scratch outbox with a lease of LEASE_S seconds and, when FREEZE_AT > 0, stops itself
with SIGSTOP just before its FREEZE_AT-th send: frozen in the middle of a batch, with sends of that
batch handed to the producer and none of it marked sent. It prints ``holder <id>`` once running and
``batch <n>`` or ``failed <kind>`` after every batch. SIGTERM stops it cleanly.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import signal
import sys
import uuid
from collections import defaultdict
from typing import Any

from sqlalchemy import MetaData
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.db import make_engine, make_sessionmaker, schema_metadata
from shared.events import Event
from shared.outbox import Outbox, Relay, Send
from shared.relay_kafka import RelayProducer
from shared.settings import Settings

SCHEMA = "lbb_test_relays"
TOPIC = "lbb.test.relays.v1"
SERVICE = "relays-test"


class Numbered(Event):
    """The ``seq``-th event of the aggregate ``stream``: its consumers must see them in that order."""

    topic = TOPIC
    key_field = "stream"
    stream: str
    seq: int


metadata: MetaData = schema_metadata(SCHEMA)
outbox = Outbox(metadata, service=SERVICE)


async def stage(sessions: async_sessionmaker[AsyncSession], events: list[Numbered]) -> None:
    async with sessions() as s, s.begin():
        await outbox.add(s, *events)


class TopicCheck:
    """What reached the topic: copies per envelope id, and whether each stream's first copies came
    in ``seq`` order (a consumer drops later copies through its inbox, so first copies are what it applies)."""

    def __init__(self, records: list[Any], streams: set[str]) -> None:
        self.copies: dict[str, int] = defaultdict(int)
        self.first: dict[str, list[int]] = defaultdict(list)
        for r in records:
            if r.topic != TOPIC:
                continue
            envelope = json.loads(r.value)
            if envelope["data"]["stream"] not in streams:  # another test's
                continue
            self.copies[envelope["id"]] += 1
            if self.copies[envelope["id"]] == 1:
                self.first[envelope["data"]["stream"]].append(envelope["data"]["seq"])

    @property
    def found(self) -> int:
        return sum(self.copies.values())

    @property
    def distinct(self) -> int:
        return len(self.copies)

    @property
    def out_of_order(self) -> int:
        """First copies that came after a later event of their stream."""
        return sum(sum(1 for a, b in itertools.pairwise(seqs) if b < a) for seqs in self.first.values())


async def _run(bootstrap: str, database_url: str, lease_s: float, freeze_at: int) -> None:
    settings = Settings(kafka_bootstrap_servers=bootstrap, database_url=database_url)
    engine = make_engine(database_url)
    producer = RelayProducer(settings, f"relay-{os.getpid()}")
    await producer.start()
    real: Send = producer.send
    sends = 0

    async def send(topic: str, key: bytes, value: bytes) -> Any:
        nonlocal sends
        sends += 1
        if sends == freeze_at:
            print("freezing", flush=True)
            os.kill(os.getpid(), signal.SIGSTOP)  # frozen mid-batch, as a SIGSTOP or a long pause would
        return await real(topic, key, value)

    class Reporting(Relay):
        async def publish_batch(self, *, defer: bool = False) -> int:
            try:
                n = await super().publish_batch(defer=defer)
            except Exception as exc:
                print(f"failed {type(exc).__name__}", flush=True)
                raise
            if n:
                print(f"batch {n}", flush=True)
            return n

    relay = Reporting(
        outbox,
        make_sessionmaker(engine),
        send,
        lease_s=lease_s,
        poll_interval_s=0.1,
        batch_size=50,
        readback=producer.envelope_ids,
    )
    producer.may_write = relay.may_write  # the fence: nothing buffered is written past the lease
    print(f"holder {relay.holder}", flush=True)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    async with relay.worker.running():
        await stop.wait()
    await relay.release()
    await producer.stop()
    await engine.dispose()


def main(argv: list[str]) -> None:
    bootstrap, database_url, lease_s, freeze_at = argv
    asyncio.run(_run(bootstrap, database_url, float(lease_s), int(freeze_at)))


def numbered(streams: int, per_stream: int) -> list[list[Numbered]]:
    """``per_stream`` rounds of one event for each of ``streams`` streams (a round per transaction)."""
    names = [f"s{i}-{uuid.uuid4().hex[:6]}" for i in range(streams)]
    return [[Numbered(stream=name, seq=seq) for name in names] for seq in range(per_stream)]


if __name__ == "__main__":
    main(sys.argv[1:])
