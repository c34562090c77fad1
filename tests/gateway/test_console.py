"""The programme team's console through the pages (plain HTTP, the real stack): an admin adds an
organisation, creates a cohort of a new kind and registers a sponsor; a refusal comes back as an error
summary with what was typed kept; nobody but an admin reaches it."""

from __future__ import annotations

import uuid

import httpx

from lbb.devstack import Stack
from tests import flows
from tests.conftest import Api
from tests.flows import ADMIN, BOARD
from tests.gateway.inprocess import csrf_of


async def signed_in(client: httpx.AsyncClient, sub: str, role: str) -> str:
    page = await client.get("/staff/sign-in")
    await client.post("/staff/sign-in", data={"sub": sub, "role": role, "csrf": csrf_of(page.text)})
    return csrf_of((await client.get("/staff/")).text)


async def test_an_admin_runs_the_programme_from_the_console(stack: Stack, api: Api) -> None:
    tag = uuid.uuid4().hex[:6].upper()
    async with httpx.AsyncClient(base_url=stack.gateway_url, timeout=30) as client:
        csrf = await signed_in(client, f"ada-{tag}", "admin")
        page = await client.get("/staff/admin")
        assert page.status_code == 200 and "Programme console" in page.text and "Luton Borough Council" in page.text
        assert "Local authority" in page.text and "local_authority" not in page.text.split("<select")[0]

        added = await client.post(
            "/staff/admin/organisations",
            data={"csrf": csrf, "code": f"X{tag}", "name": f"Fire {tag}", "sector": "fire_rescue", "place": "luton"},
            follow_redirects=False,
        )
        assert added.status_code == 303 and "added" in added.headers["location"]
        told = await client.get(added.headers["location"])
        assert f'<p class="notice" role="status">Fire {tag} (X{tag}) added.</p>' in told.text  # markup, not text
        organisations = {o["code"]: o for o in (await api.call("GET", "/api/organisations", ADMIN)).json()}
        assert organisations[f"X{tag}"]["sector"] == "fire_rescue"

        again = await client.post(
            "/staff/admin/organisations",
            data={"csrf": csrf, "code": f"X{tag}", "name": "Twice", "sector": "police", "place": "luton"},
        )
        assert again.status_code == 200 and "There is a problem" in again.text and "already exists" in again.text
        assert 'value="Twice"' in again.text  # what was typed is kept

        cohort = {"csrf": csrf, "programme": "Stepping into my shoes", "name": f"Shoes {tag}", "kind": "shadowing"}
        made = await client.post(
            "/staff/admin/cohorts", data=cohort | {"capacity": "40", "options": "auto_enrol"}, follow_redirects=False
        )
        assert made.status_code == 303, made.text
        cohorts = {c["name"]: c for c in (await api.call("GET", "/api/cohorts", ADMIN)).json()}
        detail = (await api.call("GET", f"/api/cohorts/{cohorts[f'Shoes {tag}']['id']}", ADMIN)).json()
        assert (detail["kind"], detail["auto_enrol"], detail["capacity"]) == ("shadowing", True, 40)
        bad = await client.post("/staff/admin/cohorts", data=cohort | {"capacity": "40", "options": "reciprocal"})
        assert "only a mentoring cohort can be reciprocal" in bad.text

        sponsor = {"csrf": csrf, "role": "sponsor", "name": f"Sam {tag}", "email": f"sam-{tag}@example.nhs.uk"}
        sponsor |= {"subject": f"sam-{tag}", "organisation_id": organisations[f"X{tag}"]["id"]}
        registered = await client.post("/staff/admin/staff", data=sponsor, follow_redirects=False)
        assert registered.status_code == 303, registered.text
        assert f"Sam {tag}: sponsor for Fire {tag}" in (await client.get("/staff/admin")).text

    for role in ("board", "applicant"):
        async with httpx.AsyncClient(base_url=stack.gateway_url, timeout=30) as client:
            await signed_in(client, f"{role}-{tag}", role)
            assert (await client.get("/staff/admin")).status_code == 403
            assert "/staff/admin" not in (await client.get("/staff/")).text  # no console in their menu


