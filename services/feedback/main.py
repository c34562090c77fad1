"""Composition root of the feedback service: ``uvicorn services.feedback.main:api``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from fastapi import FastAPI
from pydantic import Field

from services.feedback import api as routes
from services.feedback import models
from services.feedback.handlers import make_handlers
from services.feedback.release import ReleaseScheduler, system_clock
from shared.service import ServiceRuntime
from shared.settings import ServiceSettings


class FeedbackSettings(ServiceSettings):
    service_name: str = "feedback"
    db_schema: str = models.SCHEMA
    feedback_due_days: float = Field(default=14, gt=0, description="Days after the exchange that feedback is due")
    feedback_edit_window_hours: float = Field(
        default=48, ge=0, description="How long after submitting a fellow may correct their unreleased feedback"
    )
    feedback_release_interval_s: float = Field(
        default=10, gt=0, description="How often the scheduler looks for pairs past their due date"
    )


settings = FeedbackSettings()
runtime = ServiceRuntime(
    settings,
    metadata=models.metadata,
    outbox=models.outbox,
    inbox=models.inbox,
    handlers=make_handlers(timedelta(days=settings.feedback_due_days)),
)
api = runtime.http_app(routes.router)
api.state.feedback = routes.FeedbackConfig(
    edit_window=timedelta(hours=settings.feedback_edit_window_hours), clock=system_clock
)
scheduler = ReleaseScheduler(runtime.transaction, clock=system_clock, interval_s=settings.feedback_release_interval_s)
_runtime_lifespan = api.router.lifespan_context


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    """The runtime's lifespan, plus the release scheduler while the service runs."""
    async with _runtime_lifespan(app), scheduler.running():
        yield


api.router.lifespan_context = _lifespan
app = runtime.asyncapi_app()
