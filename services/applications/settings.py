"""Settings of the applications service (environment variables, pydantic-settings)."""

from __future__ import annotations

from pydantic import Field

from services.applications.models import SCHEMA
from shared.settings import ServiceSettings


class ApplicationsSettings(ServiceSettings):
    service_name: str = "applications"
    db_schema: str = SCHEMA
    # Add the BLMK partner organisations at start (demo data; `lbb dev` sets SEED_DEMO_DATA=true).
    seed_demo_data: bool = False
    # Applications that were never enrolled are anonymised this long after their cohort closed.
    retention_unenrolled_days: float = Field(default=365, gt=0)
