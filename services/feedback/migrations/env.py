"""Alembic environment of the feedback service: its own schema, its own version table."""

from services.feedback.models import metadata
from shared.migrations import run_env

run_env(metadata)
