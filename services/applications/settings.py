"""Settings of the applications service (environment variables, pydantic-settings)."""

from __future__ import annotations

import secrets

from pydantic import Field, PrivateAttr, SecretStr

from services.applications.models import SCHEMA
from shared.settings import ServiceSettings

MIN_KEY_LENGTH = 32


class ApplicationsSettings(ServiceSettings):
    service_name: str = "applications"
    db_schema: str = SCHEMA
    # Add the BLMK partner organisations at start (demo data; `lbb dev` sets SEED_DEMO_DATA=true).
    seed_demo_data: bool = False
    # Applications that were never enrolled are anonymised this long after their cohort closed.
    retention_unenrolled_days: float = Field(default=365, gt=0)
    # The key of FellowEnrolled.person_id (HMAC-SHA256 of the e-mail address): held by this service
    # alone, required outside dev mode, at least 32 characters. Changing it changes every person id
    # (earlier pairings are then no longer recognised across cohorts).
    person_id_key: SecretStr | None = None
    _dev_key: bytes = PrivateAttr(default_factory=lambda: secrets.token_bytes(32))

    def person_key(self) -> bytes:
        """The person id key; in dev mode without PERSON_ID_KEY a random one for this process."""
        key = self.person_id_key.get_secret_value() if self.person_id_key is not None else ""
        if key:
            if len(key) < MIN_KEY_LENGTH:
                raise ValueError(f"PERSON_ID_KEY must be at least {MIN_KEY_LENGTH} characters")
            return key.encode()
        if not self.dev_mode:
            raise ValueError("PERSON_ID_KEY is required outside dev mode (the key of the person pseudonym)")
        return self._dev_key
