"""The staff pages over plain HTTP: sign-in, the session cookie, CSRF, and refusals as pages.
(The whole programme through the pages runs in a real browser: test_browser.py.)"""

from __future__ import annotations

import httpx

from lbb.devstack import Stack
from tests.gateway.inprocess import csrf_of, gateway, identity_provider, settings


async def test_signing_in_sets_a_strict_httponly_cookie_and_forms_need_the_csrf_token(stack: Stack) -> None:
    async with httpx.AsyncClient(base_url=stack.gateway_url, timeout=30) as client:
        assert (await client.get("/staff/", follow_redirects=False)).headers["location"] == "/staff/sign-in"
        page = await client.get("/staff/sign-in")
        assert page.status_code == 200 and 'for="sub"' in page.text and "Luton" in page.text
        assert 'class="nhsuk-header' in page.text  # the NHS design system's header (nhsuk-frontend-jinja)
        unsigned = await client.post("/staff/sign-in", data={"sub": "pat", "role": "board"}, follow_redirects=False)
        assert unsigned.status_code == 403  # the sign-in form carries its CSRF token too
        signed = await client.post(
            "/staff/sign-in", data={"sub": "pat", "role": "board", "csrf": csrf_of(page.text)}, follow_redirects=False
        )
        assert signed.status_code == 303
        cookie = signed.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=lax" in cookie and "path=/staff" in cookie
        assert "secure" not in cookie and "strict-transport-security" not in signed.headers  # dev mode: plain HTTP
        home = await client.get("/staff/")
        assert home.status_code == 200 and "pat (board)" in home.text
        assert home.headers["content-security-policy"].startswith("default-src 'self'")
        css = await client.get("/static/staff.css")
        assert css.status_code == 200 and "focus-visible" in css.text
        nhsuk = await client.get("/static/nhsuk/nhsuk-frontend.min.css")  # `make assets`, from the npm registry
        assert nhsuk.status_code == 200 and ".nhsuk-header" in nhsuk.text
        icon = await client.get("/assets/images/nhsuk-icon-cross.svg")  # where the stylesheet looks for icons
        assert icon.status_code == 200 and icon.headers["content-type"].startswith("image/svg")
        # the cookie is not a bearer token for the API
        assert (await client.get("/api/organisations")).status_code == 401
        forged = await client.post("/staff/sign-out", data={"csrf": "0" * 64})
        assert forged.status_code == 403
        out = await client.post("/staff/sign-out", data={"csrf": csrf_of(home.text)}, follow_redirects=False)
        assert out.status_code == 303 and 'lbb_session=""' in out.headers["set-cookie"]


async def test_a_refusal_from_the_api_is_a_page_with_its_status(stack: Stack) -> None:
    async with httpx.AsyncClient(base_url=stack.gateway_url, timeout=30) as client:
        csrf = csrf_of((await client.get("/staff/sign-in")).text)
        await client.post("/staff/sign-in", data={"sub": "ann-pages", "role": "applicant", "csrf": csrf})
        refused = await client.get("/staff/cohorts/00000000-0000-4000-8000-000000000000")
        assert refused.status_code == 403 and "Programme Board" in refused.text
        missing = await client.get("/staff/apply/00000000-0000-4000-8000-000000000000")
        assert missing.status_code == 404 and "<h1>Not found</h1>" in missing.text


async def test_outside_dev_mode_the_sign_in_page_takes_an_identity_provider_token_only() -> None:
    async with gateway(settings(dev_mode=False)) as client:
        page = await client.get("/staff/sign-in")
        assert page.status_code == 200 and 'name="token"' in page.text and 'name="role"' not in page.text
        form = {"sub": "x", "role": "admin", "csrf": csrf_of(page.text)}
        refused = await client.post("/staff/sign-in", data=form, follow_redirects=False)
        assert "identity+provider" in refused.headers["location"]
        assert page.headers["strict-transport-security"] == "max-age=31536000"
        assert "secure" in page.headers["set-cookie"].lower() and "__Host-lbb_csrf=" in page.headers["set-cookie"]


async def test_staff_sign_in_through_the_identity_provider_with_pkce() -> None:
    with identity_provider() as idp:
        config = settings(oidc_issuer=idp.issuer, oidc_client_id=idp.client_id)
        async with gateway(config) as client, httpx.AsyncClient() as browser_to_idp:
            page = await client.get("/staff/sign-in")
            assert "Sign in with your organisation's account" in page.text

            async def sign_in(state_override: str | None = None) -> httpx.Response:
                start = await client.get("/staff/sign-in/oidc", follow_redirects=False)
                assert start.status_code == 303 and start.headers["location"].startswith(idp.issuer + "/auth?")
                assert "code_challenge_method=S256" in start.headers["location"]
                at_idp = await browser_to_idp.get(start.headers["location"], follow_redirects=False)
                back = httpx.URL(at_idp.headers["location"])
                assert back.path == "/staff/sign-in/callback"
                params = dict(back.params)
                if state_override is not None:
                    params["state"] = state_override
                return await client.get(back.path, params=params, follow_redirects=False)

            forged = await sign_in(state_override="not-the-state")
            assert "did+not+complete" in forged.headers["location"]
            assert "lbb_session" not in client.cookies

            idp.next_user = {"sub": "nia", "role": "board"}
            done = await sign_in()
            assert done.status_code == 303 and done.headers["location"] == "/staff/"
            assert "lbb_session" in client.cookies
            home = await client.get("/staff/")
            # signed in as the provider said (the page itself then needs the services, absent here)
            assert "nia (board)" in home.text and home.status_code == 503
