"""Migration 0005 on a database of its own: it refuses, and says why, while one subject holds two open
applications to a cohort; once they hold one, it replaces the old unique e-mail index with the partial
ones, so a withdrawn application no longer blocks its applicant."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from lbb.devstack import Stack
from shared import migrations

ROW = """INSERT INTO applications.application (id, cohort_id, owner_sub, name, email, job_title, organisation_id,
    staff_group, band, statement, availability, interests, state, submitted_at, updated_at)
VALUES (:id, :cohort, :sub, 'Ann', :email, 'Manager', :org, 'clinical', '8a', 'A statement', '[]', '[]', :state,
    now(), now())"""


@pytest.fixture
async def scratch(stack: Stack) -> AsyncIterator[str]:
    """The URL of a new, empty database on the stack's PostgreSQL, dropped afterwards."""
    assert stack.database_url
    name = f"m0005_{uuid.uuid4().hex[:10]}"
    admin = create_async_engine(stack.database_url, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as c:
            await c.execute(text(f'CREATE DATABASE "{name}"'))
    except DBAPIError as exc:  # a DATABASE_URL whose role may not create databases
        await admin.dispose()
        pytest.skip(f"cannot create a scratch database: {type(exc.orig).__name__}")
    try:
        yield make_url(stack.database_url).set(database=name).render_as_string(hide_password=False)
    finally:
        async with admin.connect() as c:
            await c.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        await admin.dispose()


async def cohort_and_organisation(db: AsyncEngine) -> dict[str, uuid.UUID]:
    keys = {"org": uuid.uuid4(), "programme": uuid.uuid4(), "cohort": uuid.uuid4()}
    async with db.begin() as c:
        await c.execute(
            text("INSERT INTO applications.organisation VALUES (:org, 'RC9', 'Org', 'nhs_trust', 'Luton', now())"),
            keys,
        )
        await c.execute(text("INSERT INTO applications.programme VALUES (:programme, 'P', now())"), keys)
        await c.execute(
            text(
                "INSERT INTO applications.cohort (id, programme_id, name, capacity, pairing_mode, opens_at,"
                " exchange_starts, exchange_ends, auto_publish, created_by)"
                " VALUES (:cohort, :programme, 'C', 4, 'peer', now(), current_date, current_date, false, 'ada')"
            ),
            keys,
        )
    return keys


async def add(db: AsyncEngine, keys: dict[str, uuid.UUID], sub: str, email: str, state: str) -> uuid.UUID:
    application_id = uuid.uuid4()
    async with db.begin() as c:
        await c.execute(text(ROW), keys | {"id": application_id, "sub": sub, "email": email, "state": state})
    return application_id


async def test_0005_refuses_two_open_applications_of_one_subject_then_lets_a_withdrawn_one_reapply(
    scratch: str,
) -> None:
    await asyncio.to_thread(migrations.upgrade, "applications", scratch, "0004")
    db = create_async_engine(scratch)
    try:
        keys = await cohort_and_organisation(db)
        await add(db, keys, "ann", "ann@example.nhs.uk", "submitted")
        second = await add(db, keys, "ann", "ann.other@example.nhs.uk", "endorsed")
        with pytest.raises(RuntimeError, match="1 token subject"):
            await asyncio.to_thread(migrations.upgrade, "applications", scratch, "head")

        async with db.begin() as c:
            await c.execute(
                text("UPDATE applications.application SET state = 'withdrawn' WHERE id = :id"), {"id": second}
            )
        await asyncio.to_thread(migrations.upgrade, "applications", scratch, "head")
        await add(db, keys, "ann-again", "ann.other@example.nhs.uk", "submitted")  # its e-mail is free again
        with pytest.raises(IntegrityError, match="uq_application_open_owner"):
            await add(db, keys, "ann", "ann.third@example.nhs.uk", "submitted")
        with pytest.raises(IntegrityError, match="uq_application_open_email"):
            await add(db, keys, "bob", "ANN@example.nhs.uk", "submitted")
    finally:
        await db.dispose()
