"""Consumers tell a database that is away (wait for it) from an event that fails (retry, then dead-letter)."""

from __future__ import annotations

import asyncio
import tempfile

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from shared.consumer import unavailable


async def test_a_failing_statement_is_the_events_fault(engine: AsyncEngine) -> None:
    with pytest.raises(Exception) as failed:
        async with engine.connect() as c:
            await c.execute(text("SELECT 1 / 0"))
    assert not unavailable(failed.value)


async def test_a_session_cut_by_the_server_is_the_database_being_away(engine: AsyncEngine) -> None:
    with pytest.raises(Exception) as cut:
        async with engine.connect() as c:
            await c.execute(text("SELECT pg_terminate_backend(pg_backend_pid())"))
    assert unavailable(cut.value), repr(cut.value)


async def test_no_server_to_connect_to_is_the_database_being_away() -> None:
    nowhere = create_async_engine(f"postgresql+asyncpg://postgres:@/lbb?host={tempfile.mkdtemp()}")
    try:
        with pytest.raises(Exception) as refused:
            async with nowhere.connect() as c:
                await c.execute(text("SELECT 1"))
        assert unavailable(refused.value), repr(refused.value)
    finally:
        await nowhere.dispose()


async def test_a_handlers_own_timeout_or_socket_error_is_the_events_fault() -> None:
    """An SMTP or HTTP call that times out or is refused is not the database being away: the event is
    retried, then dead-lettered, instead of holding its partition for ever."""
    with pytest.raises(TimeoutError) as timed_out:
        await asyncio.wait_for(asyncio.Event().wait(), timeout=0.01)
    assert not unavailable(timed_out.value)
    with pytest.raises(OSError) as refused:
        await asyncio.open_unix_connection(f"{tempfile.mkdtemp()}/nobody-listens")
    assert not unavailable(refused.value)
    assert not unavailable(ConnectionResetError("the SMTP server hung up"))
