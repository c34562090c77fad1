"""Composition root of the applications service: ``uvicorn services.applications.main:api``."""

from __future__ import annotations

from datetime import timedelta
from functools import partial

from services.applications import api as routes
from services.applications import commands, handlers, models
from services.applications.settings import ApplicationsSettings
from shared.retention import retention_worker
from shared.service import ServiceRuntime


def build(settings: ApplicationsSettings | None = None) -> ServiceRuntime:
    settings = settings or ApplicationsSettings()
    runtime = ServiceRuntime.assemble(settings, models=models, handlers=handlers, api=routes)
    purge = partial(commands.purge_expired, keep=timedelta(days=settings.retention_unenrolled_days))
    interval_s = settings.retention_sweep_interval_s
    runtime.add_worker(retention_worker("applications", runtime.transaction, purge, interval_s=interval_s))
    if settings.seed_demo_data:

        @runtime.on_start
        async def _seed_demo_data() -> None:
            async with runtime.transaction() as s:
                await commands.seed_organisations(s)

    return runtime


runtime = build()
api = runtime.http_app()
app = runtime.asyncapi_app()
