"""Configuration of the notifications service: environment variables, and the values built from them
for the delivery worker, the SMTP client and the reminder rules."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from pydantic import Field

from services.notifications import models
from services.notifications.mailer import SmtpConfig
from services.notifications.reminders import ReminderRules
from shared.settings import ServiceSettings


@dataclass(frozen=True)
class DeliveryConfig:
    """What the delivery commands and the delivery worker go by."""

    max_attempts: int = 5
    retry_base_s: float = 30.0
    retry_max_s: float = 3600.0
    lease_s: float = 120.0
    recover_interval_s: float = 5.0  # how often an instance looks for expired claims (≪ lease_s)
    claim_linger_s: float = 0.005  # woken by a new delivery: wait this long so that one claim takes several
    contact_wait_s: float = 600.0  # how long to wait for a recipient's contact details to arrive
    # A contact usually arrives within milliseconds of the event (it comes on another topic), so the
    # first looks are quick; the longer a delivery has waited, the longer the next wait, up to this.
    contact_retry_s: float = 2.0
    contact_retry_first_s: float = 0.1
    batch_size: int = 20
    concurrency: int = 8
    poll_interval_s: float = 0.5
    message_id_domain: str = "beyond-boundaries.nhs.uk"
    sender: str = "Beyond Boundaries <no-reply@beyond-boundaries.nhs.uk>"
    inbox_url: str = "http://127.0.0.1:8000/api/notifications"
    site_url: str = "http://127.0.0.1:8000"


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

    # Retention: the address a settled delivery went to is forgotten after this long.
    retention_delivery_address_days: float = Field(default=90, gt=0)

    # Reminders
    reminder_poll_interval_s: float = Field(default=60.0, gt=0)
    reminder_visit_unscheduled_days: float = 21
    reminder_visit_uncompleted_days: float = 2
    reminder_feedback_days_before_due: float = 3
    reminder_check_in_again_days: float = 14  # a mentoring check-in not answered: asked once more after this
    reminder_milestone_days_before_due: float = 7

    def reminder_rules(self) -> ReminderRules:
        return ReminderRules(
            visit_unscheduled_after=timedelta(days=self.reminder_visit_unscheduled_days),
            visit_uncompleted_after=timedelta(days=self.reminder_visit_uncompleted_days),
            feedback_before_due=timedelta(days=self.reminder_feedback_days_before_due),
            check_in_again_after=timedelta(days=self.reminder_check_in_again_days),
            milestone_before_due=timedelta(days=self.reminder_milestone_days_before_due),
        )

    def delivery(self) -> DeliveryConfig:
        return DeliveryConfig(
            max_attempts=self.delivery_max_attempts,
            retry_base_s=self.delivery_retry_base_s,
            retry_max_s=self.delivery_retry_max_s,
            lease_s=self.delivery_lease_s,
            recover_interval_s=self.delivery_recover_interval_s,
            contact_wait_s=self.contact_wait_s,
            batch_size=self.delivery_batch_size,
            concurrency=self.delivery_concurrency,
            poll_interval_s=self.delivery_poll_interval_s,
            message_id_domain=self.message_id_domain,
            sender=self.smtp_from,
            inbox_url=f"{self.public_url.rstrip('/')}/api/notifications",
            site_url=self.public_url.rstrip("/"),
        )

    def smtp(self) -> SmtpConfig:
        return SmtpConfig(
            host=self.smtp_host,
            port=self.smtp_port,
            sender=self.smtp_from,
            timeout_s=self.smtp_timeout_s,
            use_tls=self.smtp_use_tls,
            start_tls=self.smtp_starttls,
            username=self.smtp_username,
            password=self.smtp_password,
            max_idle=self.delivery_concurrency,
            idle_s=self.smtp_idle_s,
        )
