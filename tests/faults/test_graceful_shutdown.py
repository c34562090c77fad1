"""SIGTERM while handlers are in flight: the service drains them, commits their offsets and exits cleanly,
so its successor has nothing to redo and nothing is lost."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import time
import uuid
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from lbb.devstack import Stack, wait_until
from shared import topics
from tests.conftest import envelopes, eventually
from tests.faults.conftest import Count, Ledger, fault_n, recover
from tests.faults.stream import Burst, Sources

SERVICE = "notifications"
GROUP = f"lbb-{SERVICE}"
EXIT_WITHIN_S = 30


async def committed(bootstrap_servers: str, partitions: set[TopicPartition]) -> dict[TopicPartition, int]:
    """The group's committed offsets, asked without joining the group (OffsetFetch only)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers, group_id=GROUP, enable_auto_commit=False)
    await consumer.start()
    try:
        return {tp: (await consumer.committed(tp)) or 0 for tp in partitions}
    finally:
        await consumer.stop()


async def inbox(engine: AsyncEngine, ids: list[uuid.UUID]) -> set[str]:
    async with engine.connect() as c:
        rows = await c.execute(
            text(f"SELECT event_id FROM {SERVICE}.inbox WHERE event_id = ANY(CAST(:ids AS uuid[]))"),
            {"ids": [str(i) for i in ids]},
        )
        return {str(r.event_id) for r in rows}


async def test_sigterm_drains_in_flight_handlers_commits_and_exits_cleanly(
    stack: Stack, engine: AsyncEngine, sources: Sources, topic_reader: Any, ledger: Ledger
) -> None:
    bootstrap = str(stack.kafka_bootstrap_servers)
    proc = stack.processes[SERVICE]
    assert proc.process is not None
    burst = Burst(fault_n() * 4)
    reader = await topic_reader([topics.APPLICATIONS, topics.CONTACTS])
    blocker = await engine.connect()
    try:
        # Hold the contact table so the first contact's handler waits, in flight, inside its transaction.
        await blocker.execute(text(f"LOCK TABLE {SERVICE}.contact IN EXCLUSIVE MODE"))
        sending = asyncio.create_task(burst.send(bootstrap))

        async def blocked() -> bool:
            async with engine.connect() as c:
                waiting = await c.execute(
                    text(
                        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                        f" AND query ILIKE '%{SERVICE}.contact%'"
                    )
                )
                return bool(waiting.scalar())

        await eventually(blocked, 60, f"a {SERVICE} handler to wait on the held table")
        # the consumer handles one event at a time: nothing more is applied while this one waits
        before = len(await inbox(engine, burst.event_ids))
        shutdowns = proc.log_path.read_text().count("Application shutdown complete")
        terminated_at = time.monotonic()
        proc.process.send_signal(signal.SIGTERM)

        async def shutting_down() -> bool:
            return "Waiting for application shutdown" in proc.log_path.read_text().split("Finished server process")[-1]

        await eventually(shutting_down, 30, f"the {SERVICE} service to begin its shutdown")
        await blocker.rollback()  # the handler in flight can go on now: shutdown must let it finish
        try:
            code = await asyncio.get_running_loop().run_in_executor(None, proc.process.wait, EXIT_WITHIN_S)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"the {SERVICE} service did not exit within {EXIT_WITHIN_S}s of SIGTERM") from None
        took = time.monotonic() - terminated_at
        # uvicorn re-raises the signal once it has shut down, so a clean exit reads as "killed by SIGTERM"
        assert code in (0, -signal.SIGTERM), f"the {SERVICE} service exited with {code} after SIGTERM"
        assert proc.log_path.read_text().count("Application shutdown complete") == shutdowns + 1, "no clean shutdown"
        await sending

        # Where each of the burst's events sits on its topic, and what the stopped group committed.
        ours = {str(i) for i in burst.event_ids}

        async def located() -> dict[str, tuple[TopicPartition, int]] | None:
            where = {}
            for record in await reader.poll():
                parsed = envelopes([record])  # [] for a poison record another test left
                event_id = parsed[0].get("id") if parsed else None
                if event_id in ours:
                    where[event_id] = (TopicPartition(record.topic, record.partition), record.offset)
            return where if len(where) == len(ours) else None

        where = await eventually(located, 60, "every event of the burst on its topic")
        offsets = await committed(bootstrap, {tp for tp, _ in where.values()})
        done = await inbox(engine, burst.event_ids)
        applied_not_committed = [e for e in done if where[e][1] >= offsets.get(where[e][0], -1)]
        committed_not_applied = [e for e in ours - done if where[e][1] < offsets.get(where[e][0], -1)]
        assert not committed_not_applied, f"{len(committed_not_applied)} events committed but never applied"
        assert not applied_not_committed, f"{len(applied_not_committed)} events applied but left uncommitted"
        assert 0 < len(done) < len(ours), f"SIGTERM was not in the middle of the burst: {len(done)}/{len(ours)}"
        assert len(done) > before, "the handler in flight at SIGTERM was not finished"
        scenario = f"SIGTERM {SERVICE} ({len(done)}/{len(ours)} applied, clean exit in {took:.1f}s)"

        # The successor picks up exactly where the drained instance stopped.
        await asyncio.get_running_loop().run_in_executor(None, proc.start)
        await asyncio.get_running_loop().run_in_executor(None, wait_until, proc.healthy, 60, "the restart")

        async def counted() -> dict[str, Count] | None:
            counts = await burst.count(sources)
            return counts if all(c.found >= c.expected for c in counts.values()) else None

        counts = await eventually(counted, 90, "every effect of the burst")
        for effect, c in counts.items():
            ledger.record(scenario, effect, c)
        assert all(c.exact for c in counts.values()), counts
    finally:
        await blocker.close()
        recover(stack)
