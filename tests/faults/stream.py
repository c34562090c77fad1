"""A stream of applications through the whole system, and the count of every effect it must leave.

Cohorts of ten fellows, each from a different partner organisation: every fellow applies, is
endorsed by their sponsor and shortlisted by the board; each cohort is enrolled, paired and its
pairs published. Every service consumes part of that stream (applications publishes it, pairing
and feedback project fellows and pairs, notifications records five deliveries per fellow).

Requests are retried while a fault makes the gateway or a service unreachable: a retry of a
request that did commit answers 409 (the e-mail address is taken, the state has moved on), so
retrying never makes a second application or decision.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
from aiokafka import AIOKafkaProducer
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from bench.people import contact_recorded
from shared import events as ev
from shared import topics
from shared.envelope import wrap
from tests.conftest import TopicReader, envelopes, eventually
from tests.faults.conftest import Ledger
from tests.flows import ADMIN, BOARD, application

COHORT_SIZE = 10
ORGANISATION_CODES = ("RC9", "E06000032", "RD8", "E06000042", "RYE", "E06000055", "QHG", "E06000056", "RWK", "RV3")
APPLICATION_EVENTS = ("ApplicationSubmitted", "ApplicationEndorsed", "ApplicationShortlisted", "FellowEnrolled")
TEMPLATES = ("application_submitted", "application_endorsed", "application_shortlisted", "fellow_enrolled")


class Client:
    """The gateway, with every token fetched up front and requests retried across outages."""

    def __init__(self, http: httpx.AsyncClient, retry_for_s: float = 120) -> None:
        self.http = http
        self.retry_for_s = retry_for_s
        self.tokens: dict[tuple[str, ...], str] = {}
        self.retries = 0

    async def token(self, *who: str) -> str:
        if who not in self.tokens:
            body: dict[str, Any] = {"sub": who[0], "role": who[1]}
            if len(who) > 2:
                body["organisation_id"] = who[2]
            answer = await self.http.post("/api/dev/token", json=body)
            assert answer.status_code == 200, answer.text
            self.tokens[who] = answer.json()["token"]
        return self.tokens[who]

    async def call(
        self, method: str, path: str, who: tuple[str, ...], body: Any = None, ok: tuple[int, ...] = (200,)
    ) -> httpx.Response:
        """The answer once it is one of ``ok`` (or a 409 when 409 is in ``ok``); 5xx and lost
        connections are retried until the deadline."""
        headers = {"Authorization": f"Bearer {self.tokens[who]}"}
        deadline = time.monotonic() + self.retry_for_s
        while True:
            try:
                answer = await self.http.request(method, path, json=body, headers=headers)
                if answer.status_code < 500:
                    assert answer.status_code in ok, f"{method} {path}: {answer.status_code} {answer.text}"
                    return answer
                problem = f"{answer.status_code} {answer.text[:200]}"
            except httpx.TransportError as exc:
                problem = repr(exc)
            if time.monotonic() > deadline:
                raise AssertionError(f"{method} {path} still failing after {self.retry_for_s}s: {problem}")
            self.retries += 1
            await asyncio.sleep(0.1)  # pace the retries of an unreachable service


@dataclass
class Cohort:
    id: str
    fellows: list[str] = field(default_factory=list)


@dataclass
class Stream:
    """What one scenario sent: its cohorts and their fellows (application ids)."""

    tag: str
    cohorts: list[Cohort]
    organisations: dict[str, str]

    @property
    def cohort_ids(self) -> list[str]:
        return [c.id for c in self.cohorts]

    @property
    def fellow_ids(self) -> list[str]:
        return [f for c in self.cohorts for f in c.fellows]

    def applicant(self, cohort: Cohort, i: int) -> tuple[str, str]:
        return (f"fault-{self.tag}-{cohort.id}-{i}", "applicant")

    def email(self, cohort: Cohort, i: int) -> str:
        return f"fault-{self.tag}-{cohort.id[:8]}-{i}@example.nhs.uk"


async def prepare(client: Client, tag: str, n: int) -> Stream:
    """Cohorts for ``n`` applications (rounded up to whole cohorts), and every token the stream uses."""
    await client.token(*ADMIN)
    await client.token(*BOARD)
    answer = await client.call("GET", "/api/organisations", ADMIN)
    organisations = {o["code"]: o["id"] for o in answer.json()}
    cohorts = []
    for k in range(max(1, -(-n // COHORT_SIZE))):
        body = {"programme": "Faults", "name": f"{tag} {k}", "capacity": COHORT_SIZE, "pairing_mode": "peer"}
        created = await client.call("POST", "/api/cohorts", ADMIN, body, ok=(201,))
        cohorts.append(Cohort(created.json()["id"]))
    stream = Stream(tag, cohorts, organisations)
    for code in ORGANISATION_CODES:
        await client.token("sam", "sponsor", organisations[code])
    for cohort in cohorts:
        for i in range(COHORT_SIZE):
            await client.token(*stream.applicant(cohort, i))
    return stream


async def apply(client: Client, stream: Stream, cohort: Cohort, i: int) -> str:
    who = stream.applicant(cohort, i)
    organisation_id = stream.organisations[ORGANISATION_CODES[i]]
    staff_group = "clinical" if i % 2 == 0 else "non_clinical"
    body = application(cohort.id, organisation_id, f"Fault {i}", stream.email(cohort, i), staff_group)
    answer = await client.call("POST", "/api/applications", who, body, ok=(201, 409))
    if answer.status_code == 201:
        return str(answer.json()["id"])
    # a retry of an application that had been taken: find it
    mine = (await client.call("GET", f"/api/applications?cohort_id={cohort.id}", who)).json()  # an applicant's own
    (taken,) = mine
    return str(taken["id"])


async def run_cohort(client: Client, stream: Stream, cohort: Cohort) -> None:
    """Apply, endorse, shortlist (each step for the ten fellows at once), enrol, request pairing."""
    cohort.fellows = list(await asyncio.gather(*(apply(client, stream, cohort, i) for i in range(COHORT_SIZE))))
    sponsors = [("sam", "sponsor", stream.organisations[code]) for code in ORGANISATION_CODES]
    await asyncio.gather(
        *(
            client.call("POST", f"/api/applications/{f}/endorse", sponsors[i], {}, ok=(202, 409))
            for i, f in enumerate(cohort.fellows)
        )
    )
    decision = {"decision": "shortlist", "reason": "strong"}
    await asyncio.gather(
        *(
            client.call("POST", f"/api/applications/{f}/decision", BOARD, decision, ok=(202, 409))
            for f in cohort.fellows
        )
    )
    await client.call("POST", f"/api/cohorts/{cohort.id}/enrol", BOARD, {}, ok=(202,))
    await client.call("POST", f"/api/cohorts/{cohort.id}/pairing", BOARD, {}, ok=(202,))


async def run(client: Client, stream: Stream, fault: Callable[[], Awaitable[None]] | None = None) -> None:
    """The cohorts one after another; ``fault`` starts when half of them have gone through."""
    task: asyncio.Task[None] | None = None
    for k, cohort in enumerate(stream.cohorts):
        if fault is not None and k == len(stream.cohorts) // 2:
            task = asyncio.create_task(fault())  # type: ignore[arg-type]
            await asyncio.sleep(0)  # let the fault begin before the second half goes out
        await run_cohort(client, stream, cohort)
    if task is not None:
        await task


async def publish_pairs(client: Client, stream: Stream, timeout_s: float = 120) -> None:
    """Publish each cohort's pairs once it is paired. A cohort still unpaired at the deadline stays
    unpublished: the count of effects then shows what is missing."""
    waiting = list(stream.cohorts)

    async def publish_the_paired() -> bool:
        for cohort in list(waiting):
            answer = await client.call("GET", f"/api/cohorts/{cohort.id}/pairs", BOARD, ok=(200, 404))
            pairs = answer.json() if answer.status_code == 200 else []
            if sum(len(p["fellow_ids"]) for p in pairs) == len(cohort.fellows):
                await client.call("POST", f"/api/cohorts/{cohort.id}/pairs/publish", BOARD, {}, ok=(202,))
                waiting.remove(cohort)
        return not waiting

    with contextlib.suppress(AssertionError):
        await eventually(publish_the_paired, timeout_s, "every cohort to be paired")


@dataclass
class Count:
    expected: int
    found: int  # rows or distinct events
    distinct: int  # different effects among them

    @property
    def exact(self) -> bool:
        return self.found == self.distinct == self.expected


# the fellows of each pair row, one per line
MEMBERS = "json_array_elements_text(CAST(p.fellow_ids AS json)) f"


async def _count(engine: AsyncEngine, expected: int, sql: str, **params: Any) -> Count:
    """``expected`` effects against what ``sql`` counts: the rows found and the distinct effects among them."""
    async with engine.connect() as c:
        found, distinct = (await c.execute(text(sql), params)).one()
    return Count(expected, int(found or 0), int(distinct or 0))


async def count_effects(engine: AsyncEngine, reader: TopicReader, stream: Stream) -> dict[str, Count]:
    """Every effect the stream must leave, counted in the schema that owns it and on the topic."""
    n = len(stream.fellow_ids)
    ids = {"c": stream.cohort_ids, "f": stream.fellow_ids}
    any_c = "cohort_id = ANY(CAST(:c AS uuid[]))"
    counts: dict[str, Count] = {}
    counts["applications.application"] = await _count(
        engine,
        n,
        "SELECT count(*), count(DISTINCT lower(email)) FROM applications.application"
        f" WHERE {any_c} AND state = 'enrolled'",
        c=ids["c"],
    )
    wanted = set(stream.fellow_ids)
    events: dict[tuple[str, str], set[str]] = {}
    for e in envelopes(await reader.poll()):
        data = e.get("data") or {}
        subject = str(data.get("application_id") or data.get("fellow_id") or "")
        if e.get("type") in APPLICATION_EVENTS and subject in wanted:
            events.setdefault((e["type"], subject), set()).add(e["id"])
    counts[topics.APPLICATIONS] = Count(4 * n, sum(len(v) for v in events.values()), len(events))
    # pairing and feedback each project every fellow and hold each in one pair
    for fellows, pairs in (("pairing.fellow", "pairing.pair"), ("feedback.fellow", "feedback.exchange_pair")):
        counts[fellows] = await _count(
            engine, n, f"SELECT count(*), count(DISTINCT id) FROM {fellows} WHERE {any_c}", c=ids["c"]
        )
        counts[f"{pairs} (fellows)"] = await _count(
            engine, n, f"SELECT count(*), count(DISTINCT f) FROM {pairs} p, {MEMBERS} WHERE {any_c}", c=ids["c"]
        )
    counts["notifications.delivery"] = await _count(
        engine,
        5 * n,
        "SELECT count(*), count(DISTINCT (recipient_id, template)) FROM notifications.delivery"
        " WHERE recipient_id = ANY(CAST(:f AS uuid[]))",
        f=ids["f"],
    )
    return counts


def dead_letters(reader: TopicReader, stream: Stream) -> int:
    """Records of this stream that some consumer dead-lettered (a reader of the .dlq topics)."""
    ours = set(stream.fellow_ids) | set(stream.cohort_ids)
    found = 0
    for e in envelopes(reader.records):
        data = e.get("data") or {}
        keys = {str(data.get(k)) for k in ("application_id", "fellow_id", "cohort_id", "person_id")}
        found += bool(keys & ours)
    return found


async def settle(
    engine: AsyncEngine,
    reader: TopicReader,
    stream: Stream,
    ledger: Ledger,
    scenario: str,
    timeout_s: float = 120,
    dlq: TopicReader | None = None,
    burst: Burst | None = None,
) -> dict[str, Count]:
    """Wait until every effect is there, record the counts in the ledger, and fail on any loss or double."""
    last: dict[str, Count] = {}

    async def complete() -> bool:
        nonlocal last
        last = await count_effects(engine, reader, stream) | (await burst.count(engine) if burst else {})
        return all(c.found >= c.expected for c in last.values())

    with contextlib.suppress(AssertionError):  # the table shows what is missing; the assert below fails
        await eventually(complete, timeout_s, f"every effect of {scenario}")
    # counted once more after completion, so a double that lands late is still seen
    last = await count_effects(engine, reader, stream) | (await burst.count(engine) if burst else {})
    for effect, c in last.items():
        ledger.record(scenario, effect, c.expected, c.found, c.distinct)
    wrong = {effect: c for effect, c in last.items() if not c.exact}
    assert not wrong, f"{scenario}: lost or doubled effects: {wrong}"
    if dlq is not None:
        seen = -1
        while seen != len(dlq.records):  # read the dead-letter topics to their end
            seen = len(dlq.records)
            await dlq.poll()
        assert dead_letters(dlq, stream) == 0, f"{scenario}: events of the stream were dead-lettered"
    return last


@dataclass
class Burst:
    """Contract events written straight onto the topics, as fast as the broker takes them: a contact
    and an enrolment per fellow of a cohort no service has seen. Consumers get far more at once
    than the gateway can cause, so a fault lands while handlers are busy."""

    size: int
    cohort_id: uuid.UUID = field(default_factory=uuid.uuid4)
    fellow_ids: list[uuid.UUID] = field(default_factory=list)
    event_ids: list[uuid.UUID] = field(default_factory=list)

    def envelopes(self) -> list[tuple[str, bytes, bytes]]:
        out = []
        organisation = uuid.uuid4()
        for i in range(self.size):
            fellow = uuid.uuid4()
            self.fellow_ids.append(fellow)
            contact = contact_recorded(fellow, i, organisation)
            enrolled = ev.FellowEnrolled(
                fellow_id=fellow,
                cohort_id=self.cohort_id,
                organisation_id=organisation,
                organisation_code="BURST",
                sector="nhs_trust",
                place="Bedford",
                staff_group="clinical",
                band="8a",
                availability=[],
                enrolled_at=datetime.now(UTC),
            )
            for event in (contact, enrolled):
                envelope = wrap(event, "faults")
                self.event_ids.append(envelope.id)
                out.append((event.topic, event.key.encode(), envelope.to_bytes()))
        return out

    async def send(self, bootstrap_servers: str, started: asyncio.Event | None = None) -> None:
        """Write every event (pipelined), setting ``started`` after the first quarter is acknowledged."""
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap_servers, acks="all", linger_ms=5)
        await producer.start()
        try:
            records = self.envelopes()
            quarter = len(records) // 4
            for part in (records[:quarter], records[quarter:]):
                acks = [await producer.send(topic, value, key=key) for topic, key, value in part]
                await asyncio.gather(*acks)
                if started is not None:
                    started.set()
        finally:
            await producer.stop()

    async def count(self, engine: AsyncEngine) -> dict[str, Count]:
        n, f, c = self.size, [str(x) for x in self.fellow_ids], str(self.cohort_id)
        any_f = "= ANY(CAST(:f AS uuid[]))"
        counts = {
            "burst: notifications.contact": await _count(
                engine,
                n,
                f"SELECT count(*), count(DISTINCT person_id) FROM notifications.contact WHERE person_id {any_f}",
                f=f,
            )
        }
        for fellows in ("pairing.fellow", "feedback.fellow"):
            counts[f"burst: {fellows}"] = await _count(
                engine, n, f"SELECT count(*), count(DISTINCT id) FROM {fellows} WHERE cohort_id = CAST(:c AS uuid)", c=c
            )
        counts["burst: notifications.delivery"] = await _count(
            engine,
            n,
            "SELECT count(*), count(DISTINCT (recipient_id, template)) FROM notifications.delivery"
            f" WHERE template = 'fellow_enrolled' AND recipient_id {any_f}",
            f=f,
        )
        return counts
