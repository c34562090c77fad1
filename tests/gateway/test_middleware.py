"""Request ids, body size limit, rate limiting, trusted proxies, security headers and closed CORS."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator

import pytest
from limits import parse
from limits.aio.strategies import SlidingWindowCounterRateLimiter

from services.gateway.auth import issue_dev_token
from services.gateway.middleware import Counters
from tests.gateway.inprocess import gateway, settings


async def test_a_request_id_is_taken_when_sane_made_up_otherwise_echoed_and_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with gateway(settings()) as client:
        with caplog.at_level(logging.INFO, logger="services.gateway.access"):
            given = await client.get("/api/organisations", headers={"X-Request-Id": "trace-42.a:b"})
        assert given.headers["x-request-id"] == "trace-42.a:b"
        made = await client.get("/api/organisations")
        assert len(made.headers["x-request-id"]) == 32
        injected = await client.get("/api/organisations", headers={"X-Request-Id": "x\tnew line" + "a" * 200})
        assert injected.headers["x-request-id"] != "x\tnew line" and len(injected.headers["x-request-id"]) == 32
    (line,) = [r for r in caplog.records if r.name == "services.gateway.access"]
    assert line.getMessage() == "GET /api/organisations 401" and line.status == 401  # type: ignore[attr-defined]


async def test_every_answer_carries_the_security_headers_and_no_cors_by_default() -> None:
    async with gateway(settings()) as client:
        answer = await client.get("/api/organisations")
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["x-frame-options"] == "DENY"
        assert answer.headers["referrer-policy"] == "no-referrer"
        assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]
        assert answer.headers["cache-control"] == "no-store"
        preflight = await client.options(
            "/api/cohorts",
            headers={"Origin": "https://elsewhere.example", "Access-Control-Request-Method": "POST"},
        )
        assert "access-control-allow-origin" not in preflight.headers
        simple = await client.get("/api/organisations", headers={"Origin": "https://elsewhere.example"})
        assert "access-control-allow-origin" not in simple.headers


async def test_cors_opens_only_to_the_configured_origins() -> None:
    async with gateway(settings(cors_allow_origins=["https://staff.ics.example"])) as client:
        allowed = await client.options(
            "/api/cohorts",
            headers={"Origin": "https://staff.ics.example", "Access-Control-Request-Method": "POST"},
        )
        assert allowed.status_code == 200
        assert allowed.headers["access-control-allow-origin"] == "https://staff.ics.example"
        other = await client.options(
            "/api/cohorts",
            headers={"Origin": "https://elsewhere.example", "Access-Control-Request-Method": "POST"},
        )
        assert "access-control-allow-origin" not in other.headers


async def test_bodies_over_the_limit_are_refused_with_413_with_or_without_content_length() -> None:
    async with gateway(settings(max_body_bytes=1000)) as client:
        big = b'{"name": "' + b"x" * 2000 + b'"}'
        sized = await client.post("/api/cohorts", content=big, headers={"content-type": "application/json"})
        assert sized.status_code == 413 and "1000 bytes" in sized.json()["detail"]

        async def chunks() -> AsyncIterator[bytes]:
            for _ in range(4):
                yield b" " * 400

        chunked = await client.post("/api/cohorts", content=chunks(), headers={"content-type": "application/json"})
        assert chunked.status_code == 413 and chunked.headers["x-request-id"]

        async def small() -> AsyncIterator[bytes]:
            yield b"{}"

        fine = await client.post("/api/cohorts", content=small(), headers={"content-type": "application/json"})
        assert fine.status_code == 401  # through the limit: refused for want of a token, not its size


async def test_requests_are_rate_limited_per_verified_caller_and_per_address_with_retry_after() -> None:
    # Windows of an hour: the sliding window counter weighs the last clock window's hits down, so a
    # test straddling a boundary of minute windows could see one hit more allowed.
    config = settings(
        dev_mode=True,
        rate_limit_writes="3/hour",
        rate_limit_reads="4/hour",
        rate_limit_writes_per_ip="6/hour",
        rate_limit_reads_per_ip="100/hour",
    )
    async with gateway(config) as client:
        ann = {"Authorization": f"Bearer {issue_dev_token(config, 'ann', 'applicant', None)}"}
        # authenticated, then refused by role (403) until ann's write budget is spent
        codes = [(await client.post("/api/cohorts", json={}, headers=ann)).status_code for _ in range(4)]
        assert codes == [403, 403, 403, 429]
        refused = await client.post("/api/cohorts", json={}, headers=ann)
        assert refused.status_code == 429 and 1 <= int(refused.headers["retry-after"]) <= 3600
        # reads have their own budget per caller
        report = "/api/cohorts/00000000-0000-4000-8000-000000000000/shortlisting"
        reads = [(await client.get(report, headers=ann)).status_code for _ in range(5)]
        assert reads == [403, 403, 403, 403, 429]
        # a made-up token is no caller: refused (401), it still spends the address's budget (the 6th write)
        made_up = {"Authorization": "Bearer made-up"}
        assert (await client.post("/api/cohorts", json={}, headers=made_up)).status_code == 401
        # another caller from the same address has their own budget, but the address's is spent
        bob = {"Authorization": f"Bearer {issue_dev_token(config, 'bob', 'applicant', None)}"}
        assert (await client.post("/api/cohorts", json={}, headers=bob)).status_code == 429


async def test_x_forwarded_for_is_believed_only_from_trusted_proxies() -> None:
    untrusted = settings(rate_limit_writes_per_ip="1/hour")
    async with gateway(untrusted) as client:
        codes = [
            (await client.post("/api/cohorts", json={}, headers={"X-Forwarded-For": f"203.0.113.{i}"})).status_code
            for i in range(2)
        ]
        assert codes == [401, 429]  # a fresh X-Forwarded-For from an untrusted peer buys nothing

    behind_proxy = settings(rate_limit_writes_per_ip="1/hour", forwarded_allow_ips="10.1.2.0/24")
    async with gateway(behind_proxy) as client:

        async def post(forwarded_for: str) -> int:
            headers = {"X-Forwarded-For": forwarded_for}
            return (await client.post("/api/cohorts", json={}, headers=headers)).status_code

        assert [await post("203.0.113.7"), await post("203.0.113.7")] == [401, 429]
        assert await post("203.0.113.8") == 401  # another client behind the proxy: their own budget
        # the client's own claim (left) is not believed: the rightmost hop no trusted proxy added is
        assert await post("198.51.100.1, 203.0.113.8") == 429
        assert [await post("203.0.113.9, 10.1.2.50"), await post("203.0.113.9, 10.1.2.51")] == [401, 429]


async def test_the_rate_limit_counters_are_swept_at_most_once_a_second_whatever_the_number_of_callers() -> None:
    # limits' own storage sweeps every counter after each hit: the cost of a write grew with the callers
    counters = Counters()
    limiter = SlidingWindowCounterRateLimiter(counters)
    item = parse("2/minute")
    started = time.monotonic()
    for i in range(3000):
        assert await limiter.hit(item, "caller", f"caller-{i}")
    elapsed = time.monotonic() - started
    assert 1 <= counters.sweeps <= 1 + elapsed / counters.sweep_interval_s
    # and the limit still holds between sweeps
    assert await limiter.hit(item, "caller", "caller-7") and not await limiter.hit(item, "caller", "caller-7")
