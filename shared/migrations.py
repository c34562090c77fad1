"""Alembic per service: each service migrates its own schema and keeps its own version table."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command, context
from alembic.config import Config
from sqlalchemy import MetaData, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

import services

SERVICES_DIR = Path(services.__file__).resolve().parent
SCHEMA_SERVICES = ("applications", "pairing", "feedback", "notifications")


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
        engine = create_async_engine(url, poolclass=NullPool)
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
