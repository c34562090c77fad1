"""Composition root of the feedback service: ``uvicorn services.feedback.main:api``."""

from __future__ import annotations

from services.feedback import api as routes
from services.feedback import commands, handlers, models
from services.feedback.settings import FeedbackSettings
from services.feedback.worker import check_in_worker, release_worker
from shared.service import ServiceRuntime


def build(settings: FeedbackSettings | None = None) -> ServiceRuntime:
    """The service: its tables, handlers and routes, and the release worker while it runs."""
    settings = settings or FeedbackSettings()
    runtime = ServiceRuntime.assemble(settings, models=models, handlers=handlers, api=routes)
    runtime.add_worker(
        release_worker(
            runtime.transaction, clock=commands.system_clock, interval_s=settings.feedback_release_interval_s
        )
    )
    interval_s = settings.collaboration_check_in_interval_s
    runtime.add_worker(check_in_worker(runtime.transaction, clock=commands.system_clock, interval_s=interval_s))
    return runtime


runtime = build()
api = runtime.http_app()
app = runtime.asyncapi_app()
