"""Bearer tokens: the ICS identity provider's (OIDC, verified against its JWKS) or, in dev mode only,
dev tokens (HS256 with the dev secret).

OIDC: ``OIDC_ISSUER`` (the ``iss`` every token must carry) and ``JWT_AUDIENCE`` (its ``aud``). The keys
come from ``OIDC_JWKS_URL`` or, when that is unset, from the ``jwks_uri`` of the issuer's
``/.well-known/openid-configuration``. Keys are cached and fetched again (at most every
``JWKS_MIN_REFRESH_S``) when a token names a key id the cache does not hold, so key rotation works.

Only access tokens open the door (``access_token_problem``): the JOSE ``typ`` must be one of
``JWT_ACCEPTED_TYPES`` (RFC 9068's ``at+jwt``, and ``JWT`` as Keycloak and Entra ID type theirs); a
``JWT``-typed token is refused when Keycloak's ``typ`` claim says it is not ``Bearer`` (``ID``,
``Refresh``, ``Logout``) or, without that claim, when it bears an ID token's marks (``nonce``,
``at_hash``, ``c_hash``); so is a token whose ``aud`` does not name ``JWT_AUDIENCE`` (an ID token's
names the sign-in client). Keep ``OIDC_CLIENT_ID`` and ``JWT_AUDIENCE`` apart (on Entra ID, one app
registration for the API and one for the staff pages): an ID token without those marks is then still
refused by its audience.

A token's ``email`` claim (OIDC's standard claim; the dev token's optional ``email``) is the caller's
e-mail address and travels to the services in the signed assertion: an application's e-mail is that
claim. A claim the provider marks unverified (``email_verified`` false) is not used.
Each verified caller is then counted against the rate limits (middleware.py).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import httpx
import jwt
from fastapi import Depends, Header, HTTPException, Request, status

from services.gateway.middleware import Limits
from services.gateway.settings import GatewaySettings
from shared.identity import ROLES, Caller

DEV_ISSUER = "lbb-dev"
ASYMMETRIC = ["RS256", "RS384", "RS512", "PS256", "ES256", "ES384"]


def issue_dev_token(
    settings: GatewaySettings, sub: str, role: str, organisation_id: uuid.UUID | None, email: str | None = None
) -> str:
    now = datetime.now(UTC)
    claims: dict[str, Any] = {
        "iss": DEV_ISSUER,
        "aud": settings.jwt_audience,
        "sub": sub,
        "role": role,
        "iat": now,
        "exp": now + timedelta(hours=12),
        "jti": uuid.uuid4().hex,
    }
    if organisation_id is not None:
        claims["organisation_id"] = str(organisation_id)
    if email:
        claims["email"] = email
    return jwt.encode(claims, settings.dev_jwt_secret, algorithm="HS256", headers={"typ": "at+jwt"})


class JwksKeys:
    """The identity provider's signing keys, fetched with the gateway's HTTP client and cached."""

    def __init__(self, settings: GatewaySettings, client: httpx.AsyncClient) -> None:
        self.settings = settings
        self.client = client
        self.keys: dict[str, jwt.PyJWK] = {}
        self.fetched_at = 0.0
        self.jwks_url = settings.oidc_jwks_url
        self.lock = asyncio.Lock()
        self._configuration: dict[str, Any] | None = None

    async def configuration(self) -> dict[str, Any]:
        """The issuer's /.well-known/openid-configuration (fetched once)."""
        if self._configuration is None:
            issuer = self.settings.oidc_issuer.rstrip("/")
            answer = await self.client.get(f"{issuer}/.well-known/openid-configuration", timeout=10)
            answer.raise_for_status()
            configuration = answer.json()
            if not isinstance(configuration, dict):
                raise ValueError("the issuer's openid-configuration is not a JSON object")
            self._configuration = configuration
        return self._configuration

    async def _discover(self) -> str:
        jwks_uri = (await self.configuration()).get("jwks_uri")
        if not isinstance(jwks_uri, str) or not jwks_uri:
            raise ValueError("the issuer's openid-configuration names no jwks_uri")
        return jwks_uri

    async def _refresh(self) -> None:
        if not self.jwks_url:
            self.jwks_url = await self._discover()
        answer = await self.client.get(self.jwks_url, timeout=10)
        answer.raise_for_status()
        keys: dict[str, jwt.PyJWK] = {}
        for data in answer.json().get("keys", []):
            if data.get("use", "sig") != "sig":
                continue
            try:
                key = jwt.PyJWK(data)
            except jwt.PyJWTError:
                continue  # a key type this gateway does not use
            keys[data.get("kid", "")] = key
        self.keys = keys
        self.fetched_at = time.monotonic()

    async def key(self, kid: str) -> jwt.PyJWK:
        if kid in self.keys:
            return self.keys[kid]
        async with self.lock:
            fresh_enough = time.monotonic() - self.fetched_at < self.settings.jwks_min_refresh_s
            if kid not in self.keys and not (fresh_enough and self.keys):
                try:
                    await self._refresh()
                except (httpx.HTTPError, ValueError) as exc:
                    raise HTTPException(
                        status.HTTP_503_SERVICE_UNAVAILABLE, detail="the identity provider's keys are unavailable"
                    ) from exc
        if kid not in self.keys:
            raise jwt.InvalidTokenError("the token is signed with a key the identity provider does not publish")
        return self.keys[kid]


