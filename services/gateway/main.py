"""Composition root of the gateway: ``uvicorn services.gateway.main:api``. Stateless."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI

from services.gateway import api as routes
from services.gateway.settings import GatewaySettings
from shared.observability import configure_logging
from shared.service import install_observability

settings = GatewaySettings()


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    configure_logging("gateway", settings.log_level)
    app.state.settings = settings
    async with httpx.AsyncClient(timeout=settings.upstream_timeout_s) as client:
        app.state.http = client
        yield


api = FastAPI(title="Beyond Boundaries gateway", version="1.0.0", lifespan=lifespan)
api.include_router(routes.router)
install_observability(api)
