"""A gateway built in-process with chosen settings, and a small local identity provider (JWKS)."""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlparse

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from services.gateway.main import create_app
from services.gateway.settings import GatewaySettings
from shared.identity import KeyPair

NOWHERE = "http://127.0.0.1:9"  # nothing listens: a forwarded request answers 503
KEYS = KeyPair.generate()  # what the in-process gateways sign their (unsent) assertions with


def settings(**overrides: Any) -> GatewaySettings:
    base: dict[str, Any] = {
        "applications_url": NOWHERE,
        "pairing_url": NOWHERE,
        "feedback_url": NOWHERE,
        "notifications_url": NOWHERE,
        "upstream_timeout_s": 2.0,
        "dev_mode": False,
        "dev_jwt_secret": "in-process-secret-of-at-least-32-bytes",
        "gateway_signing_key": KEYS.private_pem,
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
        self.client_id = "lbb-staff-pages"
        self.next_user: dict[str, Any] = {"sub": "ann", "role": "applicant"}  # who signs in at /auth
        self.codes: dict[str, tuple[dict[str, Any], str, str]] = {}  # code -> (user, challenge, redirect_uri)

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
                url = urlparse(self.path)
                if url.path.endswith("/.well-known/openid-configuration"):
                    body = {
                        "issuer": provider.issuer,
                        "jwks_uri": provider.issuer + "/certs",
                        "authorization_endpoint": provider.issuer + "/auth",
                        "token_endpoint": provider.issuer + "/token",
                    }
                elif url.path.endswith("/certs"):
                    provider.jwks_requests += 1
                    body = provider.jwks()
                elif url.path.endswith("/auth"):  # the person signs in at once; back with a code
                    q = {k: v[0] for k, v in parse_qs(url.query).items()}
                    if q.get("client_id") != provider.client_id or q.get("code_challenge_method") != "S256":
                        self.send_error(400)
                        return
                    code = uuid.uuid4().hex
                    provider.codes[code] = (provider.next_user, q["code_challenge"], q["redirect_uri"])
                    self.send_response(302)
                    self.send_header(
                        "location", f"{q['redirect_uri']}?{urlencode({'code': code, 'state': q['state']})}"
                    )
                    self.end_headers()
                    return
                else:
                    self.send_error(404)
                    return
                self.answer(body)

            def do_POST(self) -> None:
                if not self.path.endswith("/token"):
                    self.send_error(404)
                    return
                length = int(self.headers.get("content-length", "0"))
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                user, challenge, redirect_uri = provider.codes.pop(form.get("code", ""), ({}, "", ""))
                verifier = form.get("code_verifier", "")
                computed = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
                if not user or computed != challenge or form.get("redirect_uri") != redirect_uri:
                    self.send_response(400)
                    self.end_headers()
                    return
                self.answer({"access_token": provider.token(**user), "token_type": "Bearer", "expires_in": 300})

            def answer(self, body: dict[str, Any]) -> None:
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
