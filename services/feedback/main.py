"""Composition root of the feedback service: ``uvicorn services.feedback.main:api``."""

from __future__ import annotations

from services.feedback import api as routes
from services.feedback import commands, handlers, models
from services.feedback.settings import FeedbackSettings
from services.feedback.worker import ReleaseScheduler
from shared.service import ServiceRuntime


def build(settings: FeedbackSettings | None = None) -> ServiceRuntime:
    """The service: its tables, handlers and routes, and the release worker while it runs."""
    settings = settings or FeedbackSettings()
    runtime = ServiceRuntime(
        settings,
        metadata=models.metadata,
        outbox=models.outbox,
        inbox=models.inbox,
        handlers=handlers.HANDLERS,
        routers=[routes.router],
    )
    scheduler = ReleaseScheduler(
        runtime.transaction, clock=commands.system_clock, interval_s=settings.feedback_release_interval_s
    )

    @runtime.on_start
    async def start_release_worker() -> None:
        scheduler.start()

    runtime.on_stop(scheduler.stop)
    return runtime


runtime = build()
api = runtime.http_app()
app = runtime.asyncapi_app()
