"""Tokens: verified against a real (local) identity provider's JWKS; dev tokens only in dev mode."""

from __future__ import annotations

import uuid
from datetime import timedelta

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

from services.gateway.auth import issue_dev_token
from tests.gateway.inprocess import gateway, identity_provider, settings


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_outside_dev_mode_the_dev_token_route_does_not_exist_and_dev_tokens_are_refused() -> None:
    config = settings(dev_mode=False)
    async with gateway(config) as client:
        answer = await client.post("/api/dev/token", json={"sub": "ada", "role": "admin"})
        assert answer.status_code == 404
        assert "/api/dev/token" not in (await client.get("/openapi.json")).json()["paths"]
        forged = issue_dev_token(config, "ada", "admin", None)
        refused = await client.get("/api/organisations", headers=bearer(forged))
        assert refused.status_code == 401 and "dev tokens" in refused.json()["detail"]
        assert refused.headers["www-authenticate"] == "Bearer"


async def test_in_dev_mode_the_dev_token_route_issues_tokens_the_gateway_accepts() -> None:
    async with gateway(settings(dev_mode=True)) as client:
        assert "/api/dev/token" in (await client.get("/openapi.json")).json()["paths"]
        token = (await client.post("/api/dev/token", json={"sub": "ada", "role": "board"})).json()["token"]
        # authenticated (the board may not create cohorts), so the token was good
        refused = await client.post("/api/cohorts", headers=bearer(token), json={})
        assert refused.status_code == 403, refused.text
        bad = await client.post("/api/dev/token", json={"sub": "sam", "role": "sponsor"})
        assert bad.status_code == 422 and "organisation_id" in bad.json()["detail"]
        assert (await client.post("/api/dev/token", json={"sub": "x", "role": "king"})).status_code == 422
        assert (await client.post("/api/dev/token", json={"sub": " ", "role": "admin"})).status_code == 422


async def test_oidc_tokens_are_checked_against_the_issuers_keys_found_by_discovery() -> None:
    with identity_provider() as idp:
        async with gateway(settings(oidc_issuer=idp.issuer, jwt_audience="lbb", jwks_min_refresh_s=0)) as client:

            async def status(token: str, path: str = "/api/cohorts/" + str(uuid.uuid4()) + "/report") -> int:
                return (await client.get(path, headers=bearer(token))).status_code

            # valid: passes authentication; the role decides (an applicant may not read the report)
            assert await status(idp.token("ann", "applicant")) == 403
            # valid and allowed: forwarded (nothing listens upstream here, so 503)
            assert await status(idp.token("bea", "board")) == 503
            assert idp.jwks_requests == 1  # cached
            assert await status(idp.token("bea", "board", expires_in=timedelta(seconds=-120))) == 401
            assert await status(idp.token("bea", "board", audience="another-app")) == 401
            assert await status(idp.token("bea", "board", issuer="https://evil.example/realms/staff")) == 401
            stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            assert await status(idp.token("bea", "board", key=stranger)) == 401  # same kid, wrong key
            assert await status(idp.token("bea", "board", key=stranger, kid="unknown")) == 401
            unsigned = jwt.encode({"sub": "bea", "role": "board"}, key=None, algorithm="none")
            assert await status(unsigned) == 401
            assert await status(idp.token("bea", "queen")) == 401
            assert await status(idp.token("sam", "sponsor")) == 401  # a sponsor names an organisation
            org = str(uuid.uuid4())
            assert await status(idp.token("sam", "sponsor", organisation_id=org)) == 403
            assert (await client.get("/api/organisations")).status_code == 401
            assert (await client.get("/api/organisations", headers={"Authorization": "Basic abc"})).status_code == 401

            # the provider rotates its key: a token with the new kid makes the gateway fetch the keys again
            idp.rotate()
            assert await status(idp.token("bea", "board")) == 503
            assert idp.jwks_requests == 3  # once for the unknown kid above, once now


async def test_an_explicit_jwks_url_is_used_without_discovery() -> None:
    with identity_provider() as idp:
        config = settings(oidc_issuer="https://login.ics.example/realms/staff", oidc_jwks_url=idp.issuer + "/certs")
        async with gateway(config) as client:
            token = idp.token("ann", "applicant", issuer="https://login.ics.example/realms/staff")
            answer = await client.post("/api/cohorts", headers=bearer(token), json={})
            assert answer.status_code == 403, answer.text
            assert idp.jwks_requests == 1
