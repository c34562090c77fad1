"""A gateway built in-process with chosen settings, and a small local identity provider (JWKS)."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from services.gateway.main import create_app
from services.gateway.settings import GatewaySettings

NOWHERE = "http://127.0.0.1:9"  # nothing listens: a forwarded request answers 503


def settings(**overrides: Any) -> GatewaySettings:
    base: dict[str, Any] = {
        "applications_url": NOWHERE,
        "pairing_url": NOWHERE,
        "feedback_url": NOWHERE,
        "notifications_url": NOWHERE,
        "upstream_timeout_s": 2.0,
        "dev_mode": False,
        "dev_jwt_secret": "in-process-secret-of-at-least-32-bytes",
    }
    return GatewaySettings(**(base | overrides))


@asynccontextmanager
async def gateway(config: GatewaySettings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(config, configure_logs=False)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=("10.1.2.3", 5555))
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as client:
            yield client


class IdentityProvider:
    """An OIDC issuer on 127.0.0.1: /.well-known/openid-configuration and its JWKS, with RSA keys."""

    def __init__(self) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = uuid.uuid4().hex
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.jwks_requests = 0

    @property
    def issuer(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/realms/staff"

    def jwks(self) -> dict[str, Any]:
        public = json.loads(RSAAlgorithm.to_jwk(self.key.public_key()))
        return {"keys": [public | {"kid": self.kid, "use": "sig", "alg": "RS256"}]}

    def rotate(self) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = uuid.uuid4().hex

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path.endswith("/.well-known/openid-configuration"):
                    body = {"issuer": provider.issuer, "jwks_uri": provider.issuer + "/certs"}
                elif self.path.endswith("/certs"):
                    provider.jwks_requests += 1
                    body = provider.jwks()
                else:
                    self.send_error(404)
                    return
                raw = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, *args: Any) -> None:
                pass

        return Handler

    def token(
        self,
        sub: str = "ada",
        role: str = "admin",
        *,
        audience: str = "lbb",
        issuer: str | None = None,
        expires_in: timedelta = timedelta(minutes=5),
        key: Any = None,
        kid: str | None = None,
        **claims: Any,
    ) -> str:
        now = datetime.now(UTC)
        payload = {
            "iss": issuer if issuer is not None else self.issuer,
            "aud": audience,
            "sub": sub,
            "role": role,
            "iat": now,
            "exp": now + expires_in,
            **claims,
        }
        return jwt.encode(payload, key or self.key, algorithm="RS256", headers={"kid": kid or self.kid})


@contextmanager
def identity_provider() -> Iterator[IdentityProvider]:
    provider = IdentityProvider()
    provider.thread.start()
    try:
        yield provider
    finally:
        provider.server.shutdown()
        provider.server.server_close()
