"""docker-compose.yml's boundaries, checked statically: an internal network, only the gateway
published, Mailpit's UI on the loopback, Kafka with SASL/SCRAM and ACLs, no default passwords, and
.env.example documenting every value the file needs."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from services.gateway.settings import GatewaySettings
from shared.identity import KeyPair
from shared.registry import NAMES
from shared.settings import ServiceSettings

ROOT = Path(__file__).resolve().parents[2]
TEXT = (ROOT / "docker-compose.yml").read_text()
COMPOSE: dict[str, Any] = yaml.safe_load(TEXT)
SERVICES: dict[str, Any] = COMPOSE["services"]
VARIABLE = re.compile(r"\$\{([A-Z0-9_]+)(:?[-?])?([^}]*)\}")
SECRET = re.compile(r"PASSWORD|SECRET|TOKEN|KEY")


def substituted(value: str, env: dict[str, str]) -> str:
    """Compose's ${VAR}, ${VAR:-default} and ${VAR:?message}, as it would substitute them."""

    def one(match: re.Match[str]) -> str:
        name, kind, rest = match.groups()
        if env.get(name):
            return env[name]
        if kind == ":?":
            raise KeyError(f"{name}: {rest}")
        return rest if kind == ":-" else ""

    return VARIABLE.sub(one, value)


def test_only_the_gateway_is_published_and_mailpit_and_jaeger_only_on_the_loopback() -> None:
    published = {name: s["ports"] for name, s in SERVICES.items() if s.get("ports")}
    assert set(published) == {"gateway", "mailpit", "jaeger"}
    assert published["mailpit"] == ["127.0.0.1:8025:8025"]
    assert published["jaeger"] == ["127.0.0.1:16686:16686"]  # the UI; OTLP (4318) stays inside
    assert published["gateway"] == ["${GATEWAY_PORT:-8000}:8000"]
    assert not any("expose" in s for s in SERVICES.values())


def test_everything_but_the_gateway_mailpit_and_jaeger_is_on_the_internal_network_only() -> None:
    assert COMPOSE["networks"]["internal"] == {"internal": True}
    for name, service in SERVICES.items():
        expected = ["internal", "edge"] if name in ("gateway", "mailpit", "jaeger") else ["internal"]
        assert service["networks"] == expected, name


@pytest.mark.parametrize("name", [*NAMES, "gateway"])
def test_every_service_and_the_gateway_send_their_traces_to_jaeger(name: str) -> None:
    assert SERVICES["jaeger"]["image"].startswith("jaegertracing/all-in-one:")
    assert SERVICES[name]["environment"]["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://jaeger:4318"


def test_no_password_or_secret_has_a_default_and_each_is_required() -> None:
    names = set()
    for name, kind, _ in VARIABLE.findall(TEXT):
        if SECRET.search(name):
            assert kind == ":?", f"${{{name}}} must be required (${{{name}:?…}}), not defaulted"
            names.add(name)
    assert {"POSTGRES_PASSWORD", "KAFKA_ADMIN_PASSWORD", "KAFKA_ICS_READER_PASSWORD"} <= names
    for service in SERVICES.values():
        for key, value in (service.get("environment") or {}).items():
            if SECRET.search(key):
                assert str(value).startswith("${") and ":?" in str(value), f"{key} is written in the file"
    with pytest.raises(KeyError, match="POSTGRES_PASSWORD"):
        substituted(SERVICES["postgres"]["environment"]["POSTGRES_PASSWORD"], {})


def test_env_example_documents_every_variable_the_file_reads() -> None:
    example = (ROOT / ".env.example").read_text()
    documented = set(re.findall(r"^([A-Z0-9_]+)=", example, re.MULTILINE))
    read = {name for name, _, _ in VARIABLE.findall(TEXT)}
    assert read == documented
    for name in documented:  # never a password in the example: each is left for the operator
        if SECRET.search(name):
            assert re.search(rf"^{name}=$", example, re.MULTILINE), name


def test_kafka_requires_sasl_scram_and_denies_what_no_acl_allows() -> None:
    kafka = SERVICES["kafka"]
    assert kafka["entrypoint"] == ["bash", "/deploy/kafka/start.sh"]
    assert "./deploy/kafka:/deploy/kafka:ro" in kafka["volumes"]
    assert "--command-config /tmp/admin.properties" in kafka["healthcheck"]["test"][1]
    start = (ROOT / "deploy" / "kafka" / "start.sh").read_text()
    for line in (
        "listeners=SASL_PLAINTEXT://:9092,CONTROLLER://localhost:9093",
        "sasl.enabled.mechanisms=SCRAM-SHA-512",
        "authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer",
        "allow.everyone.if.no.acl.found=false",
        "--add-scram",
    ):
        assert line in start
    assert "PLAINTEXT://:9092" not in start.replace("SASL_PLAINTEXT", "")  # no unauthenticated listener


ENV = {
    "KAFKA_APPLICATIONS_PASSWORD": "k1",
    "KAFKA_PAIRING_PASSWORD": "k2",
    "KAFKA_FEEDBACK_PASSWORD": "k3",
    "KAFKA_NOTIFICATIONS_PASSWORD": "k4",
    "APPLICATIONS_DB_PASSWORD": "d1",
    "PAIRING_DB_PASSWORD": "d2",
    "FEEDBACK_DB_PASSWORD": "d3",
    "NOTIFICATIONS_DB_PASSWORD": "d4",
    "OIDC_ISSUER": "https://login.example.nhs.uk/realms/staff",
    "PERSON_ID_KEY": "p" * 40,
    "CSRF_SECRET": "c" * 40,
}
KEYS = KeyPair.generate()
# as .env carries them: one line, the line breaks written \n
ENV |= {
    "GATEWAY_SIGNING_KEY": KEYS.private_pem.replace("\n", "\\n"),
    "GATEWAY_PUBLIC_KEY": KEYS.public_pem.replace("\n", "\\n"),
}


@pytest.mark.parametrize("name", NAMES)
def test_each_service_settings_load_from_its_compose_environment(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in SERVICES[name]["environment"].items():
        monkeypatch.setenv(key, substituted(str(value), ENV))
    settings = ServiceSettings()
    assert settings.kafka_security_protocol == "SASL_PLAINTEXT" and settings.kafka_sasl_mechanism == "SCRAM-SHA-512"
    assert settings.kafka_sasl_username == name
    assert settings.kafka_sasl_password.get_secret_value() == ENV[f"KAFKA_{name.upper()}_PASSWORD"]


def test_the_gateway_has_no_kafka_and_no_dev_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    environment = SERVICES["gateway"]["environment"]
    assert not [k for k in environment if k.startswith("KAFKA_")] and "DEV_MODE" not in environment
    for key, value in environment.items():
        monkeypatch.setenv(key, substituted(str(value), ENV))
    settings = GatewaySettings()
    assert not settings.dev_mode and settings.oidc_issuer == ENV["OIDC_ISSUER"]
    assert "/ready" in SERVICES["gateway"]["healthcheck"]["test"][3]
