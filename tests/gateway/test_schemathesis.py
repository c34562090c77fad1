"""Generated requests for every operation of the gateway's /openapi.json: none answers a 5xx.

Bounded (a few examples per operation) so the run stays well under two minutes. Authenticated in
turn as a board member, an applicant and a sponsor, or as an admin for the admin-only writes that
leave nothing behind that other tests would notice (staff contacts are left to the other tokens, so
no made-up board member starts receiving the suite's e-mails).
"""

from __future__ import annotations

import itertools
import uuid
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from lbb.devstack import Stack

ADMIN_OPERATIONS = {
    ("POST", "/api/organisations"),
    ("POST", "/api/cohorts"),
    ("POST", "/api/cohorts/{cohort_id}/close"),
    ("GET", "/api/notifications/staff-contacts"),
    ("DELETE", "/api/notifications/staff-contacts/{staff_id}"),
    ("GET", "/api/notifications/deliveries/unconfirmed"),
    ("POST", "/api/notifications/deliveries/{delivery_id}/resend"),
}


@pytest.fixture(scope="session")
def gateway_contract(stack: Stack) -> Any:
    return schemathesis.openapi.from_url(f"{stack.gateway_url}/openapi.json")


@pytest.fixture(scope="session")
def generated_tokens(stack: Stack) -> dict[str, str]:
    tokens = {}
    organisation = str(uuid.UUID(int=11))  # a sponsor of an organisation that has no applications
    for role in ("board", "admin", "applicant", "sponsor"):
        body = {"sub": f"schemathesis-{role}", "role": role, "organisation_id": organisation}
        answer = httpx.post(f"{stack.gateway_url}/api/dev/token", json=body)
        assert answer.status_code == 200, answer.text
        tokens[role] = answer.json()["token"]
    return tokens


TURNS = itertools.cycle(("board", "applicant", "sponsor"))


schema = schemathesis.pytest.from_fixture("gateway_contract")


@schema.parametrize()
@settings(max_examples=20, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_no_generated_request_gets_a_server_error(
    case: schemathesis.Case, generated_tokens: dict[str, str], stack: Stack
) -> None:
    role = "admin" if (case.method.upper(), case.path) in ADMIN_OPERATIONS else next(TURNS)
    case.call_and_validate(
        base_url=stack.gateway_url,
        headers={"Authorization": f"Bearer {generated_tokens[role]}"},
        checks=[not_a_server_error],
    )
