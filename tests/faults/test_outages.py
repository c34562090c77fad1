"""The broker and PostgreSQL go away in the middle of a stream; when they are back, everything flows,
nothing is lost and nothing is doubled.

LBB_FAULT_BROKER_DOWN_S (default 30) and LBB_FAULT_PG_DOWN_S (default 15) set how long each is away.
15 s of PostgreSQL away was enough for consumers that took an absent database for a bad event to
dead-letter events (lost effects); they now wait for it.
"""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

import httpx

from lbb.devstack import Stack
from shared import topics
from tests.faults.conftest import Ledger, fault_n, recover
from tests.faults.stream import Burst, Client, Sources, prepare, publish_pairs, run, settle


def dlq_topics() -> list[str]:
    return [topics.dlq(t) for t in topics.ALL_TOPICS]


async def test_the_gateway_keeps_taking_applications_while_the_broker_is_frozen(
    stack: Stack, gateway: httpx.AsyncClient, sources: Sources, topic_reader: Any, ledger: Ledger
) -> None:
    """SIGSTOP of the broker (it keeps its topics in memory only, so stopping it would lose them):
    every request still succeeds at once, the outbox holds the events, and after SIGCONT they flow."""
    down_s = float(os.environ.get("LBB_FAULT_BROKER_DOWN_S", "30"))
    assert stack.kafka is not None, "the fault tests run the embedded broker"
    client = Client(gateway, retry_for_s=0)  # no retries: every request must succeed while the broker is away
    stream = await prepare(client, "broker", fault_n())
    dlq = await topic_reader(dlq_topics())
    try:
        stack.kafka.pause()
        frozen_at = time.monotonic()
        await run(client, stream)
        # the outage lasts at least its set length (a fault's duration, not a wait), longer if the
        # whole stream took longer to go through
        await asyncio.sleep(max(0.0, down_s - (time.monotonic() - frozen_at)))
        stack.kafka.resume()
        frozen_s = time.monotonic() - frozen_at
        await publish_pairs(client, stream)
        await settle(sources, stream, ledger, f"broker frozen {frozen_s:.0f}s", dlq=dlq)
    finally:
        stack.kafka.resume()
        recover(stack)


async def test_postgresql_restarted_mid_stream_loses_and_doubles_nothing(
    stack: Stack, gateway: httpx.AsyncClient, sources: Sources, topic_reader: Any, ledger: Ledger
) -> None:
    """PostgreSQL stops (pg_ctl fast: every session is cut) in the middle of the stream and comes
    back on the same data: consumers wait for it instead of committing or dead-lettering events
    whose effect did not commit, requests are retried by the client, and every effect is there once."""
    down_s = float(os.environ.get("LBB_FAULT_PG_DOWN_S", "15"))
    postgres = stack.postgres
    assert postgres is not None, "the fault tests run the embedded PostgreSQL"
    client = Client(gateway)
    stream = await prepare(client, "postgres", fault_n())
    dlq = await topic_reader(dlq_topics())

    burst = Burst(fault_n() * 2)
    assert stack.kafka_bootstrap_servers

    async def restart() -> None:
        # a burst straight onto the topics, so the consumers are busy when the database goes
        started = asyncio.Event()
        sending = asyncio.create_task(burst.send(str(stack.kafka_bootstrap_servers), started))
        await started.wait()
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, postgres.halt)
        await asyncio.sleep(down_s)  # how long the database stays away (the fault itself)
        await loop.run_in_executor(None, postgres.resume)
        await sending

    try:
        await run(client, stream, restart)
        await publish_pairs(client, stream)
        await settle(sources, stream, ledger, f"PostgreSQL down {down_s:.0f}s", dlq=dlq, burst=burst)
    finally:
        recover(stack)
