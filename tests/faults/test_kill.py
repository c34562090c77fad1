"""kill -9 of a consuming service while events flow: after restart every effect is there, once."""

from __future__ import annotations

import asyncio
import signal
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from lbb.devstack import Stack
from tests.conftest import Api, eventually
from tests.e2e.test_thin_slice import ADMIN, application, organisation_ids

N = 60


async def test_notifications_killed_mid_stream_records_every_delivery_exactly_once(
    stack: Stack, api: Api, engine: AsyncEngine
) -> None:
    orgs = await organisation_ids(api)
    body = {"programme": "Faults", "name": "kill -9", "capacity": 100, "pairing_mode": "peer"}
    cohort_id = (await api.call("POST", "/api/cohorts", ADMIN, body)).json()["id"]

    async def submit(i: int) -> str:
        who = (f"k{i}-{cohort_id}", "applicant")
        answer = await api.call(
            "POST", "/api/applications", who, application(cohort_id, orgs["RD8"], f"K{i}", "clinical")
        )
        assert answer.status_code == 201, answer.text
        return str(answer.json()["id"])

    ids = [await submit(i) for i in range(N // 2)]
    killer = asyncio.get_running_loop().run_in_executor(None, stack.restart, "notifications", signal.SIGKILL)
    ids += [await submit(i) for i in range(N // 2, N)]
    await killer

    async def delivered() -> int:
        async with engine.connect() as c:
            rows: Any = await c.execute(
                text(
                    "SELECT count(*), count(DISTINCT recipient_id) FROM notifications.delivery"
                    " WHERE template = 'application_submitted' AND recipient_id = ANY(CAST(:ids AS uuid[]))"
                ),
                {"ids": ids},
            )
            total, _distinct = rows.one()
            return int(total) if total == N else 0

    assert await eventually(delivered, timeout_s=90, what=f"{N} deliveries after the restart") == N
    async with engine.connect() as c:
        dupes = await c.execute(
            text(
                "SELECT count(*) FROM (SELECT event_id FROM notifications.inbox"
                " GROUP BY event_id HAVING count(*) > 1) d"
            )
        )
        assert dupes.scalar() == 0
