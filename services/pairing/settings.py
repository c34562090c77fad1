"""Settings of the pairing service, from the environment (``PAIRING_WEIGHTS__DIFFERENT_SECTOR=5``, say)."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from services.pairing.domain import Weights
from services.pairing.models import SCHEMA
from shared.settings import ServiceSettings


class PairingSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_nested_delimiter="__", extra="ignore")

    service_name: str = "pairing"
    db_schema: str = SCHEMA
    pairing_weights: Weights = Weights()  # e.g. PAIRING_WEIGHTS__DIFFERENT_SECTOR=5
