"""Alembic per service: each service migrates its own schema and keeps its own version table."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command, context, op
from alembic.config import Config
from sqlalchemy import MetaData, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

import services
from shared.registry import SCHEMA_SERVICES
from shared.worker import channel_name

SERVICES_DIR = Path(services.__file__).resolve().parent


def alembic_config(service: str, database_url: str) -> Config:
    if service not in SCHEMA_SERVICES:
        raise ValueError(f"{service!r} owns no schema; choose from {', '.join(SCHEMA_SERVICES)}")
    cfg = Config()
    cfg.set_main_option("script_location", str(SERVICES_DIR / service / "migrations"))
    cfg.attributes["database_url"] = database_url
    return cfg


def upgrade(service: str, database_url: str, revision: str = "head") -> None:
    """Bring a service's schema to ``revision`` (blocking; safe to call from a worker thread)."""
    command.upgrade(alembic_config(service, database_url), revision)


def run_env(metadata: MetaData) -> None:
    """The body of every service's ``migrations/env.py``."""
    schema = metadata.schema
    assert schema, "a service's metadata must name its schema"
    url: str = context.config.attributes["database_url"]

    def include_name(name: str | None, type_: str, _parent: object) -> bool:
        return name == schema if type_ == "schema" else True

    def migrate(connection: Connection) -> None:
        context.configure(
            connection=connection,
            target_metadata=metadata,
            version_table_schema=schema,
            include_schemas=True,
            include_name=include_name,
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()

    async def run() -> None:
        engine = create_async_engine(url, poolclass=NullPool, hide_parameters=True)
        try:
            async with engine.connect() as connection:
                # Where an operator made the schema for the service's own role (deploy/postgres), the
                # role may not create schemas at all: only create it when it is missing.
                found = await connection.scalar(
                    text("SELECT 1 FROM pg_namespace WHERE nspname = :schema"), {"schema": schema}
                )
                if not found:
                    await connection.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
                    await connection.commit()
                await connection.run_sync(migrate)
                await connection.commit()
        finally:
            await engine.dispose()

    asyncio.run(run())


# --- helpers for the revisions themselves -----------------------------------------------------
# Revisions that have run anywhere build with these: changing what one of them builds changes an old
# revision. Add a helper instead (tests/shared/test_migrations_match_models.py checks the schema at head
# against the models, and that each downgrade undoes its upgrade).

# The column types the revisions repeat: a timestamp with time zone, and JSON stored as jsonb.
TZ = sa.DateTime(timezone=True)
JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")

AddedColumn = tuple[str, "sa.Column[Any]"]  # (table, column)
Steps = tuple[Callable[[], None], Callable[[], None]]  # a revision's ``upgrade`` and ``downgrade``


def create_index(schema: str, table: str, column: str) -> None:
    """The index a model's ``index=True`` makes: ``ix_<schema>_<table>_<column>`` (shared/db.py's convention)."""
    op.create_index(op.f(f"ix_{schema}_{table}_{column}"), table, [column], unique=False, schema=schema)


def drop_index(schema: str, table: str, column: str) -> None:
    op.drop_index(op.f(f"ix_{schema}_{table}_{column}"), table_name=table, schema=schema)


def drop_tables(schema: str, *tables: str) -> None:
    """``op.drop_table`` for each in turn: list a table before those it refers to. Its indexes go with it."""
    for table in tables:
        op.drop_table(table, schema=schema)


def add_columns(schema: str, *added: AddedColumn) -> None:
    """``op.add_column`` for each (table, column) in turn. A copy of each column is added, so that a
    revision can run again in the same process (a downgrade and upgrade in tests)."""
    for table, column in added:
        op.add_column(table, column._copy(), schema=schema)


def drop_columns(schema: str, *added: AddedColumn) -> None:
    """Undo ``add_columns``: the same columns dropped in the reverse order."""
    for table, column in reversed(added):
        op.drop_column(table, column.name, schema=schema)


def columns_added(schema: str, *added: AddedColumn) -> Steps:
    """``upgrade`` and ``downgrade`` of a revision that adds columns, each ``(table, sa.Column(...))``."""
    return (lambda: add_columns(schema, *added)), (lambda: drop_columns(schema, *added))


def timestamp_added(schema: str, table: str, column: str) -> Steps:
    """``upgrade`` and ``downgrade`` of a revision that adds one nullable timestamptz column (when
    something happened to the row, null until it has)."""
    return columns_added(schema, (table, sa.Column(column, TZ, nullable=True)))


def create_outbox_and_inbox(schema: str) -> None:
    """The outbox and inbox every service has (shared/outbox.py, shared/inbox.py), in ``schema``."""
    op.create_table(
        "inbox",
        sa.Column("event_id", sa.Uuid(), primary_key=True),
        sa.Column("event_type", sa.String(length=100), nullable=False),
        sa.Column("received_at", TZ, nullable=False),
        schema=schema,
    )
    op.create_table(
        "outbox",
        sa.Column("seq", sa.BigInteger(), sa.Identity(always=False), primary_key=True),
        sa.Column("event_id", sa.Uuid(), nullable=False, unique=True),
        sa.Column("event_type", sa.String(length=100), nullable=False),
        sa.Column("topic", sa.String(length=200), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("sent_at", TZ, nullable=True),
        schema=schema,
    )
    op.create_index(
        "ix_outbox_unsent", "outbox", ["seq"], unique=False, schema=schema, postgresql_where=sa.text("sent_at IS NULL")
    )


def drop_outbox_and_inbox(schema: str) -> None:
    op.drop_index("ix_outbox_unsent", table_name="outbox", schema=schema, postgresql_where=sa.text("sent_at IS NULL"))
    op.drop_table("outbox", schema=schema)
    op.drop_table("inbox", schema=schema)


def notify_on_insert(schema: str, table: str) -> None:
    """A statement-level trigger that sends ``NOTIFY lbb_<schema>_<table>`` when rows are inserted: it
    is delivered at commit (never for a rolled-back insert), once per transaction, and wakes the
    workers of every instance that LISTENs (shared/worker.py). No extra round trip for the writer."""
    channel = channel_name(schema, table)
    function = f'"{schema}".{channel}_notify'
    op.execute(
        f"CREATE OR REPLACE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS "
        f"$$ BEGIN PERFORM pg_notify('{channel}', ''); RETURN NULL; END $$"
    )
    op.execute(
        f'CREATE TRIGGER {channel}_notify AFTER INSERT ON "{schema}"."{table}" '
        f"FOR EACH STATEMENT EXECUTE FUNCTION {function}()"
    )


def drop_notify_on_insert(schema: str, table: str) -> None:
    channel = channel_name(schema, table)
    op.execute(f'DROP TRIGGER IF EXISTS {channel}_notify ON "{schema}"."{table}"')
    op.execute(f'DROP FUNCTION IF EXISTS "{schema}".{channel}_notify()')


def wake_triggers(schema: str, *tables: str) -> Steps:
    """``upgrade`` and ``downgrade`` of a revision that adds NOTIFY triggers to ``tables``."""

    def upgrade() -> None:
        for table in tables:
            notify_on_insert(schema, table)

    def downgrade() -> None:
        for table in reversed(tables):
            drop_notify_on_insert(schema, table)

    return upgrade, downgrade


def create_applicants(schema: str) -> None:
    """The ``applicant`` projection of shared/applicants.py, in ``schema``."""
    op.create_table(
        "applicant",
        sa.Column("application_id", sa.Uuid(), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("application_id", name=op.f("pk_applicant")),
        schema=schema,
    )
    op.create_index(op.f(f"ix_{schema}_applicant_subject"), "applicant", ["subject"], unique=False, schema=schema)


def drop_applicants(schema: str) -> None:
    op.drop_index(op.f(f"ix_{schema}_applicant_subject"), table_name="applicant", schema=schema)
    op.drop_table("applicant", schema=schema)


def applicants_table(schema: str) -> Steps:
    """``upgrade`` and ``downgrade`` of the revision that adds the ``applicant`` projection."""
    return (lambda: create_applicants(schema)), (lambda: drop_applicants(schema))


def relay_lease_and_inbox_status(schema: str) -> Steps:
    """``upgrade`` and ``downgrade`` of the revision that adds the relay's lease (shared/outbox.py: one
    relay publishes at a time without a transaction open across broker I/O) and the inbox's status
    (shared/inbox.py: dead-lettered events are recorded so a redelivery skips their handler)."""

    def upgrade() -> None:
        op.create_table(
            "relay_lease",
            sa.Column("name", sa.String(length=100), primary_key=True),
            sa.Column("holder", sa.String(length=200), nullable=False),
            sa.Column("expires_at", TZ, nullable=False),
            schema=schema,
        )
        op.add_column(
            "inbox",
            sa.Column("status", sa.String(length=20), server_default=sa.text("'applied'"), nullable=False),
            schema=schema,
        )

    def downgrade() -> None:
        op.drop_column("inbox", "status", schema=schema)
        op.drop_table("relay_lease", schema=schema)

    return upgrade, downgrade
