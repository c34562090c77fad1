"""A small evaluator of Kubernetes NetworkPolicies (networking.k8s.io/v1), enough for the base's:
pod and namespace selectors (matchLabels, matchExpressions), ipBlock, ports with protocols, and the
rule that a pod selected by no policy of a direction is open in that direction.

A connection is allowed when the source may send it (egress) and the destination may take it
(ingress); each side is checked only where the pod is in the policies' namespace."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

Labels = Mapping[str, str]


@dataclass(frozen=True)
class Pod:
    namespace: str
    labels: Labels = field(default_factory=dict)
    namespace_labels: Labels = field(default_factory=dict)

    @property
    def all_namespace_labels(self) -> dict[str, str]:
        return {"kubernetes.io/metadata.name": self.namespace, **self.namespace_labels}


@dataclass(frozen=True)
class Outside:
    """An address outside the cluster (the database, the brokers, the identity provider)."""

    ip: str


Peer = Pod | Outside


def selects(selector: Mapping[str, Any] | None, labels: Labels) -> bool:
    """A label selector; an empty one selects everything."""
    selector = selector or {}
    if any(labels.get(k) != v for k, v in (selector.get("matchLabels") or {}).items()):
        return False
    for expression in selector.get("matchExpressions") or []:
        key, operator, values = expression["key"], expression["operator"], expression.get("values", [])
        present = key in labels
        ok = {
            "In": present and labels.get(key) in values,
            "NotIn": not present or labels.get(key) not in values,
            "Exists": present,
            "DoesNotExist": not present,
        }[operator]
        if not ok:
            return False
    return True


def _peer_matches(peer_rule: Mapping[str, Any], peer: Peer, policy_namespace: str) -> bool:
    if "ipBlock" in peer_rule:
        if not isinstance(peer, Outside):
            return False  # pods are matched by selectors here, not by their (changing) addresses
        block = peer_rule["ipBlock"]
        address = ipaddress.ip_address(peer.ip)
        inside = address in ipaddress.ip_network(block["cidr"])
        return inside and not any(address in ipaddress.ip_network(e) for e in block.get("except", []))
    if not isinstance(peer, Pod):
        return False
    if "namespaceSelector" in peer_rule:
        if not selects(peer_rule["namespaceSelector"], peer.all_namespace_labels):
            return False
    elif peer.namespace != policy_namespace:
        return False
    return selects(peer_rule.get("podSelector"), peer.labels)


def _port_matches(ports: list[Mapping[str, Any]] | None, port: int, protocol: str) -> bool:
    if not ports:
        return True
    return any(p.get("protocol", "TCP") == protocol and p.get("port") in (None, port) for p in ports)


@dataclass
class Policies:
    namespace: str
    policies: list[dict[str, Any]]

    @classmethod
    def of(cls, documents: Iterable[Mapping[str, Any]], namespace: str) -> Policies:
        return cls(namespace, [dict(d) for d in documents if d.get("kind") == "NetworkPolicy"])

    def _applying(self, pod: Pod, direction: str) -> list[dict[str, Any]]:
        if pod.namespace != self.namespace:
            return []
        return [
            p
            for p in self.policies
            if direction in p["spec"].get("policyTypes", ["Ingress"]) and selects(p["spec"]["podSelector"], pod.labels)
        ]

    def _allowed(self, pod: Pod, direction: str, peer: Peer, port: int, protocol: str) -> bool:
        applying = self._applying(pod, direction)
        if not applying:
            return True  # no policy isolates this pod in this direction
        key, peers = ("ingress", "from") if direction == "Ingress" else ("egress", "to")
        for policy in applying:
            for rule in policy["spec"].get(key) or []:
                if not _port_matches(rule.get("ports"), port, protocol):
                    continue
                targets = rule.get(peers)
                if not targets or any(_peer_matches(t, peer, self.namespace) for t in targets):
                    return True
        return False

    def allows(self, source: Pod, destination: Peer, port: int, protocol: str = "TCP") -> bool:
        """Whether ``source`` can open a connection to ``destination`` on ``port``."""
        if not self._allowed(source, "Egress", destination, port, protocol):
            return False
        if isinstance(destination, Pod):
            return self._allowed(destination, "Ingress", source, port, protocol)
        return True


NAMESPACE = "beyond-boundaries"  # any: the base sets none, so the policies apply in the one it is deployed to
INGRESS_CONTROLLER = Pod("ingress-nginx", {"app.kubernetes.io/name": "ingress-nginx"})
SCRAPER = Pod("monitoring", {"app.kubernetes.io/name": "prometheus"})
DNS = Pod("kube-system", {"k8s-app": "kube-dns"})
STRANGER = Pod(NAMESPACE, {"app.kubernetes.io/name": "debug-shell"})  # any other pod in the namespace
ELSEWHERE = Pod("default", {"app.kubernetes.io/name": "gateway"})  # a look-alike in another namespace
INTERNET = Outside("203.0.113.7")


def base() -> tuple[Policies, dict[str, Pod]]:
    """The Kustomize base's policies, and a pod of each of its Deployments and Jobs, labelled as their
    templates label them."""
    from tests.deploy.test_manifests import kustomize_documents

    documents = kustomize_documents()
    pods = {
        d["metadata"]["name"]: Pod(NAMESPACE, d["spec"]["template"]["metadata"]["labels"])
        for d in documents
        if d["kind"] in ("Deployment", "Job")
    }
    return Policies.of(documents, NAMESPACE), pods
