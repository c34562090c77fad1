"""What wraps every request to the gateway (pure ASGI, outermost first):

0. in dev mode only, the loopback: a request that came in on an address of this host outside
   127.0.0.0/8 and ::1 (the ASGI ``server``, the socket's own address) is refused 403, whatever
   server runs the app (startup.py refuses to start on such an address when it can tell);
1. the client's address: the peer's, or from ``X-Forwarded-For`` when the peer is one of the proxies
   ``FORWARDED_ALLOW_IPS`` trusts (the rightmost hop no trusted proxy added); everything after sees it;
2. request id: ``X-Request-Id`` taken from the caller when it is a sane token, made up otherwise; set
   for the logs (``request_id_var``), sent on to the services, echoed on the answer; one access log
   line per request;
3. security headers on every answer (nosniff, no framing, no referrer, a same-origin CSP, no-store;
   outside dev mode ``Strict-Transport-Security``);
4. request body size limit (``MAX_BODY_BYTES``): 413, whether or not a Content-Length was sent;
5. rate limiting of every request per client address with the ``limits`` package (sliding window
   counters), reads and writes apart: 429 with ``Retry-After``. Per verified caller, the same
   ``Limits`` are counted by auth.py once the token is verified (a made-up token buys no budget);
6. CORS: closed unless ``CORS_ALLOW_ORIGINS`` lists origins (Starlette's CORSMiddleware).
"""

from __future__ import annotations

import json
import logging
import math
import re
import time
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from ipaddress import IPv4Network, IPv6Network, ip_address
from typing import Any

from fastapi import FastAPI
from limits import parse
from limits.aio.storage import MemoryStorage
from limits.aio.strategies import SlidingWindowCounterRateLimiter
from starlette.middleware.cors import CORSMiddleware

from services.gateway.settings import GatewaySettings
from shared.observability import HttpMiddleware, asgi_header, count_request, request_id_var

log = logging.getLogger("services.gateway.access")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
DOCS = ("/docs", "/redoc")
CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'"
)


async def _answer(send: Send, status: int, detail: str, headers: dict[str, str] | None = None) -> None:
    body = json.dumps({"detail": detail}).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


class LoopbackOnly(HttpMiddleware):
    """Dev mode: 403 for a request that reached this host on an address other than the loopback.
    A server names the socket's address; a name (an in-process test client's host) is let through."""

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        server = scope.get("server")
        if server and server[1] is not None:  # (host, port); a unix socket's is (path, None)
            try:
                off_loopback = not ip_address(str(server[0]).strip("[]")).is_loopback
            except ValueError:
                off_loopback = False
            if off_loopback:
                await _answer(send, 403, "the gateway in dev mode answers on the loopback only")
                return
        await self.app(scope, receive, send)


class ClientAddress(HttpMiddleware):
    """The client's address in ``scope["client"]``: X-Forwarded-For believed from trusted proxies only."""

    def __init__(self, app: ASGIApp, trusted: list[IPv4Network | IPv6Network] | None) -> None:
        super().__init__(app)
        self.trusted = trusted

    def _trusted(self, host: str) -> bool:
        if self.trusted is None:
            return True
        try:
            address = ip_address(host)
        except ValueError:
            return False
        return any(address in network for network in self.trusted)

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        client = scope.get("client")
        if client and self._trusted(str(client[0])):
            hops = [
                hop.strip()
                for key, value in scope.get("headers", [])
                if key.lower() == b"x-forwarded-for"
                for hop in bytes(value).decode("latin-1").split(",")
                if hop.strip()
            ]
            if hops:
                untrusted = [hop for hop in hops if not self._trusted(hop)]
                scope["client"] = (untrusted[-1] if untrusted else hops[0], 0)
        await self.app(scope, receive, send)


class RequestContext(HttpMiddleware):
    """Request id, security headers and the access log line."""

    def __init__(self, app: ASGIApp, hsts: str = "") -> None:
        super().__init__(app)
        self.hsts = hsts.encode()

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        given = asgi_header(scope, b"x-request-id")
        rid = given if given and REQUEST_ID.match(given) else uuid.uuid4().hex
        token = request_id_var.set(rid)
        path: str = scope.get("path", "")
        started = time.perf_counter()
        status_code = 500

        async def send_with_headers(message: Message) -> None:
            nonlocal status_code
            if message["type"] == "http.response.start":
                status_code = message["status"]
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"x-request-id"]
                headers += [
                    (b"x-request-id", rid.encode()),
                    (b"x-content-type-options", b"nosniff"),
                    (b"x-frame-options", b"DENY"),
                    (b"referrer-policy", b"no-referrer"),
                    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
                ]
                if not path.startswith(DOCS):  # Swagger UI loads its script from a CDN
                    headers.append((b"content-security-policy", CSP.encode()))
                if not path.startswith(("/static/", "/assets/")):
                    headers.append((b"cache-control", b"no-store"))
                if self.hsts:
                    headers.append((b"strict-transport-security", self.hsts))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        finally:
            count_request("gateway", scope, status_code)
            log.info(
                "%s %s %s",
                scope.get("method"),
                path,
                status_code,
                extra={"status": status_code, "duration_ms": round((time.perf_counter() - started) * 1000, 1)},
            )
            request_id_var.reset(token)


