"""What every event-driven service is made of: broker, database, consumer, relay, HTTP app.

A service's ``main.py`` (its composition root) builds one ``ServiceRuntime`` with its own tables
and handlers, then asks it for the FastAPI app (commands, queries, health) and the FastStream app
(the AsyncAPI description of what it consumes and publishes).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import timedelta
from types import ModuleType
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Request, Response
from faststream import FastStream
from faststream.specification import AsyncAPI
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import MetaData, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared import registry, tracing
from shared.broker import make_broker
from shared.consumer import Consumer, Handler
from shared.db import make_engine, make_sessionmaker
from shared.errors import install_error_handlers
from shared.events import Event, contract_events
from shared.inbox import Inbox
from shared.kafka_metrics import KafkaGauges
from shared.observability import (
    HttpMiddleware,
    asgi_header,
    configure_logging,
    count_commits,
    count_request,
    request_id_var,
    settled_heap,
)
from shared.outbox import Outbox, Relay
from shared.relay_kafka import RelayProducer
from shared.routing import add_routes
from shared.settings import ServiceSettings, refuse_default_secrets
from shared.worker import Listener, Worker

log = logging.getLogger(__name__)


class ServiceRuntime:
    def __init__(
        self,
        settings: ServiceSettings,
        *,
        metadata: MetaData,
        outbox: Outbox,
        inbox: Inbox,
        handlers: Mapping[type[Event], Handler] | None = None,
        routers: Sequence[APIRouter] = (),
    ) -> None:
        self.settings = settings
        self.routers = list(routers)
        self.name = settings.service_name
        self.metadata = metadata
        self.outbox = outbox
        self.inbox = inbox
        self.broker = make_broker(settings, self.name)
        # OpenTelemetry (shared/tracing.py): None, and no span anywhere, unless OTEL_EXPORTER_OTLP_ENDPOINT is set.
        self.tracer_provider = tracing.provider(self.name)
        self.tracer = tracing.tracer(self.tracer_provider, self.name)
        self._engine: AsyncEngine | None = None
        self._sessions: async_sessionmaker[AsyncSession] | None = None
        self.relay: Relay | None = None
        self.relay_producer: RelayProducer | None = None
        self.workers: list[Worker] = []
        self.listener: Listener | None = None
        self._on_start: list[Callable[[], Awaitable[None]]] = []
        self._on_stop: list[Callable[[], Awaitable[None]]] = []
        self.consumer = Consumer(
            settings=settings,
            broker=self.broker,
            sessions=lambda: self.sessions,
            inbox=inbox,
            outbox=outbox,
            handlers=handlers or {},
        )
        self.consumer.tracer = self.tracer
        self.consumer.subscribe()
        # Consumer lag and dead-letter depth of what it consumes, read from the broker now and then.
        self.kafka_gauges = KafkaGauges(settings, self.name, settings.group_id, self.consumer.topics)
        if self.consumer.topics:
            self.add_worker(
                Worker("kafka-gauges", self.kafka_gauges.step, poll_interval_s=settings.kafka_metrics_interval_s)
            )

    @classmethod
    def assemble(
        cls, settings: ServiceSettings, *, models: ModuleType, api: ModuleType, handlers: ModuleType | None = None
    ) -> ServiceRuntime:
        """A service from its parts: ``models`` (metadata, outbox, inbox), ``handlers`` (HANDLERS) and
        ``api`` (router), the modules every service has."""
        return cls(
            settings,
            metadata=models.metadata,
            outbox=models.outbox,
            inbox=models.inbox,
            handlers=getattr(handlers, "HANDLERS", None),
            routers=[api.router],
        )

    @property
    def sessions(self) -> async_sessionmaker[AsyncSession]:
        if self._sessions is None:
            raise RuntimeError(f"the {self.name} service has not started")
        return self._sessions

    def on_start(self, hook: Callable[[], Awaitable[None]]) -> Callable[[], Awaitable[None]]:
        """Run ``hook`` once the database is reachable, before consuming starts."""
        self._on_start.append(hook)
        return hook

    def on_stop(self, hook: Callable[[], Awaitable[None]]) -> Callable[[], Awaitable[None]]:
        """Run ``hook`` first when the service stops (background work ends before the relay does)."""
        self._on_stop.append(hook)
        return hook

    def add_worker(self, worker: Worker) -> Worker:
        """Background work that runs while the service runs: started after the database and broker,
        stopped (its step in flight drained) before the consumers and the relay stop."""
        self.workers.append(worker)
        return worker

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """One unit of work: state changes and outbox rows commit together or not at all."""
        async with self.sessions() as session, session.begin():
            yield session

    async def start(self) -> None:
        self._engine = make_engine(
            self.settings.database_url,
            idle_in_transaction_timeout_s=self.settings.db_idle_in_transaction_timeout_s,
            application_name=self.name,
        )
        tracing.instrument_engine(self._engine, self.tracer_provider)
        count_commits(self._engine, self.name)
        self._sessions = make_sessionmaker(self._engine)
        self.relay_producer = RelayProducer(self.settings, f"{self.name}-relay")
        self.relay = Relay(
            self.outbox,
            self._sessions,
            self.relay_producer.send,
            readback=self.relay_producer.envelope_ids,
            poll_interval_s=self.settings.relay_poll_interval_s,
            batch_size=self.settings.relay_batch_size,
            linger_s=self.settings.relay_linger_ms / 1000,
            lease_s=self.settings.relay_lease_s,
            retention=timedelta(hours=self.settings.outbox_retention_hours),
            prune_interval_s=self.settings.outbox_prune_interval_s,
            tracer=self.tracer,
        )
        for hook in self._on_start:
            await hook()
        await self.broker.start()
        self.relay_producer.may_write = self.relay.may_write
        await self.relay_producer.start()
        self.relay.start()
        for worker in self.workers:
            worker.start()
        self.listener = Listener(self._engine, name=self.name)
        self.listener.start()
        log.info("%s started", self.name)

    async def stop(self) -> None:
        for hook in self._on_stop:
            await hook()
        for worker in reversed(self.workers):
            await worker.stop()
        await self.kafka_gauges.close()
        # Drain the consumers first (in-flight batches finish and commit), then publish what they
        # wrote, so a clean stop leaves no event waiting in the outbox for the next start.
        for subscriber in self.broker.subscribers:
            await subscriber.stop()
        if self.relay is not None:
            await self.relay.stop()
            with contextlib.suppress(Exception):
                async with asyncio.timeout(5):
                    while await self.relay.publish_batch():
                        pass
            await self.relay.release()  # another instance takes over at once
        if self.relay_producer is not None:
            await self.relay_producer.stop()
        if self.listener is not None:
            await self.listener.stop()
        await self.broker.stop()
        if self._engine is not None:
            await self._engine.dispose()
        if self.tracer_provider is not None:
            await asyncio.to_thread(self.tracer_provider.shutdown)  # the spans still queued go out
        log.info("%s stopped", self.name)

    async def health(self) -> dict[str, str]:
        checks = {"database": "ok", "broker": "ok"}
        try:
            async with self.sessions() as session:
                await session.execute(text("SELECT 1"))
        except Exception as exc:
            checks["database"] = f"error: {exc.__class__.__name__}"
        if not await self.broker.ping(timeout=2.0):
            checks["broker"] = "error: unreachable"
        status = "ok" if all(v == "ok" for v in checks.values()) else "degraded"
        return {"status": status, **checks}

    def http_app(self, *routers: APIRouter) -> FastAPI:
        @asynccontextmanager
        async def lifespan(app: FastAPI) -> AsyncIterator[None]:
            configure_logging(self.name, self.settings.log_level)
            refuse_default_secrets(self.settings)  # outside dev mode: no known default password or secret
            app.state.runtime = self
            await self.start()
            try:
                with settled_heap():
                    yield
            finally:
                await self.stop()

        app = FastAPI(title=f"Beyond Boundaries {self.name} service", lifespan=lifespan)
        install_error_handlers(app)
        install_observability(app, self.name)
        tracing.instrument_app(app, self.tracer_provider)

        @app.get("/health", tags=["health"])
        async def health() -> dict[str, str]:
            return await self.health()

        @app.get("/live", include_in_schema=False)
        async def live() -> dict[str, str]:
            """Liveness: the process answers. Touches no dependency (readiness is /health)."""
            return {"status": "ok"}

        add_routes(app, *self.routers, *routers)
        return app

    def asyncapi_app(self) -> FastStream:
        """The FastStream app whose AsyncAPI document describes this service's events."""
        for event_type in contract_events():
            if event_type.topic in registry.published_by(self.name):
                # Documentation only: events leave through the outbox relay, never through this publisher.
                self.broker.publisher(
                    event_type.topic,
                    title=f"{self.name}:{event_type.type_name()}",
                    description=(event_type.__doc__ or event_type.type_name()).strip().splitlines()[0]
                    + " (CloudEvents 1.0 envelope; this schema is its `data`)",
                    schema=event_type,
                )
        return FastStream(
            self.broker,
            specification=AsyncAPI(
                title=f"Beyond Boundaries {self.name} service",
                version="1.0.0",
                description=f"Events the {self.name} service consumes and publishes",
            ),
        )


async def _runtime(request: Request) -> ServiceRuntime:  # async: a sync dependency costs a thread hop
    runtime: ServiceRuntime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[ServiceRuntime, Depends(_runtime)]


class RequestId(HttpMiddleware):
    """The request id (the gateway's, or a new one) set for the logs and echoed on the answer; each
    answer counted by method and status (``lbb_http_requests_total``)."""

    def __init__(self, app: ASGIApp, service: str) -> None:
        super().__init__(app)
        self.service = service

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        rid = asgi_header(scope, b"x-request-id") or uuid.uuid4().hex
        token = request_id_var.set(rid)
        status = 500  # an exception that escapes the app is answered 500 by the server

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), (b"x-request-id", rid.encode("latin-1"))]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            count_request(self.service, scope, status)
            request_id_var.reset(token)


def install_observability(app: FastAPI, service: str) -> None:
    """GET /metrics for Prometheus, and the request id (from the gateway or new) on logs and answers."""

    app.add_middleware(RequestId, service=service)

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
