"""Composition root of the pairing service: ``uvicorn services.pairing.main:api``."""

from __future__ import annotations

import asyncio
import logging

from services.pairing import api as routes
from services.pairing import capacity, handlers, models
from services.pairing.settings import PairingSettings
from shared.service import ServiceRuntime

__all__ = ["PairingSettings", "api", "app", "build", "runtime"]

log = logging.getLogger(__name__)


def build(settings: PairingSettings | None = None) -> ServiceRuntime:
    settings = settings or PairingSettings()
    runtime = ServiceRuntime.assemble(settings, models=models, handlers=handlers, api=routes)

    @runtime.on_start
    async def compile_the_matcher() -> None:  # before it is ready: the first round does not wait for numba
        seconds = await asyncio.to_thread(capacity.warm)
        log.info("capacity matcher compiled in %.1fs", seconds)

    return runtime


runtime = build()
api = runtime.http_app()  # uvicorn services.pairing.main:api
app = runtime.asyncapi_app()  # faststream docs