class BodyLimit:
    """413 for a body over ``max_bytes``: by its Content-Length, or while reading a chunked one."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") not in WRITES:
            await self.app(scope, receive, send)
            return
        length = asgi_header(scope, b"content-length")
        if length is not None:
            if not length.isdigit():
                await _answer(send, 400, "invalid Content-Length")
                return
            if int(length) > self.max_bytes:
                await _answer(send, 413, f"the request body is over {self.max_bytes} bytes")
                return
            await self.app(scope, receive, send)
            return
        # No Content-Length (chunked): read it here, up to the limit, then hand it on.
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await _answer(send, 413, f"the request body is over {self.max_bytes} bytes")
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


class Counters(MemoryStorage):
    """``limits``' in-memory counters, with their sweep for expired ones run at most once a second.

    The library starts a sweep over every counter after each hit that finds none running, so every
    write cost CPU in proportion to the recent callers (docs/decisions/0005). A counter is also dropped
    when it is read after it expired, so sweeping less often changes no answer, only when memory is freed.
    """

    sweep_interval_s = 1.0
    _next_sweep = 0.0
    sweeps = 0

    async def _MemoryStorage__schedule_expiry(self) -> None:  # the library's private hook, name-mangled
        now = time.monotonic()
        if now < self._next_sweep:
            return
        self._next_sweep = now + self.sweep_interval_s
        self.sweeps += 1
        await super()._MemoryStorage__schedule_expiry()  # type: ignore[misc]


class Limits:
    """The gateway's rate limits, sliding windows in memory: per verified caller (auth.py counts a
    caller once their token is verified) and per client address (RateLimit), reads and writes apart.

    A sliding window counter (this window's count plus the last one's, weighted by how much of it
    still overlaps) rather than a moving window of timestamps: the same limit to within a few
    percent at a fraction of the CPU (the asyncio storage expires counters without a thread).
    In memory per gateway instance: with N instances behind a balancer the effective limit is N times
    the setting (the ``limits`` package can use Redis instead, by its storage URL, if that matters).
    """

    def __init__(self, settings: GatewaySettings) -> None:
        self.limiter = SlidingWindowCounterRateLimiter(Counters())
        self.per_caller = {True: parse(settings.rate_limit_writes), False: parse(settings.rate_limit_reads)}
        self.per_ip = {True: parse(settings.rate_limit_writes_per_ip), False: parse(settings.rate_limit_reads_per_ip)}

    async def _refused(self, limit: Any, *keys: str) -> int | None:
        """None when the hit is within the limit, else the seconds until it may be tried again."""
        if await self.limiter.hit(limit, *keys):
            return None
        reset, _ = await self.limiter.get_window_stats(limit, *keys)
        return max(1, math.ceil(reset - time.time()))

    async def caller(self, method: str, subject: str) -> int | None:
        write = method in WRITES
        return await self._refused(self.per_caller[write], "caller", "w" if write else "r", subject)

    async def address(self, method: str, ip: str) -> int | None:
        write = method in WRITES
        return await self._refused(self.per_ip[write], "ip", "w" if write else "r", ip)


async def too_many(send: Send, retry_after: int) -> None:
    await _answer(send, 429, "too many requests; try again later", {"Retry-After": str(retry_after)})


class RateLimit(HttpMiddleware):
    """Every request per client address (after ClientAddress has found it)."""

    def __init__(self, app: ASGIApp, limits: Limits) -> None:
        super().__init__(app)
        self.limits = limits

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        client = scope.get("client")
        retry = await self.limits.address(str(scope.get("method")), str(client[0]) if client else "unknown")
        if retry is not None:
            await too_many(send, retry)
            return
        await self.app(scope, receive, send)


def install_middleware(app: FastAPI, settings: GatewaySettings) -> None:
    """Added innermost first: CORS, rate limit, body limit, request context, the client's address, then
    in dev mode the loopback check outermost. The limits are also ``app.state.limits``, for auth.py's
    per-caller count."""
    if settings.cors_allow_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_allow_origins,
            allow_methods=["GET", "POST", "PUT", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "X-Request-Id"],
            expose_headers=["X-Request-Id", "Retry-After"],
        )
    app.state.limits = Limits(settings)
    app.add_middleware(RateLimit, limits=app.state.limits)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(RequestContext, hsts="" if settings.dev_mode else settings.hsts)
    app.add_middleware(ClientAddress, trusted=settings.trusted_proxies())
    if settings.dev_mode:
        app.add_middleware(LoopbackOnly)
