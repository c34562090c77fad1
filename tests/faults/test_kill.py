"""kill -9 of each service (and of the gateway) while a stream of applications flows through it:
after the restart every expected event and effect is there, exactly once, the e-mails counted at
the SMTP server. A kill of notifications can leave a delivery ``unconfirmed`` (the sender died
between handing the message over and the server's answer); the scenario then does what an operator
does (``lbb deliveries``): resend it if the mail system does not have its Message-ID."""

from __future__ import annotations

import asyncio
import signal

import httpx
import pytest

from lbb.devstack import Stack
from tests.faults.conftest import Ledger, fault_n, recover
from tests.faults.stream import Client, Sources, prepare, publish_pairs, run, settle


@pytest.mark.parametrize("victim", ["applications", "pairing", "feedback", "notifications", "gateway"])
async def test_a_service_killed_mid_stream_loses_and_doubles_nothing(
    victim: str, stack: Stack, gateway: httpx.AsyncClient, sources: Sources, ledger: Ledger
) -> None:
    client = Client(gateway)
    stream = await prepare(client, f"kill-{victim}", fault_n())

    async def kill() -> None:
        await asyncio.get_running_loop().run_in_executor(None, stack.restart, victim, signal.SIGKILL)

    try:
        await run(client, stream, kill)
        await publish_pairs(client, stream)
        await settle(sources, stream, ledger, f"kill -9 {victim}")
    finally:
        recover(stack)
