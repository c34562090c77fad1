"""Composition root of the notifications service: ``uvicorn services.notifications.main:api``."""

from __future__ import annotations

from datetime import timedelta
from functools import partial

from services.notifications import api as routes
from services.notifications import commands, handlers, models
from services.notifications.mailer import Mailer
from services.notifications.settings import NotificationsSettings
from services.notifications.worker import DeliveryWorker, reminder_worker
from shared.clock import utcnow
from shared.retention import retention_worker
from shared.service import ServiceRuntime


def build(settings: NotificationsSettings | None = None) -> ServiceRuntime:
    settings = settings or NotificationsSettings()
    runtime = ServiceRuntime.assemble(settings, models=models, handlers=handlers, api=routes)
    mailer = Mailer(settings.smtp())
    delivery = DeliveryWorker(lambda: runtime.sessions, mailer, settings.delivery(), tracer=runtime.tracer)
    runtime.add_worker(delivery.loop)
    runtime.add_worker(reminder_worker(lambda: runtime.sessions, utcnow, settings.reminder_poll_interval_s))
    purge = partial(commands.purge_addresses, keep=timedelta(days=settings.retention_delivery_address_days))
    interval_s = settings.retention_sweep_interval_s
    runtime.add_worker(retention_worker("notifications", runtime.transaction, purge, interval_s=interval_s))

    @runtime.on_stop
    async def finish_deliveries() -> None:
        """The sends in flight finish and are recorded before the service stops."""
        await delivery.stop()
        await mailer.close()

    return runtime


runtime = build()
api = runtime.http_app()
app = runtime.asyncapi_app()
