"""The Kafka broker of a service (FastStream) and topic creation."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.helpers import create_ssl_context
from faststream.kafka import KafkaBroker
from faststream.kafka.security import parse_security
from faststream.security import BaseSecurity, SASLPlaintext, SASLScram256, SASLScram512

from shared import topics
from shared.outbox import Send
from shared.settings import Settings

log = logging.getLogger(__name__)

TOPIC_ALREADY_EXISTS = 36


SASL = {"SCRAM-SHA-512": SASLScram512, "SCRAM-SHA-256": SASLScram256, "PLAIN": SASLPlaintext}


def kafka_security(settings: Settings) -> BaseSecurity | None:
    """How to connect, from KAFKA_SECURITY_PROTOCOL and the SASL/TLS settings; None for PLAINTEXT."""
    protocol = settings.kafka_security_protocol
    if protocol == "PLAINTEXT":
        return None
    use_ssl = protocol.endswith("SSL")
    context = create_ssl_context(cafile=settings.kafka_ssl_cafile or None) if use_ssl else None
    if protocol.startswith("SASL_"):
        return SASL[settings.kafka_sasl_mechanism](
            settings.kafka_sasl_username,
            settings.kafka_sasl_password.get_secret_value(),
            ssl_context=context,
            use_ssl=use_ssl,
        )
    return BaseSecurity(ssl_context=context, use_ssl=True)


def client_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for any raw aiokafka client (producer, consumer, admin): the same
    connection and security as the services' FastStream broker."""
    return {"bootstrap_servers": settings.kafka_bootstrap_servers, **parse_security(kafka_security(settings))}


def make_broker(settings: Settings, client_id: str) -> KafkaBroker:
    """A FastStream KafkaBroker; idempotence stays off (the embedded broker refuses it)."""
    return KafkaBroker(
        settings.kafka_bootstrap_servers,
        security=kafka_security(settings),
        acks="all",
        client_id=client_id,
        request_timeout_ms=settings.kafka_request_timeout_ms,
        linger_ms=5,
        logger=logging.getLogger(f"lbb.{client_id}.broker"),
        log_level=logging.DEBUG,
    )


async def ensure_topics(
    bootstrap_servers: str,
    names: list[str] | None = None,
    partitions: int = topics.PARTITIONS,
    *,
    timeout_s: float = 30.0,
    settings: Settings | None = None,
) -> None:
    """Create the contract's topics (and their dead-letter topics) with explicit partition counts.

    Existing topics are fine: the broker answers error 36 for them rather than raising. ``settings``
    gives the security (SASL, TLS) to connect with; without them, PLAINTEXT (the embedded broker).
    """
    names = names if names is not None else topics.all_topics_with_dlq()
    options = parse_security(kafka_security(settings)) if settings else {}
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, request_timeout_ms=10_000, **options)
        try:
            await admin.start()
            response: Any = await admin.create_topics(
                [
                    NewTopic(name, num_partitions=partitions, replication_factor=1, topic_configs=topics.config(name))
                    for name in names
                ]
            )
            errors = [
                (name, code)
                for name, code, *_ in getattr(response, "topic_errors", [])
                if code not in (0, TOPIC_ALREADY_EXISTS)
            ]
            if errors:
                raise RuntimeError(f"could not create topics: {errors}")
            return
        except Exception as exc:
            if asyncio.get_running_loop().time() > deadline:
                raise RuntimeError(f"Kafka at {bootstrap_servers} did not accept topics: {exc}") from exc
            log.info("waiting for Kafka at %s: %s", bootstrap_servers, exc)
            await asyncio.sleep(0.5)
        finally:
            await admin.close()


CLOUDEVENTS = "application/cloudevents+json; charset=utf-8"


def sender(broker: KafkaBroker) -> Send:
    """The relay's way to publish: pipelined, each send returns a future of its acknowledgement."""

    async def send(topic: str, key: bytes, value: bytes | None, trace: dict[str, str] | None = None) -> Any:
        # A keyed None goes out as a tombstone (FastStream sends no body for it). ``trace``: the
        # relay's send span (``traceparent``), with tracing on.
        return await broker.publish(
            value,
            topic=topic,
            key=key,
            headers={"content-type": CLOUDEVENTS} if trace is None else {"content-type": CLOUDEVENTS, **trace},
            no_confirm=True,
        )

    return send
