"""Composition root of the notifications service: ``uvicorn services.notifications.main:api``."""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field

from services.notifications import api as routes
from services.notifications import models, store
from services.notifications.delivery import DeliveryConfig, DeliveryWorker, utcnow
from services.notifications.domain import ReminderRules
from services.notifications.handlers import make_handlers
from services.notifications.mailer import Mailer, SmtpConfig
from services.notifications.reminders import ReminderScheduler
from shared.service import ServiceRuntime
from shared.settings import ServiceSettings


class NotificationsSettings(ServiceSettings):
    service_name: str = "notifications"
    db_schema: str = models.SCHEMA

    # SMTP (docker-compose: Mailpit; `lbb dev` and the tests: a local aiosmtpd sink)
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 25
    smtp_from: str = "Beyond Boundaries <no-reply@beyond-boundaries.nhs.uk>"
    smtp_username: str = ""
    smtp_password: str = ""
    smtp_use_tls: bool = False
    smtp_starttls: bool = False
    smtp_timeout_s: float = Field(default=10.0, gt=0)
    smtp_idle_s: float = Field(default=30.0, gt=0)  # an open connection waits this long for the next e-mail
    message_id_domain: str = "beyond-boundaries.nhs.uk"
    public_url: str = "http://127.0.0.1:8000"

    # Delivery: retries with exponential backoff, then NotificationFailed
    delivery_max_attempts: int = Field(default=5, gt=0)
    delivery_retry_base_s: float = Field(default=30.0, gt=0)
    delivery_retry_max_s: float = Field(default=3600.0, gt=0)
    delivery_lease_s: float = Field(default=120.0, gt=0)  # > one SMTP exchange (several timeouts)
    delivery_recover_interval_s: float = Field(default=5.0, gt=0)  # looking for expired leases
    delivery_poll_interval_s: float = Field(default=0.5, gt=0)
    delivery_batch_size: int = Field(default=20, gt=0)
    delivery_concurrency: int = Field(default=8, gt=0)
    contact_wait_s: float = Field(default=600.0, gt=0)

    # Reminders
    reminder_poll_interval_s: float = Field(default=60.0, gt=0)
    reminder_visit_unscheduled_days: float = 21
    reminder_visit_uncompleted_days: float = 2
    reminder_feedback_days_before_due: float = 3

    def reminder_rules(self) -> ReminderRules:
        return ReminderRules(
            visit_unscheduled_after=timedelta(days=self.reminder_visit_unscheduled_days),
            visit_uncompleted_after=timedelta(days=self.reminder_visit_uncompleted_days),
            feedback_before_due=timedelta(days=self.reminder_feedback_days_before_due),
        )


settings = NotificationsSettings()
runtime = ServiceRuntime(
    settings,
    metadata=models.metadata,
    outbox=models.outbox,
    inbox=models.inbox,
    handlers=make_handlers(settings.reminder_rules()),
)
mailer = Mailer(
    SmtpConfig(
        host=settings.smtp_host,
        port=settings.smtp_port,
        sender=settings.smtp_from,
        timeout_s=settings.smtp_timeout_s,
        use_tls=settings.smtp_use_tls,
        start_tls=settings.smtp_starttls,
        username=settings.smtp_username,
        password=settings.smtp_password,
        max_idle=settings.delivery_concurrency,
        idle_s=settings.smtp_idle_s,
    )
)
worker = DeliveryWorker(
    lambda: runtime.sessions,
    models.outbox,
    mailer,
    DeliveryConfig(
        max_attempts=settings.delivery_max_attempts,
        retry_base_s=settings.delivery_retry_base_s,
        retry_max_s=settings.delivery_retry_max_s,
        lease_s=settings.delivery_lease_s,
        recover_interval_s=settings.delivery_recover_interval_s,
        contact_wait_s=settings.contact_wait_s,
        batch_size=settings.delivery_batch_size,
        concurrency=settings.delivery_concurrency,
        poll_interval_s=settings.delivery_poll_interval_s,
        message_id_domain=settings.message_id_domain,
        sender=settings.smtp_from,
        inbox_url=f"{settings.public_url.rstrip('/')}/api/notifications",
    ),
)
scheduler = ReminderScheduler(lambda: runtime.sessions, utcnow, settings.reminder_poll_interval_s)
store.on_recorded(worker.wake)


@runtime.on_start
async def start_background_work() -> None:
    worker.start()
    scheduler.start()


@runtime.on_stop
async def stop_background_work() -> None:
    await scheduler.stop()
    await worker.stop()
    await mailer.close()


api = runtime.http_app(routes.router)
app = runtime.asyncapi_app()
