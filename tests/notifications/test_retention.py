"""Retention: the address an e-mail went to is forgotten 90 days on (``RETENTION_DELIVERY_ADDRESS_DAYS``),
under an injected clock; the message stays in the person's in-app inbox."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from services.notifications import commands
from tests.conftest import Api, eventually
from tests.flows import application, apply, new_cohort, organisations

KEEP = timedelta(days=90)


async def test_the_address_of_a_sent_email_is_forgotten_after_ninety_days(api: Api, engine: AsyncEngine) -> None:
    marker = uuid.uuid4().hex[:10]
    cohort = await new_cohort(api, f"Address retention {marker}")
    organisation = (await organisations(api))["RC9"]["id"]
    email = f"ret-{marker}@example.nhs.uk"
    person = uuid.UUID(
        await apply(api, (f"ret-{marker}", "applicant"), application(cohort, organisation, "Ret", email))
    )

    async def sent() -> dict[str, Any] | None:
        async with engine.connect() as c:
            found = await c.execute(
                text(
                    "SELECT id, email, title, created_at FROM notifications.delivery"
                    " WHERE recipient_id = :p AND status = 'sent'"
                ),
                {"p": person},
            )
            row = found.first()
            return dict(row._mapping) if row else None

    delivery = await eventually(sent, what="the applicant's e-mail to be sent")
    assert delivery["email"] == email

    async def purge(days_after: int) -> int:
        async with AsyncSession(engine) as s, s.begin():
            now = delivery["created_at"] + timedelta(days=days_after)
            return await commands.purge_addresses(s, now, KEEP, recipient_id=person)

    assert await purge(89) == 0
    assert await purge(91) == 1
    after = await sent()
    assert after is not None and after["email"] is None and after["title"] == delivery["title"]
    assert await purge(92) == 0
