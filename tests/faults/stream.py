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
import json
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import policy
from email.parser import BytesHeaderParser
from email.utils import parseaddr
from typing import Any

import httpx
from aiokafka import AIOKafkaProducer
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from bench.people import contact_recorded
from bench.people import email as burst_email
from lbb import deliveries as operator
from lbb.mailsink import MailSink
from services.notifications.domain import TEMPLATES as MAIL_TEMPLATES
from services.notifications.render import delivery_message_id
from shared import events as ev
from shared import topics
from shared.envelope import wrap
from tests.conftest import TopicReader, envelopes, eventually
from tests.faults.conftest import Count, Ledger
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


# --- where the stream's effects are counted -------------------------------------------------------

# The topics the stream puts events on, read back from the broker (feedback publishes nothing for it).
STREAM_TOPICS = (topics.APPLICATIONS, topics.CONTACTS, topics.PAIRING, topics.NOTIFICATIONS)
TEMPLATE_OF_SUBJECT = {t.title: name for name, t in MAIL_TEMPLATES.items()}
MESSAGE_ID_DOMAIN = "beyond-boundaries.nhs.uk"  # the notifications service's default


@dataclass(frozen=True)
class Mail:
    to: str
    message_id: str
    template: str


class Mailbox:
    """What the SMTP server (the stack's sink) received, each message's headers read once."""

    def __init__(self, sink: MailSink) -> None:
        self.sink = sink
        self.mails: list[Mail] = []
        self._parser = BytesHeaderParser(policy=policy.default)

    def read(self) -> list[Mail]:
        new = self.sink.received[len(self.mails) :]
        for raw in new:
            headers = self._parser.parsebytes(raw)
            subject = str(headers["Subject"] or "")
            self.mails.append(
                Mail(
                    parseaddr(str(headers["To"] or ""))[1].lower(),
                    str(headers["Message-ID"] or ""),
                    TEMPLATE_OF_SUBJECT.get(subject, subject),
                )
            )
        return self.mails

    def has(self, message_id: str) -> bool:
        """Whether the mail system has a message (what an operator asks it before a resend)."""
        return any(m.message_id == message_id for m in self.read())

    def count(self, addresses: set[str], expected: int, label: str = "") -> dict[str, Count]:
        """E-mails to ``addresses``: a message the server took twice shows under (recipient, Message-ID);
        a second delivery of the same notice (a doubled event upstream gets a new delivery and with it
        a new Message-ID) shows under (recipient, template)."""
        mails = [m for m in self.read() if m.to in addresses]
        return {
            f"{label}e-mails received, by (recipient, Message-ID)": Count(
                expected, len(mails), len({(m.to, m.message_id) for m in mails})
            ),
            f"{label}e-mails received, by (recipient, template)": Count(
                expected, len(mails), len({(m.to, m.template) for m in mails})
            ),
        }


class Topics:
    """The stream's topics read back from the broker the way an outside system would, each record
    parsed once."""

    def __init__(self, reader: TopicReader) -> None:
        self.reader = reader
        self.events: list[tuple[str, dict[str, Any]]] = []  # (topic, envelope)
        self._parsed = 0

    async def read(self) -> list[tuple[str, dict[str, Any]]]:
        records = await self.reader.poll()
        for record in records[self._parsed :]:
            try:
                self.events.append((record.topic, json.loads(record.value)))
            except (ValueError, TypeError):  # poison-message tests leave non-JSON records on the topics
                continue
        self._parsed = len(records)
        return self.events


@dataclass
class Sources:
    """Where a scenario's effects are counted: the services' schemas, the topics, the SMTP server."""

    engine: AsyncEngine
    topics: Topics
    mailbox: Mailbox
    gateway_url: str


# the fellows of each pair row, one per line
MEMBERS = "json_array_elements_text(CAST(p.fellow_ids AS json)) f"


async def _count(engine: AsyncEngine, expected: int, sql: str, *, keyed: bool = False, **params: Any) -> Count:
    """``expected`` effects against what ``sql`` counts: the rows found and the distinct effects among
    them. ``keyed``: a primary key or unique index makes the two equal, so only a loss can show."""
    async with engine.connect() as c:
        found, distinct = (await c.execute(text(sql), params)).one()
    return Count(expected, int(found or 0), int(distinct or 0), keyed=keyed)


