"""``lbb_db_commits_total``: what a service commits in PostgreSQL, counted per service (read by
bench/pipeline.py to say which service commits how often per application)."""

from __future__ import annotations

from prometheus_client import REGISTRY
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from lbb.devstack import Stack
from shared.observability import count_commits

SERVICE = "commit-count-test"


def committed() -> float:
    return REGISTRY.get_sample_value("lbb_db_commits_total", {"service": SERVICE}) or 0.0


async def test_each_commit_is_counted_and_a_rollback_is_not(stack: Stack) -> None:
    counted = create_async_engine(stack.database_url or "")
    count_commits(counted, SERVICE)
    try:
        before = committed()
        for _ in range(3):
            async with counted.begin() as c:
                await c.execute(text("SELECT 1"))
        async with counted.connect() as c:
            await c.execute(text("SELECT 1"))
            await c.rollback()
        assert committed() - before == 3
    finally:
        await counted.dispose()
