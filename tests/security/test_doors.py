"""The gateway's doors (issue 17): CSRF on every staff form including sign-in, login CSRF, tokens that
are not access tokens for this API, dev mode off the loopback, CSRF_SECRET and known default secrets
at start-up, rate limits on reads. Each attack is a row of the table printed at the end of the run."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from lbb.devstack import Stack
from services.gateway import startup
from services.gateway.auth import issue_dev_token
from services.gateway.main import create_app
from services.gateway.settings import GatewaySettings
from shared.settings import DEFAULT_SECRETS, DefaultSecretError, ServiceSettings, Settings, refuse_default_secrets
from tests.gateway.inprocess import browsers, csrf_of, gateway, identity_provider, settings
from tests.security.conftest import Attack

TEMPLATES = Path(__file__).parents[2] / "services" / "gateway" / "templates"
ADMIN_ONLY = "/api/cohorts"  # POST: an applicant's valid access token is authenticated, then refused (403)


def staff_forms() -> list[str]:
    """Every form the staff pages post, read from the templates (ids filled in), sign-in apart: plain
    forms and the one-button forms drawn by the ``nhs.action`` macro."""
    actions = set()
    for template in TEMPLATES.rglob("*.html"):
        text = template.read_text()
        for action in re.findall(r'<form method="post" action="([^"]+)"', text):
            actions.add(re.sub(r"\{\{[^}]+\}\}", "{id}", action))
        for head, tail in re.findall(r'nhs\.action\(\s*"([^"]+)"\s*~\s*[\w.]+\s*~\s*"([^"]+)"', text):
            actions.add(f"{head}{{id}}{tail}")
    actions.discard("{id}")  # the macro's own form: its actions are the ones found above
    assert "/staff/sign-in" in actions and len(actions) >= 12, actions
    return sorted(actions - {"/staff/sign-in"}, key=lambda a: a.endswith("/sign-out"))  # signing out last


async def sign_in(client: httpx.AsyncClient, sub: str, role: str) -> str:
    """Signs in through the dev form; the CSRF token of the signed-in person's forms."""
    page = await client.get("/staff/sign-in")
    signed = await client.post("/staff/sign-in", data={"sub": sub, "role": role, "csrf": csrf_of(page.text)})
    assert "lbb_session" in client.cookies, signed.text
    return csrf_of((await client.get("/staff/notifications")).text)  # the sign-out form in every page's header


async def test_every_staff_form_refuses_a_post_without_its_csrf_token(attack: Attack) -> None:
    async with browsers(settings(dev_mode=True), 2) as (victim, attacker):
        await sign_in(victim, "vic", "board")
        attackers_token = await sign_in(attacker, "mallory", "board")
        for form in staff_forms():
            action = form.replace("{id}", str(uuid.uuid4()))
            missing = await victim.post(action, data={"decision": "decline"}, follow_redirects=False)
            attack(f"CSRF: POST {form} with no token", 403, missing.status_code)
            theirs = await victim.post(action, data={"csrf": attackers_token}, follow_redirects=False)
            attack(f"CSRF: POST {form} with another session's token", 403, theirs.status_code)
        # the check is not refusing everything: the victim's own token passes it (sign-out: 303)
        own = csrf_of((await victim.get("/staff/notifications")).text)
        assert (await victim.post("/staff/sign-out", data={"csrf": own}, follow_redirects=False)).status_code == 303


