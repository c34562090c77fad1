"""Consumers tell a database that is away (wait for it) from an event that fails (retry, then dead-letter)."""

from __future__ import annotations

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
