"""Composition root of the notifications service: ``uvicorn services.notifications.main:api``."""

from __future__ import annotations

from services.notifications import api as routes
from services.notifications import commands, handlers, models
from services.notifications.mailer import Mailer
from services.notifications.settings import NotificationsSettings
from services.notifications.worker import DeliveryWorker, ReminderScheduler, utcnow
from shared.service import ServiceRuntime


def build(settings: NotificationsSettings | None = None) -> ServiceRuntime:
    settings = settings or NotificationsSettings()
    runtime = ServiceRuntime(
        settings,
        metadata=models.metadata,
        outbox=models.outbox,
        inbox=models.inbox,
        handlers=handlers.HANDLERS,
        routers=[routes.router],
    )
    mailer = Mailer(settings.smtp())
    worker = DeliveryWorker(lambda: runtime.sessions, mailer, settings.delivery())
    scheduler = ReminderScheduler(lambda: runtime.sessions, utcnow, settings.reminder_poll_interval_s)
    commands.on_recorded(worker.wake)

    @runtime.on_start
    async def start_background_work() -> None:
        worker.start()
        scheduler.start()

    @runtime.on_stop
    async def stop_background_work() -> None:
        await scheduler.stop()
        await worker.stop()
        await mailer.close()

    return runtime


runtime = build()
api = runtime.http_app()
app = runtime.asyncapi_app()