async def test_an_admin_changes_and_retires_an_organisation_and_it_takes_no_new_applications(
    stack: Stack, api: Api
) -> None:
    tag = uuid.uuid4().hex[:6].upper()
    body = {"code": f"R{tag}", "name": f"Trust {tag}", "sector": "acute", "place": "luton"}
    organisation_id = (await api.call("POST", "/api/organisations", ADMIN, body)).json()["id"]
    async with httpx.AsyncClient(base_url=stack.gateway_url, timeout=30) as client:
        csrf = await signed_in(client, f"ada-{tag}", "admin")
        page = await client.get(f"/staff/admin/organisations/{organisation_id}")
        assert page.status_code == 200 and f'value="R{tag}"' in page.text and f"Retire Trust {tag}" in page.text
        form = {"csrf": csrf, "code": f"R{tag}", "name": f"Renamed {tag}", "sector": "community", "place": "luton"}
        changed = await client.post(f"/staff/admin/organisations/{organisation_id}", data=form, follow_redirects=False)
        assert changed.status_code == 303 and "changed" in changed.headers["location"], changed.text
        clash = await client.post(f"/staff/admin/organisations/{organisation_id}", data=form | {"code": "rc9"})
        assert clash.status_code == 200 and "There is a problem" in clash.text and "already exists" in clash.text
        bad = await client.post(f"/staff/admin/organisations/{organisation_id}", data=form | {"code": "no spaces!"})
        assert "There is a problem" in bad.text and 'value="no spaces!"' in bad.text  # the code is checked
        retired = await client.post(
            f"/staff/admin/organisations/{organisation_id}/retire", data={"csrf": csrf}, follow_redirects=False
        )
        assert retired.status_code == 303 and "Retired" in retired.headers["location"]
        again = await client.post(f"/staff/admin/organisations/{organisation_id}/retire", data={"csrf": csrf})
        assert "already retired" in again.text
        console = (await client.get("/staff/admin")).text
        row = console.split(f"Renamed {tag}")[1].split("</tr>")[0]
        assert "Retired" in row and "Change" not in row

    board = {o["code"]: o for o in (await api.call("GET", "/api/organisations", BOARD)).json()}
    assert (board[f"R{tag}"]["name"], board[f"R{tag}"]["sector"], board[f"R{tag}"]["retired"]) == (
        f"Renamed {tag}",
        "community",
        True,
    )
    assert board["RC9"]["retired"] is False
    applicant = (f"amy-{tag}", "applicant")
    assert f"R{tag}" not in {o["code"] for o in (await api.call("GET", "/api/organisations", applicant)).json()}
    cohort_id = await flows.new_cohort(api, f"Retired {tag}")
    form = flows.application(cohort_id, organisation_id, "Amy", f"amy-{tag}@example.nhs.uk")
    refused = await api.call("POST", "/api/applications", applicant, form)
    assert refused.status_code == 422 and "retired" in refused.text
    others = await api.call("PUT", f"/api/organisations/{organisation_id}", BOARD, body)
    assert others.status_code == 403


async def test_a_learner_and_a_sharer_apply_through_the_page_with_what_their_role_brings(
    stack: Stack, api: Api
) -> None:
    tag = uuid.uuid4().hex[:6]
    body = {"programme": "Stepping into my shoes", "name": f"Page {tag}", "capacity": 10, "kind": "shadowing"}
    cohort_id = (await api.call("POST", "/api/cohorts", ADMIN, body)).json()["id"]
    organisation = (await api.call("GET", "/api/organisations", ADMIN)).json()[0]["id"]
    form = {"name": "Lee Learner", "job_title": "Nurse", "organisation_id": organisation, "staff_group": "clinical"}
    form |= {"band": "6", "statement": "I want to see how discharge works elsewhere."}
    async with httpx.AsyncClient(base_url=stack.gateway_url, timeout=30) as client:
        csrf = await signed_in(client, f"lee-{tag}", "applicant")
        page = await client.get(f"/staff/apply/{cohort_id}")
        assert "You take part as" in page.text and "What you will show" in page.text
        email = {"email": f"lee-{tag}@example.nhs.uk"}
        refused = await client.post(
            f"/staff/apply/{cohort_id}", data=form | email | {"csrf": csrf, "role": "sharer", "capacity": "2"}
        )
        assert "There is a problem" in refused.text and "a sharer says what they will show" in refused.text
        done = await client.post(
            f"/staff/apply/{cohort_id}",
            data=form | email | {"csrf": csrf, "role": "learner", "wants": "discharge, frailty"},
            follow_redirects=False,
        )
        assert done.status_code == 303, done.text
    (mine,) = (await api.call("GET", f"/api/applications?cohort_id={cohort_id}", (f"lee-{tag}", "applicant"))).json()
    assert (mine["role"], mine["wants"]) == ("learner", ["discharge", "frailty"])
