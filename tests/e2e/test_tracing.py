"""One trace from a click to an e-mail: gateway → applications → outbox relay → Kafka → notifications
→ SMTP, recorded by the SDK's in-memory exporter.

The gateway, applications and notifications run in this process (so one exporter sees every span),
each served by uvicorn on a port of its own and talking over real HTTP; the broker, PostgreSQL and the
SMTP server are a stack's own (embedded, started for this module), not the session's.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from pydantic_settings import BaseSettings
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from lbb.devstack import Stack, free_port
from shared import tracing
from tests.conftest import NOTIFICATIONS_TEST_ENV, Api, eventually
from tests.flows import application, apply, organisations

IN_PROCESS = ("applications", "notifications", "gateway")


@contextlib.contextmanager
def environment(env: dict[str, str]) -> Iterator[None]:
    """``os.environ`` as ``env`` while settings are read from it."""
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def settings_of(stack: Stack, name: str) -> BaseSettings:
    """A service's settings as its process would read them from the stack's environment."""
    with environment(stack.service_env(name)):
        if name == "gateway":
            from services.gateway.settings import GatewaySettings

            return GatewaySettings()
        if name == "applications":
            from services.applications.settings import ApplicationsSettings

            return ApplicationsSettings()
        from services.notifications.settings import NotificationsSettings

        return NotificationsSettings()


def asgi_app(stack: Stack, name: str) -> Any:
    settings: Any = settings_of(stack, name)
    if name == "gateway":
        from services.gateway.main import create_app

        return create_app(settings, configure_logs=False)
    if name == "applications":
        from services.applications.main import build as build_applications

        return build_applications(settings).http_app()
    from services.notifications.main import build as build_notifications

    return build_notifications(settings).http_app()


@contextlib.asynccontextmanager
async def served(app: Any, port: int) -> AsyncIterator[None]:
    """An ASGI app served by uvicorn on 127.0.0.1:``port`` in this event loop, lifespan and all."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="on"))
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]  # pytest's process
    task = asyncio.create_task(server.serve())
    try:
        await eventually(lambda: _started(server, task), timeout_s=90, what=f"uvicorn on port {port}")
        yield
    finally:
        server.should_exit = True
        await task


async def _started(server: uvicorn.Server, task: asyncio.Task[None]) -> bool:
    if task.done():
        task.result()  # raises what stopped it
        raise RuntimeError("uvicorn stopped before it started")
    return server.started


@pytest.fixture(scope="module")
def infrastructure() -> Iterator[Stack]:
    """A broker, PostgreSQL (migrated) and an SMTP sink of this module's own."""
    home = Path(tempfile.mkdtemp(prefix="lbb-tracing-"))
    stack = Stack(home=home, extra_env=NOTIFICATIONS_TEST_ENV)
    try:
        stack.start_infrastructure(say=lambda line: None)
        for name in ("applications", "pairing", "feedback", "notifications", "gateway"):
            stack.ports[name] = free_port()  # pairing and feedback: nobody answers there
        yield stack
    finally:
        stack.stop()
        shutil.rmtree(home, ignore_errors=True)


@contextlib.contextmanager
def logging_kept() -> Iterator[None]:
    """The process's logging as it was: a service's start (``configure_logging``) rewires the root
    logger and uvicorn's, which the later tests of this process must not inherit."""
    names = ("", "uvicorn", "uvicorn.error", "uvicorn.access", "faststream")
    saved = {
        n: (list(logging.getLogger(n).handlers), logging.getLogger(n).level, logging.getLogger(n).propagate)
        for n in names
    }
    try:
        yield
    finally:
        for n, (handlers, level, propagate) in saved.items():
            logger = logging.getLogger(n)
            logger.handlers[:], logger.propagate = handlers, propagate
            logger.setLevel(level)


@pytest.fixture
async def traced(infrastructure: Stack) -> AsyncIterator[tuple[Stack, InMemorySpanExporter]]:
    """The three services in this process with tracing on, every span to an in-memory exporter."""
    exporter = InMemorySpanExporter()
    with tracing.exporting_to(exporter), logging_kept():
        apps = {name: asgi_app(infrastructure, name) for name in IN_PROCESS}
        async with contextlib.AsyncExitStack() as running:
            for name in IN_PROCESS:  # the gateway last: it reports the services' health
                await running.enter_async_context(served(apps[name], infrastructure.ports[name]))
            yield infrastructure, exporter


