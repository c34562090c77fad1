"""Composition root of the gateway: ``uvicorn services.gateway.main:api``. Stateless.

``create_app(settings)`` builds a gateway with the given settings (the tests build some in-process,
e.g. with dev mode off); ``api`` is the one uvicorn serves, configured from the environment.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI, Request, Response
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from services.gateway import api as routes
from services.gateway import (
    board_pages,
    collaboration,
    console,
    exports,
    forwarded,
    pages,
    privacy,
    privacy_pages,
    programme_report,
)
from services.gateway.auth import JwksKeys
from services.gateway.middleware import install_middleware
from services.gateway.settings import GatewaySettings
from services.gateway.startup import refuse_unsafe_start
from services.gateway.upstream import Upstream
from shared import tracing
from shared.identity import Assertions
from shared.observability import configure_logging, settled_heap
from shared.routing import add_routes


def readable(exc: RequestValidationError) -> str:
    """One line a person can read: ``body.capacity: Input should be greater than or equal to 2; …``."""
    parts = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error.get("loc", ()) if p != "body") or "body"
        parts.append(f"{where}: {error.get('msg', 'invalid')}")
    return "; ".join(parts)


async def _invalid(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [{k: v for k, v in e.items() if k in ("loc", "msg", "type")} for e in exc.errors()]
    return JSONResponse({"detail": readable(exc), "errors": jsonable_encoder(errors)}, status_code=422)


def not_ready(app: FastAPI, settings: GatewaySettings) -> list[str]:
    """Why this gateway cannot serve yet: not started, or no way to check a token."""
    problems = []
    if getattr(app.state, "upstream", None) is None:
        problems.append("starting")
    if not settings.dev_mode and not settings.oidc_issuer:
        problems.append("no identity provider: set OIDC_ISSUER (or DEV_MODE=true on a developer machine)")
    return problems


# The API's and the staff pages' routers, in the order their routes are matched (pages.install adds the
# sign-in and the remaining pages after them).
ROUTERS = (
    routes.router,
    forwarded.router,
    privacy.router,
    collaboration.router,
    console.router,
    board_pages.router,
    exports.router,
    privacy_pages.router,
    programme_report.router,
    programme_report.pages,
)


def create_app(settings: GatewaySettings, *, configure_logs: bool = True) -> FastAPI:
    traces = tracing.provider("gateway")  # None unless OTEL_EXPORTER_OTLP_ENDPOINT is set

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if configure_logs:
            configure_logging("gateway", settings.log_level)
        refuse_unsafe_start(settings)  # before anything is served: uvicorn exits with the message
        # What vouches for each forwarded request; without GATEWAY_SIGNING_KEY the gateway does not start.
        app.state.assertions = Assertions(settings.gateway_signing_key.get_secret_value())
        # the services, on every request (with tracing on, each call carries the request's traceparent)
        upstream = Upstream(settings.upstream_timeout_s, trace_configs=tracing.client_trace_configs(traces))
        try:
            async with httpx.AsyncClient(timeout=settings.upstream_timeout_s) as client:  # the identity provider
                app.state.upstream = upstream
                app.state.jwks = JwksKeys(settings, client) if settings.oidc_issuer else None
                with settled_heap():
                    yield
        finally:
            await upstream.close()
            if traces is not None:
                traces.shutdown()  # the spans still queued go out

    app = FastAPI(
        title="Beyond Boundaries gateway",
        version="1.0.0",
        description="The contract's HTTP API (bearer tokens) and the staff pages under /staff.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.add_exception_handler(RequestValidationError, _invalid)
    add_routes(app, *ROUTERS)
    if settings.dev_mode:  # in production the dev token route does not exist at all
        add_routes(app, routes.dev_router)
    pages.install(app)

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    @app.get("/live", include_in_schema=False)
    async def live() -> dict[str, str]:
        """Liveness: the process answers. Touches nothing else."""
        return {"status": "ok"}

    @app.get("/ready", include_in_schema=False)
    async def ready(request: Request) -> JSONResponse:
        """Readiness: this process and its own configuration, never the services behind it (their
        routes answer 502/503 while one is down; /api/health reports them)."""
        problems = not_ready(request.app, settings)
        if problems:
            return JSONResponse({"status": "not ready", "problems": problems}, status_code=503)
        return JSONResponse({"status": "ready"})

    install_middleware(app, settings)
    tracing.instrument_app(app, traces)
    return app


api = create_app(GatewaySettings())
