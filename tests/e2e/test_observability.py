"""Operators see what flows: Prometheus metrics per service and request ids on every answer."""

from __future__ import annotations

import httpx

from lbb.devstack import Stack
from tests.conftest import Api, eventually
from tests.flows import ADMIN, BOARD, application, apply, decide, endorse, organisations


async def test_services_expose_event_metrics_and_answers_carry_a_request_id(stack: Stack, api: Api) -> None:
    answer = await api.call("GET", "/api/organisations", ADMIN)
    assert answer.status_code == 200 and len(answer.headers["x-request-id"]) >= 16
    orgs = await organisations(api)
    body = {"programme": "Metrics", "name": "M1", "capacity": 10, "pairing_mode": "peer"}
    cohort_id = (await api.call("POST", "/api/cohorts", ADMIN, body)).json()["id"]
    for name, code in (("Mo", "RD8"), ("Nia", "E06000042")):
        who, organisation_id = (f"{name}-{cohort_id}", "applicant"), orgs[code]["id"]
        app_id = await apply(api, who, application(cohort_id, organisation_id, name, f"{name.lower()}@example.nhs.uk"))
        await endorse(api, app_id, organisation_id, sponsor="s")
        await decide(api, app_id, reason="ok")
    assert (await api.call("POST", f"/api/cohorts/{cohort_id}/enrol", BOARD, {})).status_code == 202

    async with httpx.AsyncClient(timeout=10) as client:

        async def metrics(service: str) -> str:
            return (await client.get(f"{stack.processes[service].url}/metrics")).text

        async def pairing_consumed() -> str:
            text = await metrics("pairing")
            wanted = 'lbb_events_consumed_total{outcome="applied",service="pairing",type="FellowEnrolled"}'
            return text if wanted in text else ""

        text = await eventually(pairing_consumed, timeout_s=60, what="pairing to count FellowEnrolled")
        assert "lbb_handler_seconds_bucket" in text and "lbb_outbox_unsent" in text
        published = await metrics("applications")
        assert 'lbb_events_published_total{service="applications",type="FellowEnrolled"}' in published
