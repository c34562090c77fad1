"""OpenTelemetry traces: one trace from a click at the gateway, through a service and its outbox,
across Kafka to a consumer, and on to the SMTP server's answer.

Off unless ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set. Off costs nothing: no SDK is imported, no tracer
provider exists, ``provider`` returns None, and every component keeps ``tracer = None`` and skips
its span with one test (``ON`` for the code that has no tracer of its own). On, each service and the
gateway get a tracer provider of their own (``service.name``), exporting in batches over OTLP/HTTP
(the standard ``OTEL_EXPORTER_OTLP_*`` variables configure the exporter), and the FastAPI app, the
SQLAlchemy engine and the gateway's aiohttp client are instrumented.

Where the W3C trace context travels:

- gateway → service: the ``traceparent`` HTTP header (the aiohttp client and FastAPI instrumentations);
- a staged event → every subscriber: the CloudEvents envelope's distributed-tracing extension
  (``traceparent``, ``tracestate``), written by ``Outbox.add`` from the span current when the event
  is staged. That is the event's creation context; it stays with the event byte for byte (relayed,
  dead-lettered, replayed);
- relay → consumer: each Kafka record's ``traceparent`` header is the relay's send span, ended at the
  broker's acknowledgement. A consumer's span continues the envelope's trace and links to that span;
- notifications' consumer → delivery worker: the delivery row keeps the context it was recorded in,
  and the delivery span (SMTP, ended at the server's answer to DATA) continues it.

Spans carry no personal data: names of operations, event types, topics, ids, and errors described by
``shared.errors.describe`` (never an exception's own text, which may quote a row). Statements and
HTTP calls made outside any traced operation (a worker polling) start no trace of their own.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the SDK is imported only when tracing is on
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter
    from opentelemetry.trace import Link, Span, Tracer

# Whether any tracer provider exists in this process: read by code on the hot path that has no
# tracer of its own (Outbox.add, recording a delivery).
ON = False
_exporter: SpanExporter | None = None  # a test's in-memory exporter (``exporting_to``), instead of OTLP

UNTRACED = contextlib.nullcontext()  # the scope of a span when tracing is off: nothing at all
TRACEPARENT = "traceparent"
TRACESTATE = "tracestate"


def enabled() -> bool:
    """A test's exporter, or an OTLP endpoint (and not the standard ``OTEL_SDK_DISABLED=true``)."""
    if _exporter is not None:
        return True
    disabled = os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true"
    return bool(os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")) and not disabled


def provider(service: str) -> TracerProvider | None:
    """The tracer provider of one service (None when tracing is off)."""
    global ON
    if not enabled():
        return None
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
    from opentelemetry.sdk.trace.sampling import ParentBased

    made = TracerProvider(resource=Resource.create({"service.name": service}), sampler=ParentBased(_no_lone_clients()))
    if _exporter is not None:
        made.add_span_processor(SimpleSpanProcessor(_exporter))
    else:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        made.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    ON = True
    return made


def tracer(made: TracerProvider | None, name: str) -> Tracer | None:
    return made.get_tracer(f"lbb.{name}") if made is not None else None


@contextlib.contextmanager
def exporting_to(exporter: SpanExporter) -> Iterator[None]:
    """Tracing on for what is built inside, every span to ``exporter`` as it ends (tests)."""
    global _exporter, ON
    _exporter = exporter
    try:
        yield
    finally:
        _exporter, ON = None, False


def _no_lone_clients() -> Any:
    """The root sampler: a database statement or an HTTP call that no traced operation made (a
    worker's poll, the gateway's health round) is no trace of its own; everything else is sampled."""
    from opentelemetry.sdk.trace.sampling import Decision, Sampler, SamplingResult
    from opentelemetry.trace import SpanKind

    class NoLoneClients(Sampler):
        def should_sample(
            self,
            parent_context: Any,
            trace_id: int,
            name: str,
            kind: SpanKind | None = None,
            attributes: Any = None,
            links: Any = None,
            trace_state: Any = None,
        ) -> SamplingResult:
            if kind == SpanKind.CLIENT:
                return SamplingResult(Decision.DROP)
            return SamplingResult(Decision.RECORD_AND_SAMPLE, attributes)

        def get_description(self) -> str:
            return "NoLoneClients"

    return NoLoneClients()


# --- the context: written where an event is staged, read where it is consumed -----------------------


def current() -> dict[str, str]:
    """The current span's W3C trace context as a carrier (``traceparent``, maybe ``tracestate``);
    empty when no span is current."""
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    carrier: dict[str, str] = {}
    TraceContextTextMapPropagator().inject(carrier)
    return carrier


def context_of(carrier: Mapping[str, str | None]) -> Any:
    """The OpenTelemetry context a carrier names (the empty context when it names none)."""
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    return TraceContextTextMapPropagator().extract({k: v for k, v in carrier.items() if v})


def link_to(carrier: Mapping[str, str | None]) -> list[Link]:
    """A link to the span a carrier names (none when it names none)."""
    from opentelemetry.trace import Link, get_current_span

    span_context = get_current_span(context_of(carrier)).get_span_context()
    return [Link(span_context)] if span_context.is_valid else []


def headers_of(record: Any) -> dict[str, str]:
    """The trace headers of a Kafka record (``traceparent``, ``tracestate``)."""
    return {
        name: bytes(value).decode("latin-1")
        for name, value in getattr(record, "headers", None) or ()
        if name in (TRACEPARENT, TRACESTATE) and value is not None
    }


@contextlib.contextmanager
def span(
    tracer: Tracer,
    name: str,
    *,
    kind: Any = None,
    parent: Mapping[str, str | None] | None = None,
    links: Sequence[Link] = (),
    attributes: Mapping[str, Any] | None = None,
) -> Iterator[Span]:
    """A span made current for the block: a child of ``parent`` (a carrier) when given, else of the
    current span. An exception marks it failed by ``describe`` (its class, field paths, SQLSTATE),
    never by its text."""
    from opentelemetry.trace import SpanKind, Status, StatusCode

    from shared.errors import describe

    with tracer.start_as_current_span(
        name,
        context=context_of(parent) if parent is not None else None,
        kind=kind if kind is not None else SpanKind.INTERNAL,
        links=links,
        attributes=attributes,
        record_exception=False,
        set_status_on_exception=False,
    ) as current_span:
        try:
            yield current_span
        except BaseException as exc:
            current_span.set_status(Status(StatusCode.ERROR, describe(exc)))
            raise


# --- the relay's send spans ------------------------------------------------------------------------


def sending(tracer: Tracer, topic: str, event_type: str, payload: str) -> tuple[Span, dict[str, str]]:
    """A producer span for one outbox row, a child of the context its envelope was staged in, and
    the Kafka headers that carry it (ended by ``ended`` at the broker's acknowledgement)."""
    import json

    from opentelemetry.trace import SpanKind, set_span_in_context

    staged = json.loads(payload)
    started = tracer.start_span(
        f"send {topic}",
        context=context_of({TRACEPARENT: staged.get(TRACEPARENT), TRACESTATE: staged.get(TRACESTATE)}),
        kind=SpanKind.PRODUCER,
        attributes={
            "messaging.system": "kafka",
            "messaging.operation.type": "send",
            "messaging.destination.name": topic,
            "messaging.message.id": str(staged.get("id", "")),
            "lbb.event.type": event_type,
        },
    )
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    headers: dict[str, str] = {}
    TraceContextTextMapPropagator().inject(headers, context=set_span_in_context(started))
    return started, headers


def ended(started: Span | None, outcome: object = None) -> None:
    """End a span; an exception as ``outcome`` marks it failed (by ``describe``)."""
    if started is None:
        return
    if isinstance(outcome, BaseException):
        from opentelemetry.trace import Status, StatusCode

        from shared.errors import describe

        started.set_status(Status(StatusCode.ERROR, describe(outcome)))
    started.end()


# --- instrumentations ------------------------------------------------------------------------------


def instrument_app(app: Any, made: TracerProvider | None) -> None:
    """Server spans for every request, continuing the caller's ``traceparent``; probes and scrapes
    (/health, /live, /ready, /metrics) are no traces."""
    if made is None:
        return
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    FastAPIInstrumentor.instrument_app(
        app, tracer_provider=made, excluded_urls="/health$,/live$,/ready$,/metrics$", exclude_spans=["receive", "send"]
    )


def instrument_engine(engine: Any, made: TracerProvider | None) -> None:
    """A span for each statement run inside a traced operation (the SQL text, never its values)."""
    if made is None:
        return
    from opentelemetry.trace import SpanKind, Status, StatusCode, get_current_span
    from sqlalchemy import event

    from shared.errors import describe

    statements = made.get_tracer("lbb.sql")
    sync = engine.sync_engine

    # Not opentelemetry-instrumentation-sqlalchemy: it puts the driver's message in a failed span's
    # status, and PostgreSQL's may quote the row it refused (``Key (email)=(…)``).
    @event.listens_for(sync, "before_cursor_execute")
    def _before(conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool) -> None:
        if context is None or not get_current_span().get_span_context().is_valid:
            return  # outside any traced operation: no trace of its own
        context._lbb_span = statements.start_span(
            statement.split(None, 1)[0].upper() if statement else "SQL",
            kind=SpanKind.CLIENT,
            attributes={"db.system.name": "postgresql", "db.query.text": statement[:2000]},
        )

    @event.listens_for(sync, "after_cursor_execute")
    def _after(conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool) -> None:
        started = getattr(context, "_lbb_span", None)
        if started is not None:
            context._lbb_span = None
            started.end()

    @event.listens_for(sync, "handle_error")
    def _failed(error: Any) -> None:
        started = getattr(error.execution_context, "_lbb_span", None)
        if started is not None:
            error.execution_context._lbb_span = None
            started.set_status(Status(StatusCode.ERROR, describe(error.original_exception)))
            started.end()


def client_trace_configs(made: TracerProvider | None) -> list[Any]:
    """aiohttp trace configs: a client span per call and its ``traceparent`` header (none when off)."""
    if made is None:
        return []
    from opentelemetry.instrumentation.aiohttp_client import create_trace_config

    return [create_trace_config(tracer_provider=made)]