def _unauthorised(detail: str) -> HTTPException:
    return HTTPException(status.HTTP_401_UNAUTHORIZED, detail=detail, headers={"WWW-Authenticate": "Bearer"})


ID_TOKEN_CLAIMS = ("nonce", "at_hash", "c_hash")


def _token_type(value: object) -> str:
    """A JOSE ``typ`` compared as RFC 7515 says: without case, ``application/`` optional."""
    return str(value).strip().lower().removeprefix("application/")


def access_token_problem(settings: GatewaySettings, header: dict[str, Any], claims: dict[str, Any]) -> str | None:
    """Why a verified token is not an access token for this API, or None when it is one."""
    kind = _token_type(header.get("typ") or "JWT")  # RFC 7519: no typ means a plain JWT
    if kind not in {_token_type(t) for t in settings.jwt_accepted_types}:
        return f"invalid token: a token of type {kind} is not accepted here (JWT_ACCEPTED_TYPES)"
    if kind == "at+jwt":
        return None
    # Keycloak says what a token is in its own claim (Bearer on access tokens; before Keycloak 25 these
    # also carried the client's nonce); other providers' ID tokens are known by their marks.
    purpose = claims.get("typ")
    if (str(purpose).lower() != "bearer") if purpose is not None else any(c in claims for c in ID_TOKEN_CLAIMS):
        return "invalid token: an ID token (or another kind of token) is not an access token"
    return None


async def decode(settings: GatewaySettings, keys: JwksKeys | None, token: str) -> dict[str, Any]:
    try:
        header = jwt.get_unverified_header(token)
        claims = await _verified_claims(settings, keys, token, header)
    except jwt.PyJWTError as exc:
        raise _unauthorised(f"invalid token: {exc}") from exc
    problem = access_token_problem(settings, header, claims)
    if problem:
        raise _unauthorised(problem)
    return claims


async def _verified_claims(
    settings: GatewaySettings, keys: JwksKeys | None, token: str, header: dict[str, Any]
) -> dict[str, Any]:
    options = {"require": ["exp", "iss", "aud", "sub"]}
    algorithm = header.get("alg")
    if algorithm == "HS256":
        if not settings.dev_mode:
            raise _unauthorised("invalid token: dev tokens are refused outside dev mode")
        claims: dict[str, Any] = jwt.decode(
            token,
            settings.dev_jwt_secret,
            algorithms=["HS256"],
            audience=settings.jwt_audience,
            issuer=DEV_ISSUER,
            options=options,  # type: ignore[arg-type]
        )
        return claims
    if keys is None or not settings.oidc_issuer:
        raise _unauthorised("no identity provider is configured")
    if algorithm not in ASYMMETRIC:
        raise _unauthorised("invalid token: unsupported signing algorithm")
    key = await keys.key(str(header.get("kid", "")))
    claims = jwt.decode(
        token,
        key.key,
        algorithms=[str(algorithm)],
        audience=settings.jwt_audience,
        issuer=settings.oidc_issuer,
        leeway=settings.jwt_leeway_s,
        options=options,  # type: ignore[arg-type]
    )
    return claims


def caller_from_claims(settings: GatewaySettings, claims: dict[str, Any]) -> Caller:
    role = claims.get(settings.jwt_role_claim)
    if isinstance(role, list):  # some identity providers send roles as a list: take the one we know
        role = next((r for r in role if r in ROLES), None)
    sub = claims.get("sub")
    if role not in ROLES or not isinstance(sub, str) or not sub.strip():
        raise _unauthorised("the token has no known role or subject")
    organisation = claims.get(settings.jwt_organisation_claim)
    if role == "sponsor" and not organisation:
        raise _unauthorised("a sponsor token must name its organisation")
    try:
        organisation_id = uuid.UUID(str(organisation)) if role == "sponsor" else None
    except ValueError as exc:
        raise _unauthorised("organisation_id is not a valid id") from exc
    return Caller(sub=sub, role=str(role), organisation_id=organisation_id, email=email_claim(claims))


def email_claim(claims: dict[str, Any]) -> str | None:
    """The token's ``email`` claim, or None when it has none or its provider has not verified it."""
    email = claims.get("email")
    if email is None or email == "" or claims.get("email_verified") is False:
        return None
    if not isinstance(email, str) or len(email) > 320 or email.count("@") != 1 or email.split() != [email]:
        raise _unauthorised("the token's email claim is not an e-mail address")
    return email


def bearer(authorization: str | None) -> str | None:
    """The token of a request: only ever the Authorization header (the staff pages send theirs too)."""
    if authorization and authorization.lower().startswith("bearer "):
        return authorization[7:].strip() or None
    return None


async def authenticate(request: Request, token: str) -> Caller:
    settings: GatewaySettings = request.app.state.settings
    keys: JwksKeys | None = getattr(request.app.state, "jwks", None)
    return caller_from_claims(settings, await decode(settings, keys, token))


async def current_caller(
    request: Request,
    authorization: Annotated[str | None, Header(description="Bearer <token>")] = None,
) -> Caller:
    token = bearer(authorization)
    if not token:
        raise _unauthorised("missing bearer token")
    caller = await authenticate(request, token)
    limits: Limits | None = getattr(request.app.state, "limits", None)
    retry = await limits.caller(request.method, caller.sub) if limits else None
    if retry is not None:
        raise HTTPException(429, detail="too many requests; try again later", headers={"Retry-After": str(retry)})
    request.state.caller = caller
    return caller


CallerDep = Annotated[Caller, Depends(current_caller)]
