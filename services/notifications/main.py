"""Composition root of the notifications service: ``uvicorn services.notifications.main:api``."""

from __future__ import annotations

from services.notifications import api as routes
from services.notifications import models
from services.notifications.handlers import HANDLERS
from shared.service import ServiceRuntime
from shared.settings import ServiceSettings


class NotificationsSettings(ServiceSettings):
    service_name: str = "notifications"
    db_schema: str = models.SCHEMA


settings = NotificationsSettings()
runtime = ServiceRuntime(
    settings, metadata=models.metadata, outbox=models.outbox, inbox=models.inbox, handlers=HANDLERS
)
api = runtime.http_app(routes.router)
app = runtime.asyncapi_app()
