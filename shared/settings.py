"""Settings every service shares, read from the environment (pydantic-settings)."""

from __future__ import annotations

from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.identity import public_key


class Settings(BaseSettings):
    """Connection and runtime settings. Every field maps to an upper-case environment variable."""

    model_config = SettingsConfigDict(env_file=None, extra="ignore")

    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    database_url: str = "postgresql+asyncpg://postgres@127.0.0.1:5432/lbb"

    # Consumer-group timings: the embedded broker waits about half the session timeout on each
    # JoinGroup, so development and tests keep it short (DESIGN.md, "Verified on these machines").
    kafka_session_timeout_ms: int = 6000
    kafka_heartbeat_interval_ms: int = 500
    # aiokafka's request timeout is its delivery timeout: keep it longer than a broker outage.
    kafka_request_timeout_ms: int = 120_000

    # How long the session between two statements may leave a transaction open (a guard: a process
    # frozen inside a transaction gives its locks back after this long).
    db_idle_in_transaction_timeout_s: float = Field(default=60, gt=0)

    relay_poll_interval_s: float = Field(default=0.5, gt=0)
    # One relay per service publishes, the holder of a lease renewed while it publishes; when the
    # holder stops renewing (killed, frozen), another instance takes over after this long at most.
    relay_lease_s: float = Field(default=10, gt=0)
    relay_batch_size: int = Field(default=200, gt=0)
    # Woken by a commit, the relay waits this long for more before it claims rows: under load one
    # claim-publish-mark round then carries several commits' events instead of one.
    relay_linger_ms: float = Field(default=5, ge=0)
    # Sent outbox rows are kept this long (audit, replay by hand), then pruned by the relay.
    outbox_retention_hours: float = Field(default=168, gt=0)
    outbox_prune_interval_s: float = Field(default=3600, gt=0)
    handler_max_attempts: int = Field(default=5, gt=0)
    # The broker takes a consumer that has not polled for this long for dead and rebalances.
    kafka_max_poll_interval_ms: int = Field(default=300_000, gt=0)
    # Retrying a batch's failing handlers (attempts and pauses, outside the batch's transaction) takes
    # at most about this long; past it a failing event is dead-lettered on its next failure. Kept
    # well below the poll interval (a quarter at most).
    consumer_retry_budget_s: float = Field(default=30, gt=0)
    # Consumers take whatever has arrived, up to this many events, in one transaction.
    consumer_batch_size: int = Field(default=100, gt=0)
    consumer_batch_timeout_ms: int = Field(default=25, gt=0)
    # How long the broker may hold a fetch that finds nothing new: latency against idle polling on
    # the embedded broker (docs/decisions/0003).
    kafka_fetch_max_wait_ms: int = Field(default=100, gt=0)
    # How much a fetch waits to gather (up to ``kafka_fetch_max_wait_ms``): 1 answers with the first
    # event. A service off the request's path (a projection) gathers more, so one transaction applies
    # several events (docs/decisions/0013).
    kafka_fetch_min_bytes: int = Field(default=1, gt=0)

    http_host: str = "127.0.0.1"
    http_port: int = 8000

    dev_mode: bool = False
    log_level: str = "INFO"

    # How every Kafka client connects (shared/broker.py: the FastStream broker, the admin client).
    # PLAINTEXT for the embedded broker in development; SASL_SSL with SCRAM-SHA-512 in production,
    # one principal per service (deploy/kafka/acls.sh grants each what it needs, nothing more).
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    kafka_sasl_mechanism: Literal["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"] = "SCRAM-SHA-512"
    kafka_sasl_username: str = ""
    kafka_sasl_password: SecretStr = SecretStr("")
    kafka_ssl_cafile: str = ""  # the CA that signed the brokers' certificates; empty: the system's CAs

    @model_validator(mode="after")
    def _retries_within_the_poll_interval(self) -> Settings:
        if self.consumer_retry_budget_s * 1000 > self.kafka_max_poll_interval_ms / 4:
            raise ValueError(
                "CONSUMER_RETRY_BUDGET_S must stay within a quarter of KAFKA_MAX_POLL_INTERVAL_MS "
                "(retries happen between two polls)"
            )
        return self

    @model_validator(mode="after")
    def _kafka_credentials(self) -> Settings:
        if self.kafka_security_protocol.startswith("SASL_") and not (
            self.kafka_sasl_username and self.kafka_sasl_password.get_secret_value()
        ):
            raise ValueError(
                f"KAFKA_SECURITY_PROTOCOL={self.kafka_security_protocol} needs KAFKA_SASL_USERNAME and "
                "KAFKA_SASL_PASSWORD (the service's principal and its password)"
            )
        if self.kafka_ssl_cafile and not self.kafka_security_protocol.endswith("SSL"):
            raise ValueError(
                f"KAFKA_SSL_CAFILE is set but KAFKA_SECURITY_PROTOCOL={self.kafka_security_protocol} does not use TLS"
            )
        return self


