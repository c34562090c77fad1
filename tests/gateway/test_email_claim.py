"""The caller's e-mail: read from the token's ``email`` claim (OIDC's, or the dev token's optional one)
and carried to the services in the gateway's signed assertion, nowhere else."""

from __future__ import annotations

import re
from typing import Any

import httpx
import jwt
import pytest
from fastapi import HTTPException

from lbb.devstack import Stack
from services.gateway.auth import caller_from_claims, decode
from shared.identity import Assertions, Verifier
from tests.gateway.inprocess import KEYS, csrf_of, gateway, settings

CLAIMS = {"sub": "ann", "role": "applicant"}


@pytest.mark.parametrize(
    ("extra", "email"),
    [
        ({}, None),
        ({"email": "ann@example.nhs.uk"}, "ann@example.nhs.uk"),
        ({"email": "ann@example.nhs.uk", "email_verified": True}, "ann@example.nhs.uk"),
        ({"email": "ann@example.nhs.uk", "email_verified": False}, None),  # the provider has not checked it
        ({"email": ""}, None),
    ],
)
def test_an_oidc_tokens_email_claim_is_the_callers_e_mail(extra: dict[str, Any], email: str | None) -> None:
    assert caller_from_claims(settings(), CLAIMS | extra).email == email


@pytest.mark.parametrize("bad", ["not an address", "two@at@example.nhs.uk", 42, ["ann@example.nhs.uk"]])
def test_an_email_claim_that_is_no_e_mail_address_is_refused(bad: object) -> None:
    with pytest.raises(HTTPException) as refused:
        caller_from_claims(settings(), CLAIMS | {"email": bad})
    assert refused.value.status_code == 401 and "email claim" in refused.value.detail


async def test_the_dev_token_carries_an_optional_email_claim_into_the_assertion() -> None:
    config = settings(dev_mode=True)
    async with gateway(config) as client:
        plain = (await client.post("/api/dev/token", json=CLAIMS)).json()["token"]
        answer = await client.post("/api/dev/token", json=CLAIMS | {"email": "ann@example.nhs.uk"})
        assert answer.status_code == 200, answer.text
        bad = await client.post("/api/dev/token", json=CLAIMS | {"email": "not-an-address"})
        assert bad.status_code == 422, bad.text
    assert "email" not in jwt.decode(plain, options={"verify_signature": False})
    caller = caller_from_claims(config, await decode(config, None, answer.json()["token"]))
    assert caller.email == "ann@example.nhs.uk"
    assertion = Assertions(KEYS.private_pem).for_service(caller, "applications")
    assert Verifier(KEYS.public_pem, "applications").caller(assertion) == caller


async def test_the_dev_sign_in_form_takes_an_optional_e_mail_into_the_session_token(stack: Stack) -> None:
    async with httpx.AsyncClient(base_url=stack.gateway_url, timeout=30) as client:
        page = await client.get("/staff/sign-in")
        assert re.search(r'<input\s[^>]*id="email" name="email" type="email"', page.text)
        form = {"sub": "ann-form", "role": "applicant", "csrf": csrf_of(page.text)}
        bad = await client.post("/staff/sign-in", data=form | {"email": "not an address"}, follow_redirects=False)
        assert bad.headers["location"].startswith("/staff/sign-in") and "lbb_session" not in client.cookies
        signed = await client.post("/staff/sign-in", data=form | {"email": " ann@example.nhs.uk "})
        assert signed.headers["location"] == "/staff/", signed.headers
        token = client.cookies["lbb_session"]
    assert jwt.decode(token, options={"verify_signature": False})["email"] == "ann@example.nhs.uk"
