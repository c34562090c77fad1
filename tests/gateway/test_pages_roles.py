"""The role pages' forms (mentoring, the joint project, self-assessment) over plain HTTP: none acts
without the session's CSRF token, and a pair that is not yours is the not-found page.
(Each role's walk-through runs in a real browser: test_browser_roles.py.)"""

from __future__ import annotations

import httpx

from lbb.devstack import Stack
from tests.gateway.inprocess import csrf_of

PAIR = "00000000-0000-4000-8000-000000000001"
FORMS = (
    f"/staff/pairs/{PAIR}/mentoring/agreement",
    f"/staff/pairs/{PAIR}/mentoring/meetings",
    f"/staff/pairs/{PAIR}/mentoring/check-ins",
    f"/staff/pairs/{PAIR}/mentoring/close",
    f"/staff/pairs/{PAIR}/project",
    f"/staff/pairs/{PAIR}/project/milestones",
    f"/staff/pairs/{PAIR}/project/presentation",
    f"/staff/pairs/{PAIR}/project/milestones/{PAIR}/done",
    f"/staff/fellows/{PAIR}/self-assessment",
)


async def test_the_role_forms_need_the_csrf_token_and_another_pair_is_not_found(stack: Stack) -> None:
    async with httpx.AsyncClient(base_url=stack.gateway_url, timeout=30) as client:
        csrf = csrf_of((await client.get("/staff/sign-in")).text)
        await client.post("/staff/sign-in", data={"sub": "ann-roles", "role": "applicant", "csrf": csrf})
        for form in FORMS:
            forged = await client.post(form, data={"csrf": "0" * 64}, follow_redirects=False)
            assert forged.status_code == 403, form
        for page in (f"/staff/pairs/{PAIR}/mentoring", f"/staff/pairs/{PAIR}/project"):
            missing = await client.get(page)
            assert missing.status_code == 404 and "<h1>Not found</h1>" in missing.text, page
        unknown = await client.post(f"/staff/pairs/{PAIR}/mentoring/vote", data={"csrf": "0" * 64})
        assert unknown.status_code == 404