class ServiceSettings(Settings):
    """Settings of a service that owns a schema."""

    # How often the retention purge looks for personal data past its time (shared/retention.py).
    retention_sweep_interval_s: float = Field(default=3600, gt=0)
    # How often consumer lag and dead-letter depth are read from the broker (shared/kafka_metrics.py).
    kafka_metrics_interval_s: float = Field(default=15, gt=0)

    service_name: str = ""
    db_schema: str = ""
    # The gateway's Ed25519 public key (PEM): every request's X-Lbb-Assertion is verified with it.
    # Unset, the service refuses every request with 401 (shared/identity.py).
    gateway_public_key: str = ""

    @field_validator("gateway_public_key")
    @classmethod
    def _a_public_key(cls, pem: str) -> str:
        if pem.strip():
            public_key(pem)  # a key that cannot be read stops the service at start, not at each request
        return pem

    @property
    def group_id(self) -> str:
        return f"lbb-{self.service_name}"


# --- start-up check: no known default password or secret outside dev mode ---

# Values that ship in this repository or are everyone's first guess: the dev stack's JWT secret
# (lbb/devstack.py), docker-compose.yml's example passwords (the `lbb` owner, each service's role
# named after itself), PostgreSQL's and the usual placeholders. Compared without case.
DEFAULT_SECRETS = frozenset(
    {
        "dev-only-secret-not-for-production",
        "lbb",
        "applications",
        "pairing",
        "feedback",
        "notifications",
        "postgres",
        "password",
        "passw0rd",
        "changeme",
        "change-me",
        "secret",
        "admin",
        "guest",
        "test",
        "example",
    }
)
SECRET_WORDS = ("secret", "password")


class DefaultSecretError(RuntimeError):
    """Start-up refused: a setting holds a known default password or secret (named, never shown)."""


def _default_password_in_url(value: str) -> bool:
    try:
        url = urlsplit(value)
        user, password = url.username, url.password
    except ValueError:
        return False
    if not password:
        return False  # none in the URL: PGPASSWORD, a .pgpass file or certificates supply it
    return password.lower() in DEFAULT_SECRETS or password == user


def default_secrets(settings: BaseSettings) -> list[str]:
    """The settings (upper-case names, as in the environment) that hold a known default value:
    a ``*secret*``/``*password*`` setting equal to one of DEFAULT_SECRETS, or a URL setting whose
    password is one of them or equals its user name (``postgres:postgres``)."""
    found = []
    for name, value in settings.model_dump().items():
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        if not isinstance(value, str) or not value:
            continue
        secretive = any(word in name for word in SECRET_WORDS)
        if (secretive and value.lower() in DEFAULT_SECRETS) or ("://" in value and _default_password_in_url(value)):
            found.append(name.upper())
    return found


def refuse_default_secrets(settings: Settings) -> None:
    """Called at start-up by the gateway and every service: outside dev mode, refuse to start while a
    setting holds a known default password or secret. The message names the settings, never a value."""
    if settings.dev_mode:
        return
    found = default_secrets(settings)
    if found:
        raise DefaultSecretError(
            f"refusing to start outside dev mode: {', '.join(found)} "
            f"{'holds' if len(found) == 1 else 'hold'} a known default password or secret; "
            "set a value of your own (or DEV_MODE=true on a developer's machine)"
        )
