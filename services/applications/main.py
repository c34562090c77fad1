"""Composition root of the applications service: ``uvicorn services.applications.main:api``."""

from __future__ import annotations

from services.applications import api as routes
from services.applications import models, staff
from services.applications.seed import seed_organisations
from shared.service import ServiceRuntime
from shared.settings import ServiceSettings


class ApplicationsSettings(ServiceSettings):
    service_name: str = "applications"
    db_schema: str = models.SCHEMA
    seed_demo_data: bool = False


settings = ApplicationsSettings()
runtime = ServiceRuntime(settings, metadata=models.metadata, outbox=models.outbox, inbox=models.inbox)
api = runtime.http_app(routes.router, staff.router)
app = runtime.asyncapi_app()


@runtime.on_start
async def _seed_demo_data() -> None:
    if settings.seed_demo_data:
        async with runtime.transaction() as s:
            await seed_organisations(s)
