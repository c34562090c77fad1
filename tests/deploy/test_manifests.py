"""docker-compose.yml and the Kustomize base, checked statically (no Docker engine or cluster here)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from shared import topics
from shared.registry import NAMES

ROOT = Path(__file__).resolve().parents[2]
APP_SERVICES = NAMES


def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return data["services"]


def test_every_service_in_compose_has_its_env_health_check_and_dependencies() -> None:
    services = compose()
    for name in APP_SERVICES:
        svc = services[name]
        env = svc["environment"]
        assert env["KAFKA_BOOTSTRAP_SERVERS"] == "kafka:9092" and env["DATABASE_URL"].startswith(
            "postgresql+asyncpg://"
        )
        assert env["KAFKA_SECURITY_PROTOCOL"] == "SASL_PLAINTEXT" and env["KAFKA_SASL_USERNAME"] == name
        assert "healthcheck" in svc and f"services.{name}.main:api" in svc["command"]
        assert svc["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
        assert svc["depends_on"]["kafka-init"]["condition"] == "service_completed_successfully"
    gateway = services["gateway"]
    assert {f"{n.upper()}_URL" for n in APP_SERVICES} <= set(gateway["environment"])
    assert all(gateway["depends_on"][n]["condition"] == "service_healthy" for n in APP_SERVICES)
    assert (
        services["kafka"]["image"].startswith("apache/kafka")
        and "process.roles=broker,controller" in (ROOT / "deploy" / "kafka" / "start.sh").read_text()
    )
    assert services["postgres"]["image"].startswith("postgres:16") and "healthcheck" in services["postgres"]
    assert "mailpit" in services


def test_the_compose_init_step_creates_every_topic_with_explicit_partitions() -> None:
    script = "\n".join(compose()["kafka-init"]["command"])
    assert "--partitions 4" in script and 'create "$$t.dlq"' in script and "--command-config" in script
    # the settings ensure_topics gives them (shared/topics.py: config)
    assert f"create {topics.CONTACTS} --config cleanup.policy=compact" in script
    assert (
        f'create "$$t.dlq" --config retention.ms={topics.config(topics.dlq(topics.PAIRING))["retention.ms"]}' in script
    )
    assert script.rstrip().endswith("bash /deploy/kafka/acls.sh")  # then the users and the ACLs
    for topic in topics.ALL_TOPICS:
        assert topic in script


def kustomize_documents() -> list[dict[str, Any]]:
    base = ROOT / "deploy" / "k8s" / "base"
    if shutil.which("kubectl"):
        rendered = subprocess.run(
            ["kubectl", "kustomize", str(base)], check=True, capture_output=True, text=True
        ).stdout
        return [d for d in yaml.safe_load_all(rendered) if d]
    kustomization = yaml.safe_load((base / "kustomization.yaml").read_text())
    return [d for f in kustomization["resources"] for d in yaml.safe_load_all((base / f).read_text()) if d]


@pytest.fixture(scope="module")
def k8s() -> dict[tuple[str, str], dict[str, Any]]:
    return {(d["kind"], d["metadata"]["name"]): d for d in kustomize_documents()}


def test_every_deployment_has_probes_resources_and_config_references(k8s: dict[tuple[str, str], Any]) -> None:
    for name in (*APP_SERVICES, "gateway"):
        pod = k8s[("Deployment", name)]["spec"]["template"]["spec"]
        (container,) = pod["containers"]
        # alive = the process answers; ready = its dependencies (a service) or its own configuration
        # (the gateway: never the services behind it, so one service down restarts and drains nothing)
        assert container["livenessProbe"]["httpGet"]["path"] == "/live"
        ready = "/ready" if name == "gateway" else "/health"
        assert container["readinessProbe"]["httpGet"]["path"] == ready
        assert container["resources"]["requests"] and container["resources"]["limits"]
        refs = {next(iter(ref.values()))["name"] for ref in container["envFrom"]}
        kafka = set() if name == "gateway" else {"lbb-kafka-config"}
        assert refs == {"lbb-config", f"lbb-{name}-secrets", *kafka}
        assert ("PodDisruptionBudget", name) in k8s and ("Service", name) in k8s


def test_every_service_has_a_migration_job(k8s: dict[tuple[str, str], Any]) -> None:
    for name in APP_SERVICES:
        job = k8s[("Job", f"{name}-migrate")]
        container = job["spec"]["template"]["spec"]["containers"][0]
        # the image has no command-line tools: the migration runs through the standard library's argparse
        assert container["command"] == ["python", "-m", "shared.migrate", name]
        assert container["securityContext"]["readOnlyRootFilesystem"] is True


def test_every_container_of_the_image_runs_as_a_user_on_a_read_only_root(k8s: dict[tuple[str, str], Any]) -> None:
    checked = 0
    for (kind, _name), doc in k8s.items():
        if kind not in ("Deployment", "Job"):
            continue
        pod = doc["spec"]["template"]["spec"]
        for container in pod["containers"]:
            if container["image"].startswith("beyond-boundaries"):
                checked += 1
                assert pod["securityContext"]["runAsNonRoot"] is True
                assert container["securityContext"]["readOnlyRootFilesystem"] is True
                assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert checked == 2 * len(APP_SERVICES) + 1  # a Deployment and a migration Job each, and the gateway


def test_the_gateway_key_pair_comes_from_the_environment_and_is_required_in_compose() -> None:
    """The gateway alone holds the signing key, every service the public key; neither has a default, so
    Compose refuses to start without them (``${VAR:?…}``), and no key is in the repository."""
    services = compose()
    gateway = services["gateway"]["environment"]
    assert gateway["GATEWAY_SIGNING_KEY"].startswith("${GATEWAY_SIGNING_KEY:?") and "GATEWAY_PUBLIC_KEY" not in gateway
    for name in APP_SERVICES:
        env = services[name]["environment"]
        assert env["GATEWAY_PUBLIC_KEY"].startswith("${GATEWAY_PUBLIC_KEY:?") and "GATEWAY_SIGNING_KEY" not in env
    committed = [ROOT / "docker-compose.yml", *(ROOT / "deploy").rglob("*.yaml")]
    assert not [path for path in committed if "-----BEGIN" in path.read_text()]


def test_the_gateway_key_pair_comes_from_secrets_in_kubernetes(k8s: dict[tuple[str, str], Any]) -> None:
    def secret_refs(name: str) -> dict[str, dict[str, str]]:
        (container,) = k8s[("Deployment", name)]["spec"]["template"]["spec"]["containers"]
        return {e["name"]: e["valueFrom"]["secretKeyRef"] for e in container.get("env", []) if "valueFrom" in e}

    assert secret_refs("gateway") == {"GATEWAY_SIGNING_KEY": {"name": "lbb-gateway-signing-key", "key": "private.pem"}}
    for name in APP_SERVICES:
        assert secret_refs(name) == {"GATEWAY_PUBLIC_KEY": {"name": "lbb-gateway-public-key", "key": "public.pem"}}
    assert not [key for key in k8s if key[0] == "Secret"]  # the overlay supplies them; none is committed
