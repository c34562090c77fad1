"""Bearer tokens: dev tokens (HS256, dev mode only) or the ICS identity provider's (OIDC JWKS)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Annotated, Any

import jwt
from fastapi import Depends, Header, HTTPException, Request, status
from starlette.concurrency import run_in_threadpool

from services.gateway.settings import GatewaySettings
from shared.identity import ROLES, Caller

DEV_ISSUER = "lbb-dev"


def issue_dev_token(settings: GatewaySettings, sub: str, role: str, organisation_id: uuid.UUID | None) -> str:
    now = datetime.now(UTC)
    claims: dict[str, Any] = {
        "iss": DEV_ISSUER,
        "aud": settings.jwt_audience,
        "sub": sub,
        "role": role,
        "iat": now,
        "exp": now + timedelta(hours=12),
    }
    if organisation_id is not None:
        claims["organisation_id"] = str(organisation_id)
    return jwt.encode(claims, settings.dev_jwt_secret, algorithm="HS256")


@lru_cache(maxsize=4)
def _jwks(url: str) -> jwt.PyJWKClient:
    return jwt.PyJWKClient(url, cache_keys=True)


def _unauthorised(detail: str) -> HTTPException:
    return HTTPException(status.HTTP_401_UNAUTHORIZED, detail=detail, headers={"WWW-Authenticate": "Bearer"})


async def decode(settings: GatewaySettings, token: str) -> dict[str, Any]:
    try:
        if settings.dev_mode and jwt.get_unverified_header(token).get("alg") == "HS256":
            claims: dict[str, Any] = jwt.decode(
                token, settings.dev_jwt_secret, algorithms=["HS256"], audience=settings.jwt_audience, issuer=DEV_ISSUER
            )
            return claims
        if not settings.oidc_jwks_url:
            raise _unauthorised("no identity provider is configured")
        key = await run_in_threadpool(_jwks(settings.oidc_jwks_url).get_signing_key_from_jwt, token)
        claims = jwt.decode(
            token, key.key, algorithms=["RS256", "ES256"], audience=settings.jwt_audience, issuer=settings.oidc_issuer
        )
        return claims
    except jwt.PyJWTError as exc:
        raise _unauthorised(f"invalid token: {exc}") from exc


async def current_caller(request: Request, authorization: Annotated[str | None, Header()] = None) -> Caller:
    settings: GatewaySettings = request.app.state.settings
    if not authorization or not authorization.lower().startswith("bearer "):
        raise _unauthorised("missing bearer token")
    claims = await decode(settings, authorization[7:].strip())
    role = claims.get("role")
    if role not in ROLES or not claims.get("sub"):
        raise _unauthorised("the token has no known role or subject")
    organisation = claims.get("organisation_id")
    if role == "sponsor" and not organisation:
        raise _unauthorised("a sponsor token must name its organisation")
    try:
        organisation_id = uuid.UUID(organisation) if role == "sponsor" and organisation else None
    except ValueError as exc:
        raise _unauthorised("organisation_id is not a valid id") from exc
    return Caller(sub=str(claims["sub"]), role=role, organisation_id=organisation_id)


CallerDep = Annotated[Caller, Depends(current_caller)]
