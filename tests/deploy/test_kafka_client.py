"""KAFKA_SECURITY_PROTOCOL and the SASL/TLS settings reach every client: the services' FastStream
broker and the admin client that creates topics. The embedded broker (Tansu) speaks SCRAM-SHA-512 when
started with --authentication but has no ACLs, and refuses to create a user once authentication is on
(so no principal can log in to it): here it shows clients without or with wrong credentials refused."""

from __future__ import annotations

import asyncio
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiokafka.errors import KafkaError
from faststream.security import SASLScram512
from pydantic import ValidationError

from lbb.devstack import EmbeddedKafka, Stack, free_port, port_open, wait_until
from shared.broker import client_options, ensure_topics, kafka_security, make_broker
from shared.settings import Settings

SCRAM = {"kafka_security_protocol": "SASL_PLAINTEXT", "kafka_sasl_username": "pairing", "kafka_sasl_password": "pw"}


def test_plaintext_is_the_default_and_sasl_ssl_carries_scram_and_tls() -> None:
    assert kafka_security(Settings()) is None and client_options(Settings()) == {"bootstrap_servers": "127.0.0.1:9092"}
    production = Settings(**SCRAM | {"kafka_security_protocol": "SASL_SSL"})
    security = kafka_security(production)
    assert isinstance(security, SASLScram512) and security.use_ssl and security.ssl_context is not None
    options = client_options(production)
    assert options["security_protocol"] == "SASL_SSL" and options["sasl_mechanism"] == "SCRAM-SHA-512"
    assert options["sasl_plain_username"] == "pairing" and options["sasl_plain_password"] == "pw"
    assert isinstance(options["ssl_context"], ssl.SSLContext)
    assert "pw" not in repr(production)  # the password is a secret in logs and errors


def test_bad_kafka_security_settings_are_refused_with_a_reason(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="needs KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD"):
        Settings(kafka_security_protocol="SASL_SSL")
    with pytest.raises(ValidationError, match="does not use TLS"):
        Settings(kafka_ssl_cafile=str(tmp_path / "ca.pem"))
    with pytest.raises(ValidationError, match="kafka_security_protocol"):
        Settings(kafka_security_protocol="SASL")
    with pytest.raises(ValidationError, match="kafka_sasl_mechanism"):
        Settings(**SCRAM | {"kafka_sasl_mechanism": "GSSAPI"})


async def test_the_admin_client_and_the_broker_connect_with_the_settings_given(stack: Stack) -> None:
    plain = Settings(kafka_bootstrap_servers=stack.kafka_bootstrap_servers or "")
    await ensure_topics(plain.kafka_bootstrap_servers, ["lbb.deploy.plain"], settings=plain, timeout_s=10)
    sasl = Settings(**plain.model_dump() | SCRAM)
    # the embedded broker does not do SASL without --authentication: the options were used
    with pytest.raises(RuntimeError, match="did not accept topics"):
        await ensure_topics(sasl.kafka_bootstrap_servers, ["lbb.deploy.sasl"], settings=sasl, timeout_s=1)
    broker = make_broker(sasl, "deploy-test")
    with pytest.raises((KafkaError, TimeoutError)):
        async with asyncio.timeout(10):
            await broker.start()
    await broker.stop()


@pytest.fixture
def authenticating_broker(tmp_path: Path) -> Iterator[str]:
    port = free_port()
    url = f"tcp://127.0.0.1:{port}"
    with open(tmp_path / "tansu.log", "wb") as out:
        process = subprocess.Popen(
            [str(EmbeddedKafka.binary()), "broker", "--listener-url", url, "--advertised-listener-url", url,
             "--storage-engine", "memory://tansu/", "--authentication"],
            stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        wait_until(lambda: port_open(port) or process.poll() is not None, 20, "the authenticating broker")
        yield f"127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(10)


async def test_a_broker_requiring_scram_refuses_a_client_without_or_with_wrong_credentials(
    authenticating_broker: str,
) -> None:
    for settings in (
        Settings(kafka_bootstrap_servers=authenticating_broker),
        Settings(kafka_bootstrap_servers=authenticating_broker, **SCRAM),
    ):
        with pytest.raises(RuntimeError, match="did not accept topics"):
            await ensure_topics(authenticating_broker, ["lbb.deploy.x"], settings=settings, timeout_s=1)