def _topic_key(topic: str, e: dict[str, Any], stream: Stream, fellows: set[str]) -> Any:
    """The business key of a stream's event on ``topic`` (None: not the stream's, or not counted)."""
    data, kind = e.get("data") or {}, e.get("type")
    if topic == topics.APPLICATIONS and kind in APPLICATION_EVENTS:
        subject = str(data.get("application_id") or data.get("fellow_id") or "")
        return (kind, subject) if subject in fellows else None
    if topic == topics.CONTACTS and kind == "ContactRecorded":
        return data.get("person_id") if data.get("person_id") in fellows else None
    if topic == topics.PAIRING and kind == "PairAssigned":
        return data.get("pair_id") if data.get("cohort_id") in stream.cohort_ids else None
    if topic == topics.NOTIFICATIONS and kind == "NotificationSent":
        return data.get("delivery_id") if data.get("recipient_id") in fellows else None
    return None


async def count_topics(read: Topics, stream: Stream, expected: dict[str, int]) -> dict[str, Count]:
    """Each topic's events of the stream by envelope id: ``found`` distinct events, ``distinct`` their
    business keys (one fact published as two events is a duplicate), ``repeats`` records whose
    envelope id came before (the relay delivers at least once; every consumer's inbox drops them)."""
    fellows = set(stream.fellow_ids)
    records = {t: 0 for t in STREAM_TOPICS}
    by_key: dict[str, dict[Any, set[str]]] = {t: {} for t in STREAM_TOPICS}
    # records of one message key share a partition and are read in offset order: an application's
    # events must come as submitted, endorsed, shortlisted, enrolled (the other topics' counted
    # events are one per key); a record after a later stage of its key is out of order, repeats too
    latest: dict[str, int] = {}
    out_of_order = {t: 0 for t in STREAM_TOPICS}
    for topic, e in await read.read():
        if topic in by_key and (key := _topic_key(topic, e, stream, fellows)) is not None:
            records[topic] += 1
            by_key[topic].setdefault(key, set()).add(str(e.get("id")))
            if topic == topics.APPLICATIONS:
                kind, subject = key
                stage = APPLICATION_EVENTS.index(kind)
                out_of_order[topic] += stage < latest.get(subject, -1)
                latest[subject] = max(stage, latest.get(subject, -1))
    counts = {}
    for topic, keys in by_key.items():
        events = sum(len(ids) for ids in keys.values())
        counts[f"{topic}, by envelope id"] = Count(
            expected[topic], events, len(keys), repeats=records[topic] - events, out_of_order=out_of_order[topic]
        )
    return counts


