"""Settings of the feedback service (environment variables, pydantic-settings)."""

from __future__ import annotations

from datetime import timedelta
from typing import cast

from pydantic import Field

from services.feedback.models import SCHEMA
from shared.settings import ServiceSettings


class FeedbackSettings(ServiceSettings):
    service_name: str = "feedback"
    db_schema: str = SCHEMA
    # Off the request's path (projections): a fetch gathers up to 64 KiB or 250 ms, so one transaction
    # applies a run of ContactRecorded instead of one each (docs/decisions/0013).
    kafka_fetch_min_bytes: int = 1 << 16
    kafka_fetch_max_wait_ms: int = 250
    feedback_due_days: float = Field(default=14, gt=0, description="Days after the exchange that feedback is due")
    feedback_edit_window_hours: float = Field(
        default=48, ge=0, description="How long after submitting a fellow may correct their unreleased feedback"
    )
    feedback_release_interval_s: float = Field(
        default=10, gt=0, description="How often the scheduler looks for pairs past their due date"
    )
    collaboration_check_in_interval_s: float = Field(
        default=300, gt=0, description="How often the scheduler looks for collaboration check-ins that fell due"
    )

    @property
    def due_after(self) -> timedelta:
        return timedelta(days=self.feedback_due_days)

    @property
    def edit_window(self) -> timedelta:
        return timedelta(hours=self.feedback_edit_window_hours)


def of(settings: ServiceSettings) -> FeedbackSettings:
    """The runtime's (or a handler context's) settings, as this service built them."""
    return cast(FeedbackSettings, settings)
