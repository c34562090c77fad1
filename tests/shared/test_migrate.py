"""``python -m shared.migrate``: the image's migration command, without the ``lbb`` tools."""

from __future__ import annotations

import asyncio
import sys

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from lbb.devstack import Stack
from shared import migrate
from shared.migrations import alembic_config


def test_an_unknown_service_or_no_database_is_refused_with_the_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    with pytest.raises(SystemExit) as stop:
        migrate.main(["pairing"])
    assert stop.value.code == 2
    with pytest.raises(SystemExit):
        migrate.main(["gateway", "--database-url", "postgresql+asyncpg://x/y"])


async def test_it_brings_a_schema_to_head_in_a_process_of_its_own(stack: Stack) -> None:
    assert stack.database_url
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "shared.migrate",
        "pairing",
        "--database-url",
        stack.database_url,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode == 0, err.decode()[-2000:]
    assert "pairing: at head" in out.decode()
    engine = create_async_engine(stack.database_url)
    try:
        async with engine.connect() as c:
            head = (await c.execute(text("SELECT version_num FROM pairing.alembic_version"))).scalar_one()
    finally:
        await engine.dispose()
    assert head == ScriptDirectory.from_config(alembic_config("pairing", stack.database_url)).get_current_head()
