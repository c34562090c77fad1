"""Settings of the gateway: where the services are and how tokens are checked."""

from __future__ import annotations

import secrets

from pydantic import Field, SecretStr, field_validator

from shared.identity import signing_key
from shared.registry import DEFAULT_PORTS, NAMES
from shared.settings import Settings


def _default_url(service: str) -> str:
    return f"http://127.0.0.1:{DEFAULT_PORTS[service]}"


class GatewaySettings(Settings):
    # Where each service of shared/registry.py answers (APPLICATIONS_URL, ... in the environment).
    applications_url: str = _default_url("applications")
    pairing_url: str = _default_url("pairing")
    feedback_url: str = _default_url("feedback")
    notifications_url: str = _default_url("notifications")
    upstream_timeout_s: float = 15.0
    # The Ed25519 private key (PEM) the gateway signs each forwarded request's assertion with; the
    # services hold its public key (GATEWAY_PUBLIC_KEY). Required: the gateway does not start without it.
    gateway_signing_key: SecretStr = SecretStr("")

    jwt_audience: str = "lbb"
    dev_jwt_secret: str = Field(default_factory=lambda: secrets.token_urlsafe(32))
    oidc_issuer: str = ""  # e.g. https://login.example-ics.nhs.uk/realms/staff: tokens' iss, and where keys are found
    oidc_jwks_url: str = ""  # default: jwks_uri of the issuer's /.well-known/openid-configuration
    oidc_client_id: str = ""  # the staff pages' sign-in (authorization code + PKCE); empty: no sign-in button
    oidc_client_secret: str = ""  # for a confidential client; a public client leaves it empty
    oidc_scopes: str = "openid profile"
    public_url: str = ""  # how browsers reach the gateway, for the sign-in redirect; default: the request's
    jwt_role_claim: str = "role"
    jwt_organisation_claim: str = "organisation_id"
    jwt_leeway_s: float = Field(default=30, ge=0)
    jwks_min_refresh_s: float = Field(default=60, ge=0)

    # Limits (middleware.py)
    max_body_bytes: int = Field(default=64 * 1024, gt=0)
    rate_limit_writes: str = "120/minute"  # per caller (token) on POST/PUT/PATCH/DELETE, `limits` notation
    rate_limit_writes_per_ip: str = "600/minute"  # per client address on the same routes
    cors_allow_origins: list[str] = Field(default_factory=list)  # closed by default; JSON list in the environment
    csrf_secret: str = Field(default_factory=lambda: secrets.token_urlsafe(32))  # the same on every instance
    secure_cookies: bool = False  # the staff pages' session cookie only over HTTPS (set behind TLS)

    @field_validator("gateway_signing_key")
    @classmethod
    def _a_signing_key(cls, pem: SecretStr) -> SecretStr:
        if pem.get_secret_value().strip():
            signing_key(pem.get_secret_value())  # a key that cannot be read stops the gateway at once
        return pem

    def service_urls(self) -> dict[str, str]:
        return {name: str(getattr(self, f"{name}_url")) for name in NAMES}
