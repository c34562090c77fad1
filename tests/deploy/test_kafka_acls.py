"""The Kafka ACLs (lbb/acls.py): generated from the code, applied by deploy/kafka/acls.sh, and exactly
what each principal needs, checked against what each service's running code subscribes to."""

from __future__ import annotations

import importlib
import subprocess
from pathlib import Path

import pytest
import yaml

from lbb import acls
from shared import topics
from shared.registry import NAMES, SERVICES, Service

ROOT = Path(__file__).resolve().parents[2]
EVERY_TOPIC = topics.all_topics_with_dlq()


def subscribed(service: str) -> set[str]:
    """The topics the service's composition root really subscribes to (FastStream's subscriber)."""
    runtime = importlib.import_module(f"services.{service}.main").runtime
    return {t.name if hasattr(t, "name") else str(t) for s in runtime.broker.subscribers for t in s.topics}


def allowed(principal: str, operation: acls.Operation) -> set[str]:
    return {t for t in EVERY_TOPIC if acls.allows(acls.all_acls(), principal, operation, "topic", t)}


def test_the_committed_acl_list_and_configmap_are_what_the_code_generates() -> None:
    assert acls.ACLS_FILE.read_text() == acls.acls_text(), "run `python -m lbb.acls` and commit the result"
    assert acls.K8S_FILE.read_text() == acls.k8s_text(), "run `python -m lbb.acls` and commit the result"
    config_map = yaml.safe_load(acls.K8S_FILE.read_text())
    assert config_map["data"]["acls.sh"] == acls.SCRIPT_FILE.read_text()


@pytest.mark.parametrize("service", SERVICES, ids=lambda s: s.name)
def test_each_service_writes_its_own_topics_and_its_dlqs_and_reads_what_it_consumes(service: Service) -> None:
    reads = subscribed(service.name)
    assert reads, f"{service.name} consumes something"
    assert allowed(service.name, "Read") == reads
    assert allowed(service.name, "Write") == set(service.publishes) | {topics.dlq(t) for t in reads}
    group = importlib.import_module(f"services.{service.name}.main").runtime.settings.group_id
    assert acls.allows(acls.all_acls(), service.name, "Read", "group", group)
    others = {f"lbb-{n}" for n in NAMES if n != service.name} | {"ics-reader", "lbb-gateway", "anything"}
    assert not any(acls.allows(acls.all_acls(), service.name, "Read", "group", g) for g in others)


def test_only_the_applications_service_writes_the_contacts_topic_and_nobody_reads_a_dlq() -> None:
    writers = {p for p in acls.principals() if topics.CONTACTS in allowed(p, "Write")}
    assert writers == {"applications"}
    for principal in acls.principals():
        assert not {t for t in allowed(principal, "Read") if t.endswith(".dlq")}, principal


def test_ics_reader_reads_the_four_integration_topics_and_nothing_else() -> None:
    assert allowed(acls.ICS_READER, "Read") == set(topics.INTEGRATION_TOPICS)
    assert allowed(acls.ICS_READER, "Write") == set()
    assert acls.allows(acls.all_acls(), acls.ICS_READER, "Read", "group", "ics-reader-blmk")
    assert not acls.allows(acls.all_acls(), acls.ICS_READER, "Read", "group", "lbb-notifications")


def test_the_evaluator_denies_what_no_acl_allows() -> None:
    # a principal nobody granted anything, and a prefix that must not match a longer literal name
    assert not acls.allows(acls.all_acls(), "stranger", "Read", "topic", topics.APPLICATIONS)
    only = [acls.Acl("User:x", "topic", "LITERAL", "lbb.pairing", "Read")]
    assert not acls.allows(only, "x", "Read", "topic", topics.PAIRING)
    prefixed = [acls.Acl("User:x", "topic", "PREFIXED", "lbb.pairing", "Read")]
    assert acls.allows(prefixed, "x", "Read", "topic", topics.PAIRING)


def test_acls_sh_applies_every_line_and_refuses_a_missing_password(tmp_path: Path) -> None:
    """acls.sh run for real against stand-ins of kafka-configs.sh and kafka-acls.sh that log their
    arguments: one user per principal and one kafka-acls.sh --add per line of the list."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "calls"
    for tool in ("kafka-configs.sh", "kafka-acls.sh"):
        stub = bin_dir / tool
        stub.write_text(f'#!/bin/sh\necho "{tool} $*" >> {log}\n')
        stub.chmod(0o755)
    env = {
        "PATH": f"{bin_dir}:/usr/bin:/bin",
        "KAFKA_ADMIN_PASSWORD": "admin-pw",
        **{f"KAFKA_{p.upper().replace('-', '_')}_PASSWORD": f"pw{p.replace('-', '')}" for p in acls.principals()},
    }
    script = str(acls.SCRIPT_FILE)
    run = subprocess.run(["bash", script], env=env, capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stderr
    calls = log.read_text().splitlines()
    users = [c for c in calls if c.startswith("kafka-configs.sh")]
    assert len(users) == len(acls.principals())
    assert any(
        "--entity-name ics-reader" in c and "SCRAM-SHA-512=[iterations=8192,password=pwicsreader]" in c for c in users
    )
    added = [c for c in calls if c.startswith("kafka-acls.sh")]
    assert len(added) == len(acls.all_acls())
    assert (
        "kafka-acls.sh --bootstrap-server kafka:9092 --command-config" in added[0]
        and "--add --allow-principal User:applications --operation Read --resource-pattern-type LITERAL "
        "--group lbb-applications"
        in added[0]
    )
    missing = {k: v for k, v in env.items() if k != "KAFKA_ICS_READER_PASSWORD"}
    refused = subprocess.run(["bash", script], env=missing, capture_output=True, text=True, check=False)
    assert refused.returncode == 2 and "set KAFKA_ICS_READER_PASSWORD" in refused.stderr
    bad = env | {"KAFKA_PAIRING_PASSWORD": "a,b"}
    refused = subprocess.run(["bash", script], env=bad, capture_output=True, text=True, check=False)
    assert refused.returncode == 2 and "KAFKA_PAIRING_PASSWORD must not contain" in refused.stderr
