"""Settings of the gateway: where the services are and how tokens are checked."""

from __future__ import annotations

import secrets
from functools import cached_property
from ipaddress import IPv4Network, IPv6Network, ip_network

from pydantic import Field, SecretStr, field_validator, model_validator

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
    # The JOSE `typ` headers an access token may carry (a JSON list; compared without case or an
    # `application/` prefix; none given counts as `JWT`). RFC 9068 access tokens are `at+jwt`;
    # Keycloak and Entra ID type theirs `JWT`, so those are accepted unless they bear an ID token's
    # marks (auth.py). `["at+jwt"]` accepts RFC 9068 access tokens only.
    jwt_accepted_types: list[str] = Field(default_factory=lambda: ["at+jwt", "JWT"], min_length=1)
    jwks_min_refresh_s: float = Field(default=60, ge=0)

    # Limits (middleware.py)
    max_body_bytes: int = Field(default=64 * 1024, gt=0)
    rate_limit_writes: str = "120/minute"  # per verified caller on POST/PUT/PATCH/DELETE, `limits` notation
    rate_limit_writes_per_ip: str = "600/minute"  # per client address on the same routes
    rate_limit_reads: str = "600/minute"  # per verified caller on every other route
    rate_limit_reads_per_ip: str = "3000/minute"  # per client address on every other route
    # The proxies whose X-Forwarded-For is believed (comma-separated addresses or networks, `*` for
    # any): uvicorn reads the same variable. From anyone else the header is ignored.
    forwarded_allow_ips: str = "127.0.0.1,::1"
    cors_allow_origins: list[str] = Field(default_factory=list)  # closed by default; JSON list in the environment
    # Signs the staff pages' CSRF tokens: the same on every instance. Required outside dev mode.
    csrf_secret: str = ""
    hsts: str = "max-age=31536000"  # Strict-Transport-Security outside dev mode

    @property
    def secure_cookies(self) -> bool:
        """The staff pages' cookies go over HTTPS only, unless in dev mode."""
        return not self.dev_mode

    @model_validator(mode="after")
    def _dev_csrf_secret(self) -> GatewaySettings:
        """In dev mode an unset CSRF_SECRET is made up for this process; outside it, startup.py refuses."""
        if not self.csrf_secret and self.dev_mode:
            self.csrf_secret = secrets.token_urlsafe(32)
        return self

    @field_validator("forwarded_allow_ips")
    @classmethod
    def _addresses(cls, value: str) -> str:
        for entry in value.split(","):
            if entry.strip() not in ("", "*"):
                try:
                    ip_network(entry.strip(), strict=False)
                except ValueError as exc:
                    raise ValueError(f"FORWARDED_ALLOW_IPS: {entry.strip()!r} is not an address or network") from exc
        return value

    def trusted_proxies(self) -> list[IPv4Network | IPv6Network] | None:
        """FORWARDED_ALLOW_IPS as networks; None for `*` (every peer is trusted)."""
        entries = [e.strip() for e in self.forwarded_allow_ips.split(",") if e.strip()]
        if "*" in entries:
            return None
        return [ip_network(e, strict=False) for e in entries]

    @field_validator("gateway_signing_key")
    @classmethod
    def _a_signing_key(cls, pem: SecretStr) -> SecretStr:
        if pem.get_secret_value().strip():
            signing_key(pem.get_secret_value())  # a key that cannot be read stops the gateway at once
        return pem

    @cached_property
    def service_urls(self) -> dict[str, str]:
        """Each service's base URL by name (read on every forwarded request: made once)."""
        return {name: str(getattr(self, f"{name}_url")) for name in NAMES}