def _one(spans: list[ReadableSpan], service: str, name: str) -> ReadableSpan:
    found = [s for s in spans if s.resource.attributes.get("service.name") == service and s.name == name]
    seen = sorted({(str(s.resource.attributes.get("service.name")), s.name) for s in spans})
    assert len(found) == 1, (service, name, seen)
    return found[0]


async def test_one_trace_follows_an_application_from_the_gateway_to_the_smtp_answer(
    traced: tuple[Stack, InMemorySpanExporter],
) -> None:
    stack, exporter = traced
    assert stack.smtp is not None and stack.database_url
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{stack.ports['gateway']}", timeout=30) as client:
        api = Api(client)
        orgs = await organisations(api)
        cohort = await api.call(
            "POST",
            "/api/cohorts",
            ("ada", "admin"),
            {"programme": "Traced", "name": "T1", "capacity": 4, "pairing_mode": "peer"},
        )
        assert cohort.status_code == 201, cohort.text
        address = "tia.traced@example.nhs.uk"
        form = application(cohort.json()["id"], orgs["RD8"]["id"], "Tia Traced", address)
        exporter.clear()  # from here on: the spans of one application
        application_id = await apply(api, ("tia", "applicant"), form)

    def smtp_span() -> ReadableSpan | None:
        done = [s for s in exporter.get_finished_spans() if s.name == "smtp send"]
        return done[0] if done else None

    smtp = await eventually(_async(smtp_span), timeout_s=90, what="the e-mail's SMTP span")
    assert stack.smtp.sink.to(address), "the SMTP server has the e-mail"
    spans = list(exporter.get_finished_spans())

    # gateway → applications, over HTTP: the service's server span is a child of the gateway's call
    entry = _one(spans, "gateway", "POST /api/applications")
    trace_id = entry.context.trace_id
    call = next(s for s in spans if s.kind == SpanKind.CLIENT and s.parent and s.parent.span_id == _id(entry))
    served_span = _one(spans, "applications", "POST /applications")
    assert call.parent is not None and call.parent.span_id == entry.context.span_id
    assert served_span.parent is not None and served_span.parent.span_id == call.context.span_id
    assert any(
        s.name.startswith("INSERT") and s.parent and s.parent.span_id == served_span.context.span_id for s in spans
    ), "the applications service's statements are spans of the request"

    # the outbox: the envelope carries the request's context (CloudEvents' distributed tracing)
    engine = create_async_engine(stack.database_url)
    try:
        async with engine.connect() as c:
            payload = (
                await c.execute(
                    text(
                        "SELECT payload FROM applications.outbox WHERE event_type = 'ApplicationSubmitted' "
                        "AND payload::jsonb -> 'data' ->> 'application_id' = :id"
                    ),
                    {"id": application_id},
                )
            ).scalar_one()
    finally:
        await engine.dispose()
    envelope = json.loads(payload)
    assert envelope["traceparent"].startswith(f"00-{trace_id:032x}-{served_span.context.span_id:016x}-")

    # the relay's send span continues it; the consumer continues the trace and links to the send
    send = next(
        s
        for s in spans
        if s.name == "send lbb.applications.v1" and s.attributes.get("messaging.message.id") == envelope["id"]
    )
    assert send.kind == SpanKind.PRODUCER and send.resource.attributes["service.name"] == "applications"
    assert send.parent is not None and send.parent.span_id == served_span.context.span_id
    process = next(
        s
        for s in spans
        if s.name == "process ApplicationSubmitted" and s.attributes.get("messaging.message.id") == envelope["id"]
    )
    assert process.kind == SpanKind.CONSUMER and process.resource.attributes["service.name"] == "notifications"
    assert process.parent is not None and process.parent.span_id == served_span.context.span_id
    assert [link.context.span_id for link in process.links] == [send.context.span_id], "linked across Kafka"
    assert process.start_time is not None and send.start_time is not None and process.start_time > send.start_time

    # notifications' delivery: the SMTP span continues the consumer's, ended at the server's answer
    assert smtp.resource.attributes["service.name"] == "notifications" and smtp.kind == SpanKind.CLIENT
    assert smtp.parent is not None and smtp.parent.span_id == process.context.span_id
    assert smtp.status.is_ok

    for s in (entry, call, served_span, send, process, smtp):
        assert s.context.trace_id == trace_id, s.name
    assert not any(address in json.dumps(dict(s.attributes or {})) for s in spans), "no address in any span"


def _id(span: ReadableSpan) -> int:
    assert span.context is not None
    return span.context.span_id


def _async(probe: Any) -> Any:
    async def probing() -> Any:
        return probe()

    return probing
