"""Once pairing has published a cohort's pairs (PairAssigned), the applications service itself refuses
another pairing round with 409."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from lbb.devstack import Stack
from services.applications import handlers, models
from services.applications.settings import ApplicationsSettings
from shared import events as ev
from shared.consumer import Context
from shared.envelope import wrap
from shared.identity import Caller
from tests.applications.test_applications_api import BOARD, decide, endorsed, new_cohort, orgs
from tests.conftest import Api, eventually, vouch

PUBLISHED = "the pairs of this cohort are already published"


async def two_fellows(api: Api, **cohort: Any) -> tuple[str, list[str]]:
    """A cohort with two enrolled fellows from different organisations."""
    codes = await orgs(api)
    cohort_id = await new_cohort(api, **cohort)
    fellows = []
    for code in ("RC9", "E06000032"):
        application_id, _ = await endorsed(api, cohort_id, codes[code])
        await decide(api, application_id, "shortlist")
        fellows.append(application_id)
    enrolled = await api.call("POST", f"/api/cohorts/{cohort_id}/enrol", BOARD, {})
    assert sorted(enrolled.json()["enrolled"]) == sorted(fellows), enrolled.text
    return cohort_id, fellows


def pair_assigned(cohort_id: str, fellows: list[str], at: datetime) -> ev.PairAssigned:
    return ev.PairAssigned(
        pair_id=uuid.uuid4(),
        cohort_id=uuid.UUID(cohort_id),
        fellow_ids=[uuid.UUID(f) for f in fellows],
        organisation_codes=["RC9", "E06000032"],
        score=1.0,
        reasons=["different sector"],
        assigned_at=at,
    )


async def published_at(engine: AsyncEngine, cohort_id: str) -> datetime | None:
    async with engine.connect() as db:
        found: datetime | None = await db.scalar(
            text("SELECT pairs_published_at FROM applications.cohort WHERE id = :c"), {"c": cohort_id}
        )
        return found


async def test_a_pairing_round_is_refused_after_pair_assigned_is_applied(api: Api, engine: AsyncEngine) -> None:
    cohort_id, fellows = await two_fellows(api)
    # Before: the round is asked for (pairing proposes pairs, not published: the gateway lets a re-run through).
    assert (await api.call("POST", f"/api/cohorts/{cohort_id}/pairing", BOARD, {})).status_code == 202

    sessions = async_sessionmaker(engine, expire_on_commit=False)
    first = datetime(2026, 11, 24, 9, tzinfo=UTC)
    apply = handlers.HANDLERS[ev.PairAssigned]
    for at in (first, first + timedelta(hours=1)):  # one PairAssigned a pair; the first one counts
        event = pair_assigned(cohort_id, fellows, at)
        async with sessions() as s, s.begin():
            await apply(Context(s, wrap(event, "pairing"), models.outbox, ApplicationsSettings()), event)
    assert await published_at(engine, cohort_id) == first

    again = await api.call("POST", f"/api/cohorts/{cohort_id}/pairing", BOARD, {})
    assert again.status_code == 409 and again.json()["detail"] == PUBLISHED, again.text


async def test_published_pairs_reach_the_applications_service_through_its_consumer(
    api: Api, engine: AsyncEngine, stack: Stack
) -> None:
    cohort_id, _ = await two_fellows(api, auto_publish=True)
    assert (await api.call("POST", f"/api/cohorts/{cohort_id}/pairing", BOARD, {})).status_code == 202

    async def recorded() -> datetime | None:
        return await published_at(engine, cohort_id)

    await eventually(recorded, what="PairAssigned from pairing consumed by the applications service")
    # Straight to the service, not through the gateway (which also asks pairing): its own refusal.
    service = stack.processes["applications"].url
    async with httpx.AsyncClient(base_url=service) as client:
        refused = await client.post(
            f"/cohorts/{cohort_id}/pairing", json={}, headers=vouch(stack, "applications", Caller(*BOARD))
        )
    assert refused.status_code == 409 and refused.json()["detail"] == PUBLISHED, refused.text
