"""Composition root of the pairing service: ``uvicorn services.pairing.main:api``."""

from __future__ import annotations

from services.pairing import api as routes
from services.pairing import handlers, models
from services.pairing.settings import PairingSettings
from shared.service import ServiceRuntime

__all__ = ["PairingSettings", "api", "app", "build", "runtime"]


def build(settings: PairingSettings | None = None) -> ServiceRuntime:
    settings = settings or PairingSettings()
    return ServiceRuntime.assemble(settings, models=models, handlers=handlers, api=routes)


runtime = build()
api = runtime.http_app()  # uvicorn services.pairing.main:api
app = runtime.asyncapi_app()  # faststream docs
