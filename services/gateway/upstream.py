"""The gateway's client for the services it forwards to (aiohttp, kept-alive connections).

Every API request becomes at least one request to a service, so this client is on the hot path:
aiohttp's connection pool takes a free connection in constant time, where httpx's scanned every
pooled connection on each request and answer (half the gateway's CPU under load, by py-spy).
Answers are read whole (they are small JSON documents) and handed back as an ``Answer``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp


class Unavailable(Exception):
    """The service could not be reached or did not answer in time."""


@dataclass(frozen=True)
class Answer:
    status_code: int
    content: bytes
    content_type: str

    def json(self) -> Any:
        return json.loads(self.content)


class Upstream:
    def __init__(
        self,
        timeout_s: float,
        *,
        max_connections: int = 256,
        keepalive_s: float = 4.0,
        trace_configs: Sequence[aiohttp.TraceConfig] = (),
    ) -> None:
        # Idle connections are closed before the services' uvicorn closes them (after 5 s), so none
        # is reused just as the server hangs up. ``trace_configs``: OpenTelemetry's, with tracing on.
        self.session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=timeout_s),
            connector=aiohttp.TCPConnector(limit=max_connections, keepalive_timeout=keepalive_s),
            raise_for_status=False,
            trace_configs=list(trace_configs) or None,
        )

    async def request(
        self,
        method: str,
        url: str,
        *,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
        timeout_s: float | None = None,
    ) -> Answer:
        timeout = aiohttp.ClientTimeout(total=timeout_s) if timeout_s is not None else None
        try:
            async with self.session.request(
                method, url, json=body, headers=headers, params=params, timeout=timeout
            ) as response:
                return Answer(
                    response.status, await response.read(), response.headers.get("content-type", "application/json")
                )
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise Unavailable(f"{method} {url}: {exc.__class__.__name__}: {exc}") from exc

    async def close(self) -> None:
        await self.session.close()
