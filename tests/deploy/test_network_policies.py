"""The Kustomize base's NetworkPolicies, evaluated (tests/deploy/netpol.py): deny by default; the
services reachable only from the gateway and the metrics scraper; the gateway from the ingress
controller; egress only to PostgreSQL, Kafka, SMTP, DNS and the identity provider."""

from __future__ import annotations

import pytest

from shared.registry import NAMES
from tests.deploy.netpol import (
    DNS,
    ELSEWHERE,
    INGRESS_CONTROLLER,
    INTERNET,
    SCRAPER,
    STRANGER,
    Outside,
    Pod,
    Policies,
    base,
)

POLICIES, PODS = base()
GATEWAY = PODS["gateway"]
DATABASE, BROKER, MAIL, IDENTITY = (Outside("10.20.0.5"),) * 4  # outside the cluster, matched by port


def test_every_pod_of_the_base_is_selected_by_the_default_deny_in_both_directions() -> None:
    (deny,) = [p for p in POLICIES.policies if p["metadata"]["name"] == "default-deny"]
    assert deny["spec"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    assert "ingress" not in deny["spec"] and "egress" not in deny["spec"]
    assert set(PODS) == {*NAMES, "gateway", *(f"{n}-migrate" for n in NAMES), "kafka-acls"}


@pytest.mark.parametrize("service", NAMES)
def test_a_service_is_reached_by_the_gateway_and_the_scraper_only(service: str) -> None:
    target = PODS[service]
    assert POLICIES.allows(GATEWAY, target, 8000)
    assert POLICIES.allows(SCRAPER, target, 8000)
    assert not POLICIES.allows(GATEWAY, target, 5432)  # only the HTTP port
    for intruder in (STRANGER, ELSEWHERE, INGRESS_CONTROLLER, Pod("monitoring", {"app": "grafana"})):
        assert not POLICIES.allows(intruder, target, 8000), intruder
    for other in NAMES:
        if other != service:
            assert not POLICIES.allows(PODS[other], target, 8000), f"{other} -> {service}"


def test_the_gateway_is_reached_by_the_ingress_controller_and_the_scraper_only() -> None:
    assert POLICIES.allows(INGRESS_CONTROLLER, GATEWAY, 8000)
    assert POLICIES.allows(SCRAPER, GATEWAY, 8000)
    assert not POLICIES.allows(STRANGER, GATEWAY, 8000)
    assert not POLICIES.allows(PODS["applications"], GATEWAY, 8000)


@pytest.mark.parametrize("service", NAMES)
def test_a_service_sends_only_to_postgresql_kafka_and_dns(service: str) -> None:
    pod = PODS[service]
    assert POLICIES.allows(pod, DATABASE, 5432) and POLICIES.allows(pod, BROKER, 9093)
    assert POLICIES.allows(pod, DNS, 53, "UDP") and POLICIES.allows(pod, DNS, 53, "TCP")
    assert not POLICIES.allows(pod, INTERNET, 443) and not POLICIES.allows(pod, INTERNET, 80)
    assert not POLICIES.allows(pod, STRANGER, 53, "UDP")  # DNS only to kube-dns
    assert POLICIES.allows(pod, MAIL, 587) == (service == "notifications")


def test_the_gateway_sends_to_the_services_the_identity_provider_and_dns_only() -> None:
    assert all(POLICIES.allows(GATEWAY, PODS[n], 8000) for n in NAMES)
    assert POLICIES.allows(GATEWAY, IDENTITY, 443) and POLICIES.allows(GATEWAY, DNS, 53, "UDP")
    for port in (5432, 9092, 9093, 25, 587, 80):
        assert not POLICIES.allows(GATEWAY, DATABASE, port), port


def test_the_jobs_reach_only_what_they_need() -> None:
    for name in NAMES:
        job = PODS[f"{name}-migrate"]
        assert POLICIES.allows(job, DATABASE, 5432) and not POLICIES.allows(job, BROKER, 9093)
        assert not POLICIES.allows(job, PODS[name], 8000)
    acls = PODS["kafka-acls"]
    assert POLICIES.allows(acls, BROKER, 9093) and not POLICIES.allows(acls, DATABASE, 5432)


def test_the_evaluator_allows_everything_where_no_policy_isolates() -> None:
    """Without the base's policies every connection goes through: the denials above come from them."""
    open_namespace = Policies(POLICIES.namespace, [])
    assert open_namespace.allows(STRANGER, PODS["applications"], 8000)
    assert open_namespace.allows(PODS["applications"], INTERNET, 443)
    only_deny = Policies(POLICIES.namespace, [p for p in POLICIES.policies if p["metadata"]["name"] == "default-deny"])
    assert not only_deny.allows(GATEWAY, IDENTITY, 443)
    assert not only_deny.allows(INGRESS_CONTROLLER, GATEWAY, 8000)