async def count_effects(sources: Sources, stream: Stream) -> dict[str, Count]:
    """Every effect the stream must leave: in the schema that owns it, on the topics, at the SMTP server."""
    engine = sources.engine
    n = len(stream.fellow_ids)
    ids = {"c": stream.cohort_ids, "f": stream.fellow_ids}
    any_c = "cohort_id = ANY(CAST(:c AS uuid[]))"
    counts: dict[str, Count] = {}
    counts["applications.application (unique index)"] = await _count(
        engine,
        n,
        "SELECT count(*), count(DISTINCT lower(email)) FROM applications.application"
        f" WHERE {any_c} AND state = 'enrolled'",
        keyed=True,
        c=ids["c"],
    )
    # pairing and feedback each project every fellow (primary key: only a loss can show) and hold each
    # in one pair (a list in a pair row: nothing stops a fellow from being in two)
    for fellows, pairs in (("pairing.fellow", "pairing.pair"), ("feedback.fellow", "feedback.exchange_pair")):
        counts[f"{fellows} (primary key)"] = await _count(
            engine, n, f"SELECT count(*), count(DISTINCT id) FROM {fellows} WHERE {any_c}", keyed=True, c=ids["c"]
        )
        counts[f"{pairs}, fellows in pairs"] = await _count(
            engine, n, f"SELECT count(*), count(DISTINCT f) FROM {pairs} p, {MEMBERS} WHERE {any_c}", c=ids["c"]
        )
    counts["notifications.delivery, by (recipient, template)"] = await _count(
        engine,
        5 * n,
        "SELECT count(*), count(DISTINCT (recipient_id, template)) FROM notifications.delivery"
        " WHERE recipient_id = ANY(CAST(:f AS uuid[]))",
        f=ids["f"],
    )
    async with engine.connect() as c:
        sent = await c.scalar(
            text(
                "SELECT count(*) FROM notifications.delivery"
                " WHERE recipient_id = ANY(CAST(:f AS uuid[])) AND status = 'sent'"
            ),
            {"f": ids["f"]},
        )
    expected = {
        topics.APPLICATIONS: 4 * n,
        topics.CONTACTS: n,
        topics.PAIRING: sum(len(c.fellows) // 2 for c in stream.cohorts),
        topics.NOTIFICATIONS: int(sent or 0),  # one NotificationSent per delivery recorded as sent
    }
    counts |= await count_topics(sources.topics, stream, expected)
    addresses = {stream.email(c, i).lower() for c in stream.cohorts for i in range(len(c.fellows))}
    counts |= sources.mailbox.count(addresses, 5 * n)
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


async def operator_resends(sources: Sources, stream: Stream, timeout_s: float = 120) -> tuple[int, int]:
    """Once the stream's deliveries are settled, do what an operator does with ``unconfirmed`` ones
    (`lbb deliveries unconfirmed`, then `resend` through the gateway): ask the mail system whether
    it has each Message-ID and resend those it does not have. Returns (unconfirmed, resent)."""
    query = text(
        "SELECT id, status FROM notifications.delivery WHERE recipient_id = ANY(CAST(:f AS uuid[]))"
        " AND status IN ('pending', 'sending', 'handing_over', 'unconfirmed')"
    )
    waiting: list[Any] = []

    async def settled() -> bool:
        nonlocal waiting
        async with sources.engine.connect() as c:
            waiting = list((await c.execute(query, {"f": stream.fellow_ids})).all())
        return all(r.status == "unconfirmed" for r in waiting)

    with contextlib.suppress(AssertionError):  # what is still on its way shows in the counts
        await eventually(settled, timeout_s, "every delivery of the stream to be settled")
    ours = {str(r.id) for r in waiting if r.status == "unconfirmed"}
    if not ours:
        return 0, 0
    listed = await asyncio.to_thread(operator.unconfirmed, sources.gateway_url)
    unconfirmed = [row["id"] for row in listed if row["id"] in ours]
    assert len(unconfirmed) == len(ours), "`lbb deliveries unconfirmed` does not list them all"
    resent = 0
    for delivery_id in unconfirmed:
        if not sources.mailbox.has(delivery_message_id(delivery_id, MESSAGE_ID_DOMAIN)):
            await asyncio.to_thread(operator.resend, sources.gateway_url, delivery_id)
            resent += 1
    return len(unconfirmed), resent


async def settle(
    sources: Sources,
    stream: Stream,
    ledger: Ledger,
    scenario: str,
    timeout_s: float = 120,
    dlq: TopicReader | None = None,
    burst: Burst | None = None,
) -> dict[str, Count]:
    """Wait until every effect is there, record the counts in the ledger, and fail on any loss or double.
    Unconfirmed deliveries are first handled as an operator would (see ``operator_resends``)."""
    unconfirmed, resent = await operator_resends(sources, stream)
    if unconfirmed:
        scenario += f" ({unconfirmed} unconfirmed, {resent} resent)"
    last: dict[str, Count] = {}

    async def counted() -> dict[str, Count]:
        return await count_effects(sources, stream) | (await burst.count(sources) if burst else {})

    async def complete() -> bool:
        nonlocal last
        last = await counted()
        return all(c.distinct >= c.expected for c in last.values())

    with contextlib.suppress(AssertionError):  # the table shows what is missing; the assert below fails
        await eventually(complete, timeout_s, f"every effect of {scenario}")
    # counted once more after completion, so a double that lands late is still seen
    last = await counted()
    for effect, c in last.items():
        ledger.record(scenario, effect, c)
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

    async def count(self, sources: Sources) -> dict[str, Count]:
        """The burst's effects: the projections (primary keys: only a loss can show), the deliveries by
        (recipient, template), and the e-mails the SMTP server received."""
        engine = sources.engine
        n, f, c = self.size, [str(x) for x in self.fellow_ids], str(self.cohort_id)
        any_f = "= ANY(CAST(:f AS uuid[]))"
        counts = {
            "burst: notifications.contact (primary key)": await _count(
                engine,
                n,
                f"SELECT count(*), count(DISTINCT person_id) FROM notifications.contact WHERE person_id {any_f}",
                keyed=True,
                f=f,
            )
        }
        for fellows in ("pairing.fellow", "feedback.fellow"):
            counts[f"burst: {fellows} (primary key)"] = await _count(
                engine,
                n,
                f"SELECT count(*), count(DISTINCT id) FROM {fellows} WHERE cohort_id = CAST(:c AS uuid)",
                keyed=True,
                c=c,
            )
        counts["burst: notifications.delivery, by (recipient, template)"] = await _count(
            engine,
            n,
            "SELECT count(*), count(DISTINCT (recipient_id, template)) FROM notifications.delivery"
            f" WHERE template = 'fellow_enrolled' AND recipient_id {any_f}",
            f=f,
        )
        addresses = {burst_email(x).lower() for x in self.fellow_ids}
        return counts | sources.mailbox.count(addresses, n, "burst: ")
