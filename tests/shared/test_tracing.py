"""Tracing off costs nothing; the envelope carries the trace context only when there is one."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from shared import tracing
from shared.envelope import parse, wrap
from tests.shared.test_envelope import submitted

TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


def test_without_an_endpoint_no_sdk_is_loaded_and_no_service_has_a_tracer() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    probe = (
        "import sys; from services.applications import main as a; from services.notifications import main as n; "
        "from services.gateway import main as g; from shared import tracing; "
        "print(a.runtime.tracer, a.runtime.consumer.tracer, n.runtime.tracer_provider, tracing.ON, "
        "sorted({m.split('.')[1] for m in sys.modules if m.startswith('opentelemetry.')}))"
    )
    out = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True).stdout
    # FastAPI imports the OpenTelemetry API (a no-op); the SDK and the instrumentations stay unloaded
    assert out.split("[")[0].split() == ["None", "None", "None", "False"], out
    loaded = out.split("[", 1)[1]
    assert "'sdk'" not in loaded and "'instrumentation'" not in loaded and "'exporter'" not in loaded, out


def test_an_envelope_has_no_trace_attributes_unless_it_was_staged_in_a_trace() -> None:
    plain = json.loads(wrap(submitted(), "applications").to_bytes())
    assert "traceparent" not in plain and "tracestate" not in plain
    envelope, _ = parse(json.dumps(plain))
    assert envelope.traceparent is None and envelope.tracestate is None

    traced = wrap(submitted(), "applications", trace={"traceparent": TRACEPARENT, "tracestate": "lbb=1"})
    body = json.loads(traced.to_bytes())
    assert body["traceparent"] == TRACEPARENT and body["tracestate"] == "lbb=1"
    assert parse(traced.to_bytes())[0].traceparent == TRACEPARENT


def test_the_current_span_is_what_an_event_staged_in_it_carries() -> None:
    exporter = InMemorySpanExporter()
    with tracing.exporting_to(exporter):
        made = tracing.provider("applications")
        tracer = tracing.tracer(made, "applications")
        assert made is not None and tracer is not None and tracing.ON
        assert tracing.current() == {}  # no span: nothing to carry
        with tracing.span(tracer, "staging") as staging:
            carrier = tracing.current()
        ids = staging.get_span_context()
        assert carrier == {"traceparent": f"00-{ids.trace_id:032x}-{ids.span_id:016x}-{ids.trace_flags:02x}"}
        # a consumer continuing it is a child of the staging span
        with tracing.span(tracer, "process", parent=carrier) as process:
            pass
        made.shutdown()
    assert not tracing.ON
    finished = {s.name: s for s in exporter.get_finished_spans()}
    assert finished["process"].parent is not None and finished["process"].parent.span_id == ids.span_id
    assert process.get_span_context().trace_id == ids.trace_id


def test_a_malformed_trace_context_is_ignored_never_a_reason_to_dead_letter() -> None:
    body = json.loads(wrap(submitted(), "applications").to_bytes()) | {"traceparent": 5, "tracestate": ["x"]}
    envelope, event = parse(json.dumps(body))
    assert envelope.traceparent is None and envelope.tracestate is None and event is not None
    assert tracing.link_to({"traceparent": "not-a-traceparent"}) == []


def test_an_endpoint_turns_tracing_on_unless_the_sdk_is_disabled(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT", raising=False)
    assert not tracing.enabled() and tracing.provider("gateway") is None
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9")
    monkeypatch.setenv("OTEL_SDK_DISABLED", "true")
    assert not tracing.enabled()
    monkeypatch.setenv("OTEL_SDK_DISABLED", "false")
    assert tracing.enabled()
