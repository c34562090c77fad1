"""Places per organisation (issue 21), through the gateway against the real stack: the cap is set at
cohort creation (1 to the capacity), the board's shortlist past it is refused with the reason and
changes nothing, a freed place goes to the first waitlisted whose organisation has room, auto-enrolment
and enrolment wait the applicant over the cap, and the board and admins read each organisation's places."""

from __future__ import annotations

from typing import Any

import httpx

from lbb.devstack import Stack
from tests.applications.test_applications_api import decide, endorsed, new_cohort, orgs, state
from tests.conftest import Api
from tests.flows import ADMIN, BOARD
from tests.gateway.test_console import signed_in


async def test_a_cap_outside_one_to_the_capacity_is_refused(api: Api, stack: Stack) -> None:
    base = {"programme": "Leading Beyond Boundaries", "name": "capped", "capacity": 4, "pairing_mode": "peer"}
    for cap in (0, 5):
        refused = await api.call("POST", "/api/cohorts", ADMIN, base | {"places_per_organisation": cap})
        assert refused.status_code == 422 and "places_per_organisation" in refused.json()["detail"], refused.text
    async with httpx.AsyncClient(base_url=stack.gateway_url, timeout=30) as client:
        csrf = await signed_in(client, "ada", "admin")
        form = {"csrf": csrf, "programme": "P", "name": "Capped", "kind": "exchange", "capacity": "4"}
        page = await client.post("/staff/admin/cohorts", data=form | {"places_per_organisation": "5"})
    assert "There is a problem" in page.text and "from 1 to the cohort&#39;s capacity (4)" in page.text
    assert 'value="5"' in page.text  # what was typed is kept


def _held(cohort: dict[str, Any]) -> dict[str, int]:
    return {p["organisation_name"]: p["held"] for p in cohort["places_held"]}


async def test_the_board_cannot_shortlist_past_an_organisations_places_and_a_freed_place_skips_a_full_one(
    api: Api, stack: Stack
) -> None:
    codes = await orgs(api)
    a, b = codes["RC9"], codes["E06000032"]
    cohort = await new_cohort(api, capacity=4, places_per_organisation=1)
    a1, a1_me = await endorsed(api, cohort, a)
    a2, _ = await endorsed(api, cohort, a)
    b1, _ = await endorsed(api, cohort, b)
    b2, _ = await endorsed(api, cohort, b)
    await decide(api, a1, "shortlist")
    await decide(api, b1, "shortlist")

    refused = await api.call(
        "POST", f"/api/applications/{a2}/decision", BOARD, {"decision": "shortlist", "reason": "strong"}
    )
    assert refused.status_code == 409, refused.text
    assert "already holds 1 of its 1 place(s)" in refused.json()["detail"]
    assert await state(api, a2) == "endorsed"

    await decide(api, b2, "waitlist")  # first in the queue, but its organisation is full
    await decide(api, a2, "waitlist")
    seen = (await api.call("GET", f"/api/cohorts/{cohort}", ADMIN)).json()
    assert seen["places_per_organisation"] == 1
    assert sorted(_held(seen).values()) == [1, 1]
    applicant_view = (await api.call("GET", f"/api/cohorts/{cohort}", a1_me)).json()
    assert "places_held" not in applicant_view and applicant_view["places_per_organisation"] == 1
    async with httpx.AsyncClient(base_url=stack.gateway_url, timeout=30) as client:
        await signed_in(client, "bea", "board")
        page = (await client.get(f"/staff/cohorts/{cohort}")).text
    assert "Places per organisation" in page and "at most 1" in page
    names = {o["id"]: o["name"] for o in (await api.call("GET", "/api/organisations", ADMIN)).json()}
    for organisation in (a, b):
        row = page.split(names[organisation])[1].split("</tr>")[0]
        assert "1 / 1 (full)" in row, row

    assert (await api.call("POST", f"/api/applications/{a1}/withdraw", a1_me, {})).status_code == 202
    assert await state(api, a2) == "shortlisted"
    assert await state(api, b2) == "waitlisted"


async def test_auto_enrolment_waits_the_applicant_over_the_cap_with_the_reason(api: Api) -> None:
    org = (await orgs(api))["RC9"]
    cohort = await new_cohort(api, capacity=4, places_per_organisation=1, auto_enrol=True)
    first, _ = await endorsed(api, cohort, org)
    second, _ = await endorsed(api, cohort, org)
    assert await state(api, first) == "enrolled"
    assert await state(api, second) == "waitlisted"
    trail = (await api.call("GET", f"/api/cohorts/{cohort}/decisions", BOARD)).json()
    reasons = [d["reason"] for d in trail if d["application_id"] == second and d["to_state"] == "waitlisted"]
    assert reasons == ["over the places one organisation may hold in this cohort"]
    board_view = (await api.call("GET", f"/api/cohorts/{cohort}", BOARD)).json()
    assert list(_held(board_view).values()) == [1]
