"""Database plumbing: naming convention, one metadata per schema, async engine and sessions."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import JSON, MetaData, Table, event
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


# JSON columns: JSONB on PostgreSQL.
Json = JSON().with_variant(JSONB(), "postgresql")


def schema_metadata(schema: str) -> MetaData:
    """A MetaData bound to a service's own schema, with stable constraint names."""
    return MetaData(schema=schema, naming_convention=NAMING_CONVENTION)


def make_engine(
    database_url: str, *, pool_size: int = 8, idle_in_transaction_timeout_s: float = 60, application_name: str = ""
) -> AsyncEngine:
    """A pooled engine without a ping on checkout: the ping is a round trip per transaction.

    When PostgreSQL restarts, the first statement on a stale connection fails as a disconnect and
    SQLAlchemy then discards every connection opened before it; the callers already treat that like
    the outage it is (consumers leave the batch uncommitted and fetch it again, the relay and the
    delivery worker retry, an HTTP request fails once and its client retries).

    Every session ends a transaction left idle longer than ``idle_in_transaction_timeout_s``
    (PostgreSQL's ``idle_in_transaction_session_timeout``): a process frozen or hung inside a
    transaction cannot hold its row locks for ever. ``application_name`` (the service's) names its
    connections in ``pg_stat_activity`` and the server's logs.
    """
    timeout_ms = str(int(idle_in_transaction_timeout_s * 1000))
    server_settings = {"idle_in_transaction_session_timeout": timeout_ms}
    if application_name:
        server_settings["application_name"] = application_name
    engine = create_async_engine(
        database_url,
        pool_size=pool_size,
        max_overflow=4,
        hide_parameters=True,
        connect_args={"server_settings": server_settings},
    )
    for name, forget in (("close", _forget), ("close_detached", _forget), ("invalidate", _forget)):
        event.listen(engine.sync_engine, name, forget)
    event.listen(engine.sync_engine, "connect", _remember)
    return engine


# The server process ids of this process's pooled connections. A NOTIFY that one of them sent comes from
# a commit that has already woken this process's workers (shared/worker.py), so the listener skips it.
OWN_BACKENDS: set[int] = set()


def _server_pid(dbapi_connection: Any) -> int | None:
    driver = getattr(dbapi_connection, "driver_connection", None)
    return driver.get_server_pid() if driver is not None else None


def _remember(dbapi_connection: Any, _record: Any) -> None:
    pid = _server_pid(dbapi_connection)
    if pid is not None:
        OWN_BACKENDS.add(pid)


def _forget(dbapi_connection: Any, *_: Any) -> None:  # closed or invalidated: its pid may be another's next
    OWN_BACKENDS.discard(_server_pid(dbapi_connection) or 0)


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


@asynccontextmanager
async def transaction(sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """One unit of work: commits on success, rolls back on any exception."""
    async with sessions() as session, session.begin():
        yield session


def upsert(table: Table) -> Any:
    """``INSERT … ON CONFLICT (primary key) DO UPDATE`` of every other column: a projection's row
    replaced by the latest event about it. Build it once and execute it with rows as parameters
    (executemany for many), so SQLAlchemy caches one statement."""
    statement = insert(table)
    keys = [c.name for c in table.primary_key]
    changed = {c.name: statement.excluded[c.name] for c in table.c if not c.primary_key}
    return statement.on_conflict_do_update(index_elements=keys, set_=changed)
