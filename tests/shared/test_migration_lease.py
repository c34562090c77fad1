"""The revision every service gained for the relay's lease and the inbox's status: up on a database of
its own, down to just before it, and up again; an inbox row from before it reads as applied."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from shared import migrations
from shared.registry import SCHEMA_SERVICES
from tests.applications.test_migration_0005 import scratch

__all__ = ["scratch"]


@pytest.mark.parametrize("service", SCHEMA_SERVICES)
async def test_the_lease_and_inbox_status_revision_goes_up_down_and_up(service: str, scratch: str) -> None:
    loop = asyncio.get_running_loop()
    config = migrations.alembic_config(service, scratch)
    await loop.run_in_executor(None, migrations.upgrade, service, scratch)
    # down to just before the lease revision (later revisions come off with it), whichever number it has
    (lease,) = [r for r in ScriptDirectory.from_config(config).walk_revisions() if "relay_lease" in (r.path or "")]
    assert isinstance(lease.down_revision, str)
    await loop.run_in_executor(None, command.downgrade, config, lease.down_revision)
    db = create_async_engine(scratch)
    try:
        async with db.begin() as c:
            assert await c.scalar(text(f"SELECT to_regclass('{service}.relay_lease')")) is None
            await c.execute(
                text(f"INSERT INTO {service}.inbox (event_id, event_type, received_at) VALUES (:id, 'E', now())"),
                {"id": uuid.uuid4()},
            )
        await loop.run_in_executor(None, migrations.upgrade, service, scratch)
        async with db.begin() as c:
            assert await c.scalar(text(f"SELECT to_regclass('{service}.relay_lease')")) is not None
            assert (await c.scalars(text(f"SELECT status FROM {service}.inbox"))).all() == ["applied"]
    finally:
        await db.dispose()
