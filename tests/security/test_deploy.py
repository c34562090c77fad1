"""Issue 17, the deployment side: the attacks tried against what Compose, the Kustomize base and the
Kafka ACLs allow. Kafka ACLs are evaluated from the generated list (lbb/acls.py: the embedded broker has
no ACLs), NetworkPolicies by tests/deploy/netpol.py, Compose from the file itself; the gateway's
readiness with a service down is tried on a real in-process gateway."""

from __future__ import annotations

import re

import pytest
from pydantic import ValidationError

from lbb import acls
from shared import topics
from shared.registry import NAMES
from shared.settings import ServiceSettings
from tests.deploy.netpol import ELSEWHERE, INGRESS_CONTROLLER, INTERNET, STRANGER, Outside, base
from tests.deploy.test_compose import SECRET, SERVICES, TEXT, VARIABLE
from tests.gateway.inprocess import gateway, settings
from tests.security.conftest import Attack

POLICIES, PODS = base()
ACLS = acls.all_acls()


def kafka(principal: str, operation: acls.Operation, topic: str) -> str:
    return "allowed" if acls.allows(ACLS, principal, operation, "topic", topic) else "denied"


def network(allowed: bool) -> str:
    return "reached" if allowed else "denied"


def test_an_outside_principal_reads_no_internal_topic_and_no_dlq(attack: Attack) -> None:
    attack("ics-reader reads lbb.internal.contacts.v1", "denied", kafka(acls.ICS_READER, "Read", topics.CONTACTS))
    dlqs = [topics.dlq(t) for t in topics.ALL_TOPICS]
    read = [t for t in dlqs if kafka(acls.ICS_READER, "Read", t) == "allowed"]
    attack(f"ics-reader reads a dead-letter topic (any of {len(dlqs)})", "denied", "allowed" if read else "denied")
    attack("ics-reader writes lbb.applications.v1", "denied", kafka(acls.ICS_READER, "Write", topics.APPLICATIONS))
    group = acls.allows(ACLS, acls.ICS_READER, "Read", "group", "lbb-notifications")
    attack("ics-reader joins the consumer group lbb-notifications", "denied", "allowed" if group else "denied")
    attack(
        "ics-reader reads lbb.pairing.v1 (an integration topic)",
        "allowed",
        kafka(acls.ICS_READER, "Read", topics.PAIRING),
    )


def test_a_service_principal_cannot_forge_another_services_events(attack: Attack) -> None:
    attack("pairing writes lbb.applications.v1", "denied", kafka("pairing", "Write", topics.APPLICATIONS))
    attack("notifications writes lbb.internal.contacts.v1", "denied", kafka("notifications", "Write", topics.CONTACTS))
    attack(
        "feedback reads lbb.notifications.v1 (not its to read)",
        "denied",
        kafka("feedback", "Read", topics.NOTIFICATIONS),
    )
    stolen = acls.allows(ACLS, "notifications", "Read", "group", "lbb-pairing")
    attack("notifications commits offsets of group lbb-pairing", "denied", "allowed" if stolen else "denied")


@pytest.mark.parametrize("service", NAMES)
def test_a_pod_without_the_gateway_label_reaches_no_service(attack: Attack, service: str) -> None:
    target = PODS[service]
    attack(
        f"a pod without the gateway label reaches {service}:8000",
        "denied",
        network(POLICIES.allows(STRANGER, target, 8000)),
    )
    attack(
        f"a pod labelled gateway in another namespace reaches {service}:8000",
        "denied",
        network(POLICIES.allows(ELSEWHERE, target, 8000)),
    )
    attack(f"the gateway reaches {service}:8000", "reached", network(POLICIES.allows(PODS["gateway"], target, 8000)))


def test_the_network_policies_stop_a_detour_and_exfiltration(attack: Attack) -> None:
    attack(
        "the ingress controller reaches applications:8000 around the gateway",
        "denied",
        network(POLICIES.allows(INGRESS_CONTROLLER, PODS["applications"], 8000)),
    )
    attack(
        "the applications pod sends to the internet (203.0.113.7:443)",
        "denied",
        network(POLICIES.allows(PODS["applications"], INTERNET, 443)),
    )
    attack(
        "the gateway pod connects to PostgreSQL (5432)",
        "denied",
        network(POLICIES.allows(PODS["gateway"], Outside("10.20.0.5"), 5432)),
    )


async def test_one_service_down_neither_restarts_nor_drains_the_gateway(attack: Attack) -> None:
    async with gateway(settings(dev_mode=True)) as client:  # every service down
        live, ready = (await client.get("/live")).status_code, (await client.get("/ready")).status_code
    attack("the services are down: the gateway's liveness and readiness probes", "200 200", f"{live} {ready}")


def test_compose_publishes_nothing_but_the_gateway_and_ships_no_password(attack: Attack) -> None:
    published = sorted(
        name for name, s in SERVICES.items() if s.get("ports") and name not in ("gateway", "mailpit", "jaeger")
    )
    attack("Compose publishes a port of a service, Kafka or PostgreSQL", "none", ", ".join(published) or "none")
    attack(
        "Compose binds Mailpit's UI beyond the loopback", "127.0.0.1:8025:8025", ", ".join(SERVICES["mailpit"]["ports"])
    )
    attack(  # the trace viewer's UI; traces come in on 4318 inside the internal network only
        "Compose binds Jaeger's UI beyond the loopback", "127.0.0.1:16686:16686", ", ".join(SERVICES["jaeger"]["ports"])
    )
    defaults = sorted({n for n, kind, _ in VARIABLE.findall(TEXT) if SECRET.search(n) and kind != ":?"})
    literal = re.findall(r"PASSWORD:\s*[\"']?[a-z0-9]", TEXT)
    attack("docker-compose.yml holds a default password", "none", ", ".join(defaults + literal) or "none")


def test_a_kafka_client_without_credentials_is_refused_before_it_connects(attack: Attack) -> None:
    try:
        ServiceSettings(kafka_security_protocol="SASL_SSL", kafka_sasl_username="pairing")
        got = "started"
    except ValidationError as exc:
        got = "refused" if "KAFKA_SASL_PASSWORD" in str(exc) else f"refused for another reason: {exc}"
    attack("a service starts with SASL_SSL and no Kafka password", "refused", got)
