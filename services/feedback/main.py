"""Composition root of the feedback service: ``uvicorn services.feedback.main:api``."""

from __future__ import annotations

from datetime import timedelta

from services.feedback import api as routes
from services.feedback import models
from services.feedback.handlers import make_handlers
from shared.service import ServiceRuntime
from shared.settings import ServiceSettings


class FeedbackSettings(ServiceSettings):
    service_name: str = "feedback"
    db_schema: str = models.SCHEMA
    feedback_due_days: int = 14


settings = FeedbackSettings()
runtime = ServiceRuntime(
    settings,
    metadata=models.metadata,
    outbox=models.outbox,
    inbox=models.inbox,
    handlers=make_handlers(timedelta(days=settings.feedback_due_days)),
)
api = runtime.http_app(routes.router)
app = runtime.asyncapi_app()