async def test_nobody_can_sign_a_victim_in_to_the_attackers_account(attack: Attack) -> None:
    with identity_provider() as idp:
        config = settings(oidc_issuer=idp.issuer, oidc_client_id=idp.client_id)
        async with browsers(config, 3) as (attacker, fresh_victim, victim):
            attackers_token = idp.token("mallory", "board")  # the attacker's own, valid access token
            attackers_form = csrf_of((await attacker.get("/staff/sign-in")).text)
            form = {"token": attackers_token, "csrf": attackers_form}
            forged = await fresh_victim.post("/staff/sign-in", data=form, follow_redirects=False)
            attack("login CSRF: attacker's form and token, victim never saw the page", 403, forged.status_code)
            await victim.get("/staff/sign-in")  # the victim has a sign-in nonce of their own
            forged = await victim.post("/staff/sign-in", data=form, follow_redirects=False)
            attack("login CSRF: attacker's form and token, victim has a nonce", 403, forged.status_code)
            bare = await victim.post("/staff/sign-in", data={"token": attackers_token}, follow_redirects=False)
            attack("login CSRF: sign-in POST with no CSRF token", 403, bare.status_code)
            assert "lbb_session" not in fresh_victim.cookies and "lbb_session" not in victim.cookies
            # the attacker, on the page they loaded, signs in: the check refuses only what it should
            mine = await attacker.post("/staff/sign-in", data=form, follow_redirects=False)
            assert mine.status_code == 303 and mine.headers["location"] == "/staff/"
            cookie = mine.headers["set-cookie"]
            attack(
                "session cookie outside dev mode",
                "Secure; HttpOnly",
                "; ".join(flag for flag in ("Secure", "HttpOnly") if flag in cookie),
            )
            attack(
                "Strict-Transport-Security outside dev mode",
                "max-age=31536000",
                mine.headers.get("strict-transport-security"),
            )


async def test_only_access_tokens_for_this_api_are_accepted(attack: Attack) -> None:
    with identity_provider() as idp:
        config = settings(oidc_issuer=idp.issuer, oidc_client_id=idp.client_id)
        async with gateway(config) as client:

            async def status(token: str) -> int:
                return (
                    await client.post(ADMIN_ONLY, json={}, headers={"Authorization": f"Bearer {token}"})
                ).status_code

            attack(
                "control: an access token (typ JWT, Keycloak/Entra style) is accepted",
                403,
                await status(idp.token("ann", "applicant", azp=idp.client_id, typ_claim="Bearer")),
            )
            assert await status(idp.token("ann", "applicant", typ=None)) == 403  # no typ: a plain JWT
            assert await status(idp.token("ann", "applicant", typ_claim="Bearer", nonce="n")) == 403  # Keycloak < 25
            id_claims: dict[str, Any] = {"nonce": "n-0S6_WzA2Mj", "at_hash": "77QmUPtjPfzWtF2AnpK9RQ", "auth_time": 1}
            attack(
                "an ID token (aud = the sign-in client)",
                401,
                await status(idp.token("ann", "applicant", audience=idp.client_id, **id_claims)),
            )
            attack(
                "an ID token naming the API's audience (nonce, at_hash)",
                401,
                await status(idp.token("ann", "applicant", **id_claims)),
            )
            attack(
                "a Keycloak ID token (typ claim ID)", 401, await status(idp.token("ann", "applicant", typ_claim="ID"))
            )
            attack(
                "a Keycloak refresh token (typ claim Refresh)",
                401,
                await status(idp.token("ann", "applicant", typ_claim="Refresh")),
            )
            attack(
                "an access token of another audience",
                401,
                await status(idp.token("ann", "applicant", audience="another-app")),
            )
            attack(
                "a token typed other than an access token (typ dpop+jwt)",
                401,
                await status(idp.token("ann", "applicant", typ="dpop+jwt")),
            )
        async with gateway(config.model_copy(update={"jwt_accepted_types": ["at+jwt"]})) as client:

            async def strict(token: str) -> int:
                return (
                    await client.post(ADMIN_ONLY, json={}, headers={"Authorization": f"Bearer {token}"})
                ).status_code

            attack("JWT_ACCEPTED_TYPES=[at+jwt]: a JWT-typed token", 401, await strict(idp.token("ann", "applicant")))
            attack(
                "JWT_ACCEPTED_TYPES=[at+jwt]: an RFC 9068 access token",
                403,
                await strict(idp.token("ann", "applicant", typ="at+jwt")),
            )
            assert await strict(idp.token("ann", "applicant", typ="application/at+jwt")) == 403
            assert await strict(idp.token("ann", "applicant", typ="at+jwt", nonce="n")) == 403  # typed: trusted


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_dev_mode_refuses_to_start_off_the_loopback(attack: Attack) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("UVICORN_")} | {"DEV_MODE": "true"}
    command = [sys.executable, "-m", "uvicorn", "services.gateway.main:api", "--port", str(free_port())]
    started = subprocess.run([*command, "--host", "0.0.0.0"], env=env, capture_output=True, text=True, timeout=60)
    said = started.stdout + started.stderr
    refused = started.returncode != 0 and "listens on the loopback only" in said and "uvicorn --host is 0.0.0.0" in said
    attack(
        "DEV_MODE=true, uvicorn --host 0.0.0.0 (a real process)",
        "refused to start",
        ("refused to start" if refused else f"exit {started.returncode}: {said[-300:]}"),
    )
    dev = settings(dev_mode=True)

    def verdict(argv: list[str], env: dict[str, str] | None = None, config: GatewaySettings = dev) -> str:
        return "refused" if startup.problems(config, argv, env or {}) else "starts"

    uvicorn = "/srv/.venv/bin/uvicorn"
    attack("DEV_MODE=true, uvicorn --host=::", "refused", verdict([uvicorn, "app", "--host=::"]))
    attack("DEV_MODE=true, uvicorn --host 10.0.0.5", "refused", verdict([uvicorn, "app", "--host", "10.0.0.5"]))
    attack("DEV_MODE=true, UVICORN_HOST=0.0.0.0", "refused", verdict([uvicorn, "app"], {"UVICORN_HOST": "0.0.0.0"}))
    off_loopback = settings(dev_mode=True, http_host="0.0.0.0")
    attack("DEV_MODE=true, not uvicorn, HTTP_HOST=0.0.0.0", "refused", verdict(["server"], config=off_loopback))
    assert verdict([uvicorn, "app"]) == "starts"  # uvicorn's default host is 127.0.0.1
    assert verdict([uvicorn, "app", "--host", "127.0.0.2"]) == verdict([uvicorn, "app", "--host", "::1"]) == "starts"
    assert verdict(["/usr/lib/python3/uvicorn/__main__.py", "app", "--uds", "/run/gw.sock"]) == "starts"
    with socket.socket() as listening:  # an inherited socket is judged by the address it is bound to
        listening.bind(("127.0.0.1", 0))
        assert verdict([uvicorn, "app", "--fd", str(listening.fileno())]) == "starts"
    assert verdict([uvicorn, "app", "--host", "0.0.0.0"], config=settings(dev_mode=False)) == "starts"


