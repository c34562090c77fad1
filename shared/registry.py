"""The one list of the system's services: name, schema, topics, port. The dev stack, migrations,
topic creation, AsyncAPI generation and the gateway read it; nothing else lists the services."""

from __future__ import annotations

from dataclasses import dataclass

from shared import topics


@dataclass(frozen=True)
class Service:
    name: str
    port: int  # the default HTTP port (the dev stack on one machine; each container in production)
    schema: str | None = None  # the PostgreSQL schema it owns; None for the stateless gateway
    publishes: tuple[str, ...] = ()  # topics its outbox publishes on

    @property
    def module(self) -> str:
        """The composition root (``main.py``) of the service."""
        return f"services.{self.name}.main"


GATEWAY = Service("gateway", 8000)
SERVICES: tuple[Service, ...] = (
    Service("applications", 8001, "applications", (topics.APPLICATIONS, topics.CONTACTS, topics.PRIVACY)),
    Service("pairing", 8002, "pairing", (topics.PAIRING, topics.PRIVACY)),
    Service("feedback", 8003, "feedback", (topics.FEEDBACK, topics.PRIVACY)),
    Service("notifications", 8004, "notifications", (topics.NOTIFICATIONS, topics.PRIVACY)),
)
BY_NAME = {s.name: s for s in (*SERVICES, GATEWAY)}
NAMES = tuple(s.name for s in SERVICES)  # the services behind the gateway, in start order
SCHEMA_SERVICES = tuple(s.name for s in SERVICES if s.schema)
DEFAULT_PORTS = {s.name: s.port for s in (GATEWAY, *SERVICES)}


def published_by(service: str) -> tuple[str, ...]:
    return BY_NAME[service].publishes if service in BY_NAME else ()
