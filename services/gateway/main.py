"""Composition root of the gateway: ``uvicorn services.gateway.main:api``. Stateless."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI, Request, Response

from services.gateway import api as routes
from services.gateway.settings import GatewaySettings

settings = GatewaySettings()


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    app.state.settings = settings
    async with httpx.AsyncClient(timeout=settings.upstream_timeout_s) as client:
        app.state.http = client
        yield


api = FastAPI(title="Beyond Boundaries gateway", version="1.0.0", lifespan=lifespan)
api.include_router(routes.router)


@api.middleware("http")
async def request_id(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
    request.state.request_id = request.headers.get("x-request-id") or uuid.uuid4().hex
    response = await call_next(request)
    response.headers["X-Request-Id"] = request.state.request_id
    return response
