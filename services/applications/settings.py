"""Settings of the applications service (environment variables, pydantic-settings)."""

from __future__ import annotations

from services.applications.models import SCHEMA
from shared.settings import ServiceSettings


class ApplicationsSettings(ServiceSettings):
    service_name: str = "applications"
    db_schema: str = SCHEMA
    # Add the BLMK partner organisations at start (demo data; `lbb dev` sets SEED_DEMO_DATA=true).
    seed_demo_data: bool = False
