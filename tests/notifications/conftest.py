"""Fixtures of the notifications tests."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from lbb.devstack import Stack
from shared.db import make_engine, make_sessionmaker
from shared.migrations import upgrade
from tests.conftest import Api
from tests.notifications.flow import Cohort, new_cohort


@pytest.fixture
async def cohort(api: Api, request: pytest.FixtureRequest) -> Cohort:
    """A new cohort of the test's own, named after the test; its ``uid`` makes the test's people new too."""
    return await new_cohort(api, request.node.name)


@pytest.fixture(scope="module")
async def sessions(stack: Stack) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """A notifications database of the test module's own (migrated), away from the running service."""
    assert stack.database_url
    name = f"lbb_worker_{uuid.uuid4().hex[:12]}"
    admin = create_async_engine(stack.database_url, isolation_level="AUTOCOMMIT")
    async with admin.connect() as c:
        await c.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(stack.database_url).set(database=name).render_as_string(hide_password=False)
    await asyncio.to_thread(upgrade, "notifications", url)
    engine = make_engine(url)
    try:
        yield make_sessionmaker(engine)
    finally:
        await engine.dispose()
        async with admin.connect() as c:
            await c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()
