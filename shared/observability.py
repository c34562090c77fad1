"""Metrics (prometheus-client) and structured JSON logs carrying the event id and request id."""

from __future__ import annotations

import gc
import logging
import sys
import traceback
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from prometheus_client import Counter, Gauge, Histogram
from pythonjsonlogger.json import JsonFormatter
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.types import ASGIApp, Receive, Scope, Send

event_id_var: ContextVar[str | None] = ContextVar("lbb_event_id", default=None)
request_id_var: ContextVar[str | None] = ContextVar("lbb_request_id", default=None)


def asgi_header(scope: Mapping[str, Any], name: bytes) -> str | None:
    """A request header from an ASGI scope (``name`` in lower case, as ASGI servers give them)."""
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None


EVENTS_CONSUMED = Counter(
    "lbb_events_consumed_total",
    "Events a service consumed, by type and outcome (applied, duplicate, ignored, dead_lettered, retried)",
    ["service", "type", "outcome"],
)
EVENTS_PUBLISHED = Counter("lbb_events_published_total", "Events the outbox relay published", ["service", "type"])
OUTBOX_UNSENT = Gauge("lbb_outbox_unsent", "Outbox rows not yet published", ["service"])
OUTBOX_LAG = Gauge("lbb_outbox_lag_seconds", "Age of the oldest unsent outbox row", ["service"])
HANDLER_SECONDS = Histogram(
    "lbb_handler_seconds",
    "Time to apply one consumed event (inbox, effect, commit)",
    ["service", "type"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
DEAD_LETTERS = Counter("lbb_dead_letters_total", "Messages sent to a dead-letter topic", ["service", "topic"])
DB_COMMITS = Counter("lbb_db_commits_total", "Transactions this service committed in PostgreSQL", ["service"])
HTTP_REQUESTS = Counter(
    "lbb_http_requests_total", "HTTP requests answered, by method and status code", ["service", "method", "code"]
)
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def count_request(service: str, scope: Mapping[str, Any], status: int) -> None:
    """One answered request in ``lbb_http_requests_total`` (a method nobody uses counts as ``other``,
    so a caller cannot make up label values)."""
    method = scope.get("method", "")
    HTTP_REQUESTS.labels(service, method if method in _METHODS else "other", str(status)).inc()


class _ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.event_id = event_id_var.get()
        record.request_id = request_id_var.get()
        return True


class _Formatter(JsonFormatter):
    """JSON lines whose tracebacks keep their frames but describe each exception by ``describe``:
    a database error's message may quote the row it refused (``Key (email)=(…)``), so no exception's
    own text reaches a log."""

    def formatException(self, ei: Any) -> str:
        return redacted_traceback(ei[1])


def redacted_traceback(exc: BaseException | None) -> str:
    """A traceback's frames (file, line, function, code) for each exception of the chain, each one
    named by ``shared.errors.describe`` instead of its message."""
    from shared.errors import describe  # shared.errors imports FastAPI; loaded only when a traceback is logged

    parts: list[str] = []
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        frames = "".join(traceback.format_list(traceback.extract_tb(exc.__traceback__)))
        parts.append(f"Traceback (most recent call last):\n{frames}{describe(exc)}")
        exc = exc.__cause__ or exc.__context__
    return "\n\nwhich was raised while handling:\n\n".join(parts)


def configure_logging(service: str, level: str = "INFO") -> None:
    """One JSON object per line on stderr: time, level, logger, message, service, event_id, request_id."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        _Formatter(
            "%(asctime)s %(levelname)s %(name)s %(message)s %(event_id)s %(request_id)s",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
            static_fields={"service": service},
        )
    )
    handler.addFilter(_ContextFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers[:] = []
        logger.propagate = True
    # FastStream logs every message at INFO; keep that for debugging only.
    logging.getLogger("faststream").setLevel(max(logging.WARNING, root.level))


class HttpMiddleware:
    """A pure ASGI middleware that acts on HTTP requests only (others pass through untouched).

    Pure ASGI: Starlette's ``BaseHTTPMiddleware`` (``@app.middleware``) costs a task and a memory
    stream per request, which showed in the services' CPU profiles under load.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
        else:
            await self.http(scope, receive, send)

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)


@contextmanager
def settled_heap() -> Iterator[None]:
    """While a process serves, after it has started (its app, routes, models and clients built):
    collect once, then move every object alive into the permanent generation (``gc.freeze``), so the
    cyclic collector's full passes walk only what serving allocates, not the whole app, and no longer
    pause the event loop for a long while (docs/decisions/0012). On the way out ``gc.unfreeze``
    gives them back: an app started in a test process leaves nothing uncollectable behind."""
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def count_commits(engine: AsyncEngine, service: str) -> None:
    """Every transaction the engine commits in ``lbb_db_commits_total`` (bench/pipeline.py reads it to
    say which service commits how often per application)."""
    committed = DB_COMMITS.labels(service)
    event.listen(engine.sync_engine, "commit", lambda _connection: committed.inc())
