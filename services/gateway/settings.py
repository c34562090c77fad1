"""Settings of the gateway: where the services are and how tokens are checked."""

from __future__ import annotations

import secrets

from pydantic import Field

from shared.settings import Settings


class GatewaySettings(Settings):
    applications_url: str = "http://127.0.0.1:8001"
    pairing_url: str = "http://127.0.0.1:8002"
    feedback_url: str = "http://127.0.0.1:8003"
    notifications_url: str = "http://127.0.0.1:8004"
    upstream_timeout_s: float = 15.0

    jwt_audience: str = "lbb"
    dev_jwt_secret: str = Field(default_factory=lambda: secrets.token_urlsafe(32))
    oidc_issuer: str = ""
    oidc_jwks_url: str = ""

    def service_urls(self) -> dict[str, str]:
        return {
            "applications": self.applications_url,
            "pairing": self.pairing_url,
            "feedback": self.feedback_url,
            "notifications": self.notifications_url,
        }
