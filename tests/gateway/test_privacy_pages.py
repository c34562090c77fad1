"""The privacy tasks in the console (issue 21), through the pages against the real stack: an admin
sees per service what is held about a person and downloads it as JSON, a mistyped confirmation is
refused with an error summary and erases nothing, and a confirmed erasure's page shows each service's
erased time once it has; the CSRF token is required and nobody but an admin reaches the pages."""

from __future__ import annotations

import json
import re
import uuid

import httpx

from lbb.devstack import Stack
from shared.registry import NAMES
from tests import flows
from tests.conftest import Api, eventually
from tests.flows import ADMIN
from tests.gateway.test_console import signed_in


async def test_an_admin_exports_and_erases_a_person_through_the_pages(stack: Stack, api: Api) -> None:
    tag = uuid.uuid4().hex[:8]
    email = f"pia-{tag}@example.nhs.uk"
    organisation = (await flows.organisations(api))["RC9"]["id"]
    cohort_id = await flows.new_cohort(api, f"Privacy {tag}")
    application_id = await flows.apply(
        api, (f"pia-{tag}", "applicant"), flows.application(cohort_id, organisation, f"Pia {tag}", email)
    )
    async with httpx.AsyncClient(base_url=stack.gateway_url, timeout=30) as client:
        csrf = await signed_in(client, f"ada-{tag}", "admin")
        console = await client.get("/staff/admin")
        assert 'href="/staff/privacy"' in console.text
        page = await client.get("/staff/privacy")
        assert page.status_code == 200 and "Privacy tasks" in page.text

        forged = await client.post("/staff/privacy/export", data={"csrf": "x", "email": email, "as": "show"})
        assert forged.status_code == 403
        shown = await client.post("/staff/privacy/export", data={"csrf": csrf, "email": email, "as": "show"})
        assert shown.status_code == 200 and f"What is held about {email}" in shown.text
        assert shown.text.count('class="held-service') == len(NAMES)
        assert re.search(r"Application\s*</dt>\s*<dd[^>]*>\s*1 record", shown.text), shown.text
        downloaded = await client.post("/staff/privacy/export", data={"csrf": csrf, "email": email, "as": "download"})
        assert downloaded.headers["content-type"] == "application/json"
        assert "attachment" in downloaded.headers["content-disposition"]
        held = json.loads(downloaded.text)
        assert held["person"]["application_ids"] == [application_id]
        assert held["services"]["applications"]["application"][0]["email"] == email

        mistyped = await client.post(
            "/staff/privacy/erase", data={"csrf": csrf, "email": email, "confirm": f"x{email}"}
        )
        assert mistyped.status_code == 422 and "There is a problem" in mistyped.text
        assert 'href="#erase-confirm"' in mistyped.text and "Type the same e-mail address again" in mistyped.text
        still = await api.call("GET", f"/api/applications/{application_id}", ADMIN)
        assert still.json()["state"] == "submitted" and still.json()["email"] == email

        nobody = await client.post(
            "/staff/privacy/erase", data={"csrf": csrf, "email": "nobody@example.org", "confirm": "nobody@example.org"}
        )
        assert nobody.status_code == 422 and 'href="#erase-email"' in nobody.text

        asked = await client.post(
            "/staff/privacy/erase",
            data={"csrf": csrf, "email": email, "confirm": email.upper()},
            follow_redirects=False,
        )
        assert asked.status_code == 303, asked.text
        status_path = asked.headers["location"].split("?")[0]
        assert re.fullmatch(r"/staff/privacy/erasures/[0-9a-f-]{36}", status_path)

        async def complete() -> str | None:
            answer = await client.get(status_path)
            return answer.text if "Erasure complete" in answer.text else None

        done = await eventually(complete, 60, "every service to erase the person")
        assert done.count("Erased at ") == len(NAMES) and "Not yet" not in done
        assert "Refresh to see the progress" not in done

    async with httpx.AsyncClient(base_url=stack.gateway_url, timeout=30) as other:
        await signed_in(other, f"bea-{tag}", "board")
        assert (await other.get("/staff/privacy")).status_code == 403
        assert (await other.get(status_path)).status_code == 403
