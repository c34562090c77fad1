"""Each service names its PostgreSQL connections (``application_name``): an operator reading
``pg_stat_activity``, and bench/cpu_per_application.py dividing PostgreSQL's CPU, can tell whose they are."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from lbb.devstack import Stack
from shared.db import make_engine
from shared.registry import NAMES
from tests.conftest import eventually


async def test_an_engine_names_its_connections(stack: Stack) -> None:
    named = make_engine(stack.database_url or "", application_name="naming-test")
    try:
        async with named.connect() as c:
            assert await c.scalar(text("SHOW application_name")) == "naming-test"
    finally:
        await named.dispose()


async def test_every_running_service_is_named_in_pg_stat_activity(engine: AsyncEngine) -> None:
    async def named() -> set[str] | None:
        async with engine.connect() as c:
            names = set((await c.execute(text("SELECT application_name FROM pg_stat_activity"))).scalars())
        return names if set(NAMES) <= names else None

    await eventually(named, 30, f"connections named {sorted(NAMES)}")
