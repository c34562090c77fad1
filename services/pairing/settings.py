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
    # Off the request's path (projections, rounds the board waits minutes for): a fetch gathers up to
    # 64 KiB or 250 ms, so one transaction applies a run of ContactRecorded (docs/decisions/0013).
    kafka_fetch_min_bytes: int = 1 << 16
    kafka_fetch_max_wait_ms: int = 250
    pairing_weights: Weights = Weights()  # e.g. PAIRING_WEIGHTS__DIFFERENT_SECTOR=5
