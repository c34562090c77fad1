"""Composition root of the pairing service: ``uvicorn services.pairing.main:api``."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from services.pairing import api as routes
from services.pairing import models, staff
from services.pairing.domain import Weights
from services.pairing.handlers import make_handlers
from shared.service import ServiceRuntime
from shared.settings import ServiceSettings


class PairingSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_nested_delimiter="__", extra="ignore")

    service_name: str = "pairing"
    db_schema: str = models.SCHEMA
    pairing_weights: Weights = Weights()  # e.g. PAIRING_WEIGHTS__DIFFERENT_SECTOR=5


settings = PairingSettings()
runtime = ServiceRuntime(
    settings,
    metadata=models.metadata,
    outbox=models.outbox,
    inbox=models.inbox,
    handlers=make_handlers(settings.pairing_weights),
)
api = runtime.http_app(routes.router, staff.router)
api.state.weights = settings.pairing_weights
app = runtime.asyncapi_app()