async def test_in_dev_mode_a_request_that_came_in_off_the_loopback_is_refused(attack: Attack) -> None:
    """Whatever server runs the app: the address a request came in on is the ASGI scope's ``server``."""
    app = create_app(settings(dev_mode=True), configure_logs=False)
    async with app.router.lifespan_context(app):
        for host, expected in (("10.0.0.5", 403), ("[2001:db8::5]", 403), ("127.0.0.1", 200), ("[::1]", 200)):
            transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 5555))
            async with httpx.AsyncClient(transport=transport, base_url=f"http://{host}:8000") as client:
                got = (await client.post("/api/dev/token", json={"sub": "ada", "role": "admin"})).status_code
            if expected == 403:
                attack(f"DEV_MODE=true, a dev token asked for on {host}", expected, got)
            assert got == expected, host


async def test_outside_dev_mode_the_csrf_secret_is_required(attack: Attack) -> None:
    for secret, what in (("", "unset"), ("too-short", "shorter than 32 characters")):
        with pytest.raises(startup.UnsafeStart) as refused:
            async with gateway(settings(csrf_secret=secret)):
                pass
        attack(
            f"CSRF_SECRET {what} outside dev mode",
            "refused to start",
            ("refused to start" if "CSRF_SECRET" in str(refused.value) else str(refused.value)),
        )
    async with gateway(settings(dev_mode=True, csrf_secret="")) as client:  # dev mode makes one up
        assert (await client.get("/staff/sign-in")).status_code == 200


