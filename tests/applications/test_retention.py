"""Retention: applications that never became fellows are anonymised a year after their cohort closed
(``RETENTION_UNENROLLED_DAYS``), under an injected clock; fellows and open cohorts are kept."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from services.applications import commands
from tests.conftest import Api
from tests.flows import ADMIN, application, apply, decide, endorse, new_cohort, organisations

KEEP = timedelta(days=365)


async def row(engine: AsyncEngine, application_id: str) -> dict[str, Any]:
    async with engine.connect() as c:
        found = await c.execute(
            text(
                "SELECT a.name, a.email, a.job_title, a.statement, a.equality, a.owner_sub, a.state, a.erased_at,"
                " (SELECT array_agg(d.reason) FROM applications.decision d WHERE d.application_id = a.id) AS reasons"
                " FROM applications.application a WHERE a.id = :id"
            ),
            {"id": application_id},
        )
        return dict(found.one()._mapping)


async def purge(engine: AsyncEngine, now: datetime, cohort: str) -> int:
    """The purge of these cohorts' applications (other tests' stay), batch after batch until one comes
    back short, as the worker runs it."""
    total = 0
    while True:
        async with AsyncSession(engine) as s, s.begin():
            n = await commands.purge_expired(s, now, KEEP, limit=1, cohort_id=uuid.UUID(cohort))
        total += n
        if n < 1:
            return total


async def test_applications_never_enrolled_are_anonymised_a_year_after_their_cohort_closed(
    api: Api, engine: AsyncEngine
) -> None:
    organisation = (await organisations(api))["RC9"]["id"]
    marker = uuid.uuid4().hex[:10]
    closed, still_open = await new_cohort(api, f"Retention {marker}"), await new_cohort(api, f"Open {marker}")

    async def applicant(cohort: str, who: str, decision: str) -> str:
        form = application(
            cohort,
            organisation,
            f"Name {marker} {who}",
            f"{who}-{marker}@example.nhs.uk",
            equality={"consent": True, "ethnicity": "asian"},
        )
        application_id = await apply(api, (f"{who}-{marker}", "applicant"), form)
        await endorse(api, application_id, organisation)
        await decide(api, application_id, decision, reason=f"reason {marker}")
        return application_id

    declined = await applicant(closed, "dee", "decline")
    shortlisted = await applicant(closed, "sam", "shortlist")
    enrolled = (await api.call("POST", f"/api/cohorts/{closed}/enrol", ("bea", "board"), {})).json()["enrolled"]
    assert enrolled == [shortlisted]
    waiting_elsewhere = await applicant(still_open, "wen", "waitlist")
    assert (await api.call("POST", f"/api/cohorts/{closed}/close", ADMIN, {})).status_code == 202
    closed_at = datetime.fromisoformat((await api.call("GET", f"/api/cohorts/{closed}", ADMIN)).json()["closes_at"])

    assert await purge(engine, closed_at + KEEP - timedelta(days=1), closed) == 0  # a day early: nothing goes
    assert (await row(engine, declined))["erased_at"] is None

    assert await purge(engine, closed_at + KEEP + timedelta(days=1), closed) == 1  # the declined one
    gone = await row(engine, declined)
    assert gone["erased_at"] is not None and gone["state"] == "declined"  # the counts still add up
    assert marker not in str({k: v for k, v in gone.items() if k != "erased_at"})  # nothing that names them
    assert gone["equality"] is None and gone["reasons"] == [None, None]  # endorsement and decision, no reason
    for kept in (shortlisted, waiting_elsewhere):  # a fellow; an application to a cohort still open
        assert (await row(engine, kept))["name"].startswith(f"Name {marker}")
    assert await purge(engine, closed_at + KEEP + timedelta(days=2), closed) == 0  # done once
    assert await purge(engine, closed_at + KEEP * 5, still_open) == 0  # a cohort still open keeps them
