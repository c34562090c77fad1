"""Two relays of one outbox, each a process of its own, on the real broker and PostgreSQL; the one that
holds the lease freezes itself (SIGSTOP) in the middle of a batch. The other takes over within the
lease, and the topic, read back, has every event, each aggregate's first copies in order.

The frozen relay, once resumed, writes nothing of what it had handed to its producer before the
freeze (its producer is fenced by the lease, ``shared.relay_kafka``), and the relay that took over
read back what the frozen one had written and did not publish it again: every event is on the topic
once (the ``events on the topic`` row counts repeats by envelope id).
"""

from __future__ import annotations

import asyncio
import signal
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from lbb.devstack import Stack
from shared.db import make_sessionmaker
from tests.conftest import eventually, scratch
from tests.faults.conftest import Count, Ledger, fault_n
from tests.relaying import SCHEMA, TOPIC, TopicCheck, metadata, numbered, outbox, stage

ROOT = Path(__file__).resolve().parents[2]
LEASE_S = 3.0
PER_STREAM = 5


class RelayProcess:
    """``python -m tests.relaying`` and the lines it prints."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.holder = ""

    @classmethod
    async def start(cls, stack: Stack, freeze_at: int) -> RelayProcess:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.relaying",
            str(stack.kafka_bootstrap_servers),
            str(stack.database_url),
            str(LEASE_S),
            str(freeze_at),
            cwd=ROOT,
            stdout=asyncio.subprocess.PIPE,
        )
        relay = cls(proc)
        relay.holder = (await relay.line("holder")).split(" ", 1)[1]
        return relay

    async def line(self, *starts: str, timeout_s: float = 30) -> str:
        """The next line that starts with one of ``starts``."""
        assert self.proc.stdout is not None
        async with asyncio.timeout(timeout_s):
            while True:
                text = (await self.proc.stdout.readline()).decode().strip()
                if not text and self.proc.stdout.at_eof():
                    raise AssertionError(f"the relay process ended before printing {starts}")
                if text.startswith(starts):
                    return text

    def frozen(self) -> bool:
        return Path(f"/proc/{self.proc.pid}/stat").read_text().split(") ", 1)[1].startswith("T")

    async def stop(self) -> None:
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.send_signal(signal.SIGTERM)
            try:
                async with asyncio.timeout(15):
                    await self.proc.wait()
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()


async def test_two_relays_one_frozen_mid_publish_the_other_takes_over_within_the_lease(
    stack: Stack, engine: AsyncEngine, topic_reader: Any, ledger: Ledger
) -> None:
    assert stack.kafka_bootstrap_servers and stack.database_url
    await scratch(stack, engine, SCHEMA, metadata, TOPIC)
    sessions = make_sessionmaker(engine)
    lease = outbox.lease
    rounds = numbered(streams=max(fault_n() // PER_STREAM, 2), per_stream=PER_STREAM)
    total = sum(len(r) for r in rounds)

    async def holder() -> str | None:
        async with sessions() as s:
            return await s.scalar(select(lease.c.holder))

    async def unsent() -> int:
        async with sessions() as s:
            return int(await s.scalar(select(func.count()).where(outbox.table.c.sent_at.is_(None))) or 0)

    first = await RelayProcess.start(stack, freeze_at=total // 3)
    relays = [first]
    try:
        await eventually(lambda: _is(holder, first.holder), what="the first relay to take the lease")
        second = await RelayProcess.start(stack, freeze_at=0)
        relays.append(second)
        for events in rounds:  # one transaction a round, while both relays run
            await stage(sessions, events)
        await first.line("freezing")
        await eventually(lambda: _true(first.frozen()), what="the first relay to stop itself")
        frozen_at = time.monotonic()
        await eventually(
            lambda: _is(holder, second.holder), timeout_s=LEASE_S + 10, what="the second relay to take over"
        )
        takeover_s = time.monotonic() - frozen_at
        await eventually(lambda: _zero(unsent), what="the second relay to publish everything")
        assert takeover_s <= LEASE_S + 1.5, f"took over after {takeover_s:.1f}s, the lease is {LEASE_S}s"
        first.proc.send_signal(signal.SIGCONT)  # back from the freeze: it finishes its batch and stops there
        await first.line("batch", "failed")
    finally:
        for relay in relays:
            await relay.stop()

    reader = await topic_reader([TOPIC])
    streams = {e.stream for e in rounds[0]}

    async def all_there() -> TopicCheck | None:
        check = TopicCheck(await reader.poll(), streams)
        return check if check.distinct == total else None

    check = await eventually(all_there, what="every event on the topic")
    scenario = f"two relays, one frozen mid-publish (taken over in {takeover_s:.1f}s)"
    copies = Count(total, check.distinct, check.distinct, check.found - check.distinct, check.out_of_order)
    ledger.record(scenario, "events on the topic (envelope ids)", copies)
    assert (check.found, check.out_of_order) == (total, 0)


async def _is(probe: Callable[[], Awaitable[str | None]], expected: str) -> bool:
    return await probe() == expected


async def _true(value: bool) -> bool:
    return value


async def _zero(probe: Callable[[], Awaitable[int]]) -> bool:
    return await probe() == 0