class WithBrokerPassword(Settings):
    kafka_sasl_password: str = ""  # as a setting another part may add: found by its name


def refusal(config: Settings) -> str:
    try:
        refuse_default_secrets(config)
    except DefaultSecretError as exc:
        return str(exc)
    return "starts"


async def test_known_default_passwords_and_secrets_are_refused_at_start_up(attack: Attack) -> None:
    assert Stack.__dataclass_fields__["dev_jwt_secret"].default in DEFAULT_SECRETS  # the dev stack's
    with pytest.raises(DefaultSecretError) as refused:
        async with gateway(settings(dev_jwt_secret="dev-only-secret-not-for-production")):
            pass
    attack(
        "gateway with the dev stack's DEV_JWT_SECRET",
        "refused: DEV_JWT_SECRET",
        ("refused: DEV_JWT_SECRET" if "DEV_JWT_SECRET" in str(refused.value) else str(refused.value)),
    )
    urls = {
        "postgres:postgres": "postgresql+asyncpg://postgres:postgres@db:5432/lbb",
        "Compose's applications:applications": "postgresql+asyncpg://applications:applications@postgres:5432/lbb",
        "Compose's lbb owner": "postgresql+asyncpg://lbb:lbb@postgres/lbb",
        "user = password": "postgresql+asyncpg://feedback_rw:feedback_rw@postgres/lbb",
    }
    for what, url in urls.items():
        message = refusal(ServiceSettings(database_url=url))
        password = url.split("//")[1].split("@")[0].split(":")[1]
        got = "refused: DATABASE_URL" if "DATABASE_URL" in message and f":{password}@" not in message else message
        attack(f"a service with DATABASE_URL {what}", "refused: DATABASE_URL", got)
    message = refusal(WithBrokerPassword(kafka_sasl_password="changeme"))
    attack(
        "a setting added later: KAFKA_SASL_PASSWORD=changeme",
        "refused: KAFKA_SASL_PASSWORD",
        ("refused: KAFKA_SASL_PASSWORD" if "KAFKA_SASL_PASSWORD" in message and "changeme" not in message else message),
    )
    real = "postgresql+asyncpg://applications:Zq4v9-long-and-random@postgres/lbb"
    assert refusal(ServiceSettings(database_url=real)) == "starts"
    assert (
        refusal(ServiceSettings(database_url="postgresql+asyncpg://postgres@127.0.0.1/lbb")) == "starts"
    )  # no password in it
    assert refusal(ServiceSettings(database_url=urls["postgres:postgres"], dev_mode=True)) == "starts"


async def test_reads_are_rate_limited_per_verified_caller_and_per_address(attack: Attack) -> None:
    config = settings(dev_mode=True, rate_limit_reads="5/hour", rate_limit_reads_per_ip="12/hour")
    async with gateway(config) as client:
        ann = {"Authorization": f"Bearer {issue_dev_token(config, 'ann', 'applicant', None)}"}
        report = "/api/cohorts/00000000-0000-4000-8000-000000000000/shortlisting"  # the board's: 403 for ann
        codes = [(await client.get(report, headers=ann)).status_code for _ in range(6)]
        attack(
            "6 reads by one verified caller over RATE_LIMIT_READS=5/hour",
            "[403, 403, 403, 403, 403, 429]",
            str(codes),
        )
        made_up = [
            (
                await client.get(
                    report, headers={"Authorization": f"Bearer made-up-{i}", "X-Forwarded-For": f"203.0.113.{i}"}
                )
            )
            for i in range(7)
        ]
        attack(
            "reads with fresh made-up tokens and X-Forwarded-For, over the address's 12/hour",
            429,
            (made_up[-1].status_code),
        )
        assert [r.status_code for r in made_up[:6]] == [401] * 6 and made_up[-1].headers["retry-after"]
        attack("a staff page read over the address's limit", 429, (await client.get("/staff/sign-in")).status_code)
