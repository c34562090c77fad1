"""The retention sweep's transaction script (shared/retention.py runs it)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.applications import domain
from services.applications.models import Application, Cohort, Decision
from shared.retention import BATCH

# --- retention (shared/retention.py runs it) --------------------------------------------------------


async def purge_expired(
    s: AsyncSession, now: datetime, keep: timedelta, limit: int = BATCH, cohort_id: uuid.UUID | None = None
) -> int:
    """Anonymise one batch of applications never enrolled whose cohort closed more than ``keep`` ago
    (of one cohort, or all); the board's reasons for their decisions go too. Returns how many."""
    query = (
        select(Application.id)
        .join(Cohort, Cohort.id == Application.cohort_id)
        .where(
            Application.erased_at.is_(None),
            Application.state != domain.ENROLLED,
            Cohort.closes_at.is_not(None),
            Cohort.closes_at <= now - keep,
        )
        .limit(limit)
        .with_for_update(of=Application, skip_locked=True)
    )
    if cohort_id is not None:
        query = query.where(Application.cohort_id == cohort_id)
    expired = (await s.scalars(query)).all()
    for application_id in expired:
        await s.execute(
            update(Application).where(Application.id == application_id).values(domain.anonymised(application_id, now))
        )
    if expired:
        await s.execute(update(Decision).where(Decision.application_id.in_(expired)).values(reason=None))
    return len(expired)
