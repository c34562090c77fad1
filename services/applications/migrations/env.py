"""Alembic environment of the applications service: its own schema, its own version table."""

from services.applications.models import metadata
from shared.migrations import run_env

run_env(metadata)
