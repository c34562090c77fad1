"""kill -9 of each service (and of the gateway) while a stream of applications flows through it:
after the restart every expected event and effect is there, exactly once."""

from __future__ import annotations

import asyncio
import signal
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from lbb.devstack import Stack
from shared import topics
from tests.faults.conftest import Ledger, fault_n, recover
from tests.faults.stream import Client, prepare, publish_pairs, run, settle


@pytest.mark.parametrize("victim", ["applications", "pairing", "feedback", "notifications", "gateway"])
async def test_a_service_killed_mid_stream_loses_and_doubles_nothing(
    victim: str, stack: Stack, gateway: httpx.AsyncClient, engine: AsyncEngine, topic_reader: Any, ledger: Ledger
) -> None:
    client = Client(gateway)
    stream = await prepare(client, f"kill-{victim}", fault_n())
    reader = await topic_reader([topics.APPLICATIONS])

    async def kill() -> None:
        await asyncio.get_running_loop().run_in_executor(None, stack.restart, victim, signal.SIGKILL)

    try:
        await run(client, stream, kill)
        await publish_pairs(client, stream)
        await settle(engine, reader, stream, ledger, f"kill -9 {victim}")
    finally:
        recover(stack)
