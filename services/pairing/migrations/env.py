"""Alembic environment of the pairing service: its own schema, its own version table."""

from services.pairing.models import metadata
from shared.migrations import run_env

run_env(metadata)
