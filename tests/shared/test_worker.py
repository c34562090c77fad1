"""The one background-work primitive: back-off, drain on stop, and wake-ups from another process's
commit through PostgreSQL LISTEN/NOTIFY (a trigger made by the migration helper)."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator

import pytest
from alembic.migration import MigrationContext
from alembic.operations import Operations
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, create_async_engine

from lbb.devstack import Stack
from shared.db import make_engine, make_sessionmaker
from shared.migrations import notify_on_insert
from shared.worker import WAKEUPS, Listener, Worker, backoff_after, channel_name, wake_on_commit
from tests.conftest import eventually

SCHEMA = "lbb_test_worker"


async def test_a_failing_step_is_tried_again_with_a_growing_back_off_and_the_loop_goes_on() -> None:
    calls: list[float] = []

    async def step() -> bool:
        calls.append(asyncio.get_running_loop().time())
        if len(calls) <= 3:
            raise RuntimeError("the database is away")
        return False

    worker = Worker("flaky", step, poll_interval_s=0.05, backoff_max_s=0.15)
    async with worker.running():
        await eventually(lambda: asyncio.sleep(0, len(calls) >= 5 or None), timeout_s=5, what="steps after failures")
    gaps = [b - a for a, b in itertools.pairwise(calls)]
    assert gaps[0] >= 0.05 and gaps[1] >= 0.1 and gaps[2] >= 0.15  # doubled, then held at the ceiling
    assert worker.failures == 0  # reset by the success
    assert [backoff_after(b, 0.15) for b in (0.05, 0.1, 0.15)] == [0.1, 0.15, 0.15]


async def test_stop_lets_the_step_in_flight_finish() -> None:
    started, finished = asyncio.Event(), asyncio.Event()

    async def step() -> bool:
        started.set()
        await asyncio.sleep(0.2)
        finished.set()
        return False

    worker = Worker("slow", step, poll_interval_s=10)
    worker.start()
    await asyncio.wait_for(started.wait(), 5)
    await worker.stop()
    assert finished.is_set()


async def test_a_wake_up_while_idle_lingers_and_one_during_a_step_does_not() -> None:
    """The linger gathers commits that come close together; a commit that came while a step ran has
    waited for that step already, so the next step runs at once."""
    calls: list[float] = []
    worker: Worker

    async def step() -> bool:
        calls.append(asyncio.get_running_loop().time())
        if len(calls) == 2:
            worker.wake()  # a commit while this step runs
        return False

    worker = Worker("lingering", step, poll_interval_s=30, linger_s=0.5)
    async with worker.running():
        await eventually(lambda: asyncio.sleep(0, len(calls) >= 1 or None), timeout_s=5, what="the first step")
        worker.wake()  # a commit while the worker is idle
        await eventually(lambda: asyncio.sleep(0, len(calls) >= 3 or None), timeout_s=5, what="two more steps")
    assert calls[1] - calls[0] >= 0.5  # idle: lingered
    assert calls[2] - calls[1] < 0.5  # woken during the step: no linger


async def test_a_commit_in_this_process_wakes_the_channel_at_once(engine: AsyncEngine) -> None:
    steps = 0

    async def step() -> bool:
        nonlocal steps
        steps += 1
        return False

    worker = Worker("local", step, poll_interval_s=3600, channels=("lbb_test_local",))
    async with worker.running():
        await eventually(lambda: asyncio.sleep(0, steps >= 1 or None), timeout_s=5, what="the first step")
        async with AsyncSession(engine) as s, s.begin():
            wake_on_commit(s, "lbb_test_local")
            assert steps == 1  # not before the commit
        await eventually(lambda: asyncio.sleep(0, steps >= 2 or None), timeout_s=5, what="a woken step")
    assert "lbb_test_local" not in WAKEUPS.channels()  # a stopped worker is no longer woken


@pytest.fixture
async def notifying_table(engine: AsyncEngine) -> AsyncIterator[str]:
    async with engine.begin() as c:
        await c.execute(text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
        await c.execute(text(f"CREATE SCHEMA {SCHEMA}"))
        await c.execute(text(f"CREATE TABLE {SCHEMA}.job (id serial primary key)"))
        await c.run_sync(_add_trigger)
    yield channel_name(SCHEMA, "job")
    async with engine.begin() as c:
        await c.execute(text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))


def _add_trigger(sync_connection: Connection) -> None:
    """The migration helper, called as a revision calls it (alembic's ``op`` bound to a connection)."""
    with Operations.context(MigrationContext.configure(sync_connection)):
        notify_on_insert(SCHEMA, "job")


async def test_a_commit_in_another_process_wakes_the_worker_through_notify(
    stack: Stack, engine: AsyncEngine, notifying_table: str
) -> None:
    """The worker polls once an hour; only the NOTIFY of another connection's commit can wake it."""
    steps = 0

    async def step() -> bool:
        nonlocal steps
        steps += 1
        return False

    other_process = create_async_engine(stack.database_url or "")
    worker = Worker("remote", step, poll_interval_s=3600, channels=(notifying_table,))
    listener = Listener(engine, name="test")
    async with worker.running():
        listener.start()
        try:
            await asyncio.wait_for(listener.connected.wait(), 10)
            await eventually(lambda: asyncio.sleep(0, steps >= 1 or None), timeout_s=5, what="the first steps")
            before = steps
            async with other_process.begin() as c:  # no wake_on_commit: nothing in this process knows
                await c.execute(text(f"INSERT INTO {SCHEMA}.job DEFAULT VALUES"))
                await c.execute(text(f"INSERT INTO {SCHEMA}.job DEFAULT VALUES"))
            await eventually(lambda: asyncio.sleep(0, steps > before or None), timeout_s=5, what="a NOTIFY wake-up")
            async with other_process.begin() as c:  # rolled back: no notification
                await c.execute(text(f"INSERT INTO {SCHEMA}.job DEFAULT VALUES"))
                await c.rollback()
            async with other_process.begin() as c:
                await c.execute(text(f"INSERT INTO {SCHEMA}.job DEFAULT VALUES"))
            await eventually(
                lambda: asyncio.sleep(0, listener.notified >= 2 or None), timeout_s=5, what="the last commit's NOTIFY"
            )
            # Notifications arrive in commit order: one per committed transaction (two inserts made
            # one), none for the rollback, so exactly two by the time the last commit's has come.
            assert listener.notified == 2
        finally:
            await listener.stop()
            await other_process.dispose()


async def test_a_commit_of_this_process_wakes_its_workers_once_its_own_notify_is_skipped(
    stack: Stack, notifying_table: str
) -> None:
    """The committing process wakes its workers after the commit; the NOTIFY of that same commit, sent
    from one of its own pooled connections, would only wake them again for an empty step."""
    own = make_engine(stack.database_url or "")
    other_process = create_async_engine(stack.database_url or "")
    worker = Worker("own", lambda: asyncio.sleep(0, False), poll_interval_s=3600, channels=(notifying_table,))
    listener = Listener(own, name="test-own")
    async with worker.running():
        listener.start()
        try:
            await asyncio.wait_for(listener.connected.wait(), 10)
            async with make_sessionmaker(own)() as s, s.begin():
                await s.execute(text(f"INSERT INTO {SCHEMA}.job DEFAULT VALUES"))
                wake_on_commit(s, notifying_table)
            async with other_process.begin() as c:  # committed after ours: its notification comes after
                await c.execute(text(f"INSERT INTO {SCHEMA}.job DEFAULT VALUES"))
            await eventually(
                lambda: asyncio.sleep(0, listener.notified >= 1 or None), timeout_s=5, what="the other commit's NOTIFY"
            )
            assert (listener.own, listener.notified) == (1, 1)
        finally:
            await listener.stop()
            await other_process.dispose()
            await own.dispose()
