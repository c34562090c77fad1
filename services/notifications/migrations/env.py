"""Alembic environment of the notifications service: its own schema, its own version table."""

from services.notifications.models import metadata
from shared.migrations import run_env

run_env(metadata)
