"""Made-up people, many at once, for the benchmarks and the tests that need a crowd.

Person ``i`` with id ``p`` is "Person i", reached at ``<p>@example.nhs.uk``: the address alone
tells whose a message is.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.notifications import commands, models
from services.notifications.domain import PERSON, Message
from shared import events as ev


def email(person_id: uuid.UUID) -> str:
    return f"{person_id}@example.nhs.uk"


def contact_recorded(person_id: uuid.UUID, i: int, organisation_id: uuid.UUID) -> ev.ContactRecorded:
    """The ContactRecorded the applications service would publish for person ``i``."""
    return ev.ContactRecorded(
        person_id=person_id,
        subject=f"person-{person_id}",
        name=f"Person {i}",
        email=email(person_id),
        job_title="Service manager",
        organisation_id=organisation_id,
        organisation_name="Partner Trust",
    )


async def add_contacts(sessions: async_sessionmaker[AsyncSession], people: list[uuid.UUID], now: datetime) -> None:
    """The notifications service's contact rows for ``people`` (each from an organisation of their own),
    written in one transaction."""
    rows = [contact_recorded(p, i, uuid.uuid4()).model_dump() | {"updated_at": now} for i, p in enumerate(people)]
    async with sessions() as s, s.begin():
        await s.execute(insert(models.Contact), rows)


async def record_submitted(s: AsyncSession, person_id: uuid.UUID, now: datetime) -> None:
    """A pending application_submitted e-mail to ``person_id``, recorded as the event handler records it."""
    message = Message(
        person_id, "application_submitted", PERSON, {"application_id": str(person_id), "organisation_code": "RC9"}
    )
    await commands.record(s, [(uuid.uuid4(), "ApplicationSubmitted", message)], now)
