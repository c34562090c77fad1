"""Pipeline benchmark: raw Kafka-protocol throughput against the whole system's, and latency at a fixed load.

    .venv/bin/python bench/pipeline.py              # 20,000 raw, 1,000 closed loop, 25/50/100 app/s for 15 s each
    .venv/bin/python bench/pipeline.py --quick          # a smaller run for a smoke check

It starts its own embedded stack (broker, PostgreSQL, SMTP sink, every service and the gateway, as
`lbb dev` does, in a temporary folder) and prints:

1. raw: aiokafka produce → consume of envelope-sized messages on the same broker, pipelined (the limit);
2. pipeline throughput: N applications POSTed through the gateway with a fixed number in flight, until
   the notifications service has consumed every ApplicationSubmitted (the gateway → applications →
   outbox → broker → notifications inbox → delivery row path), then until every e-mail was sent;
3. pipeline latency at fixed offered loads (open loop, default 25, 50 and
   100 applications/s, that is 50, 100 and 200 events/s on the topics): from each request's
   scheduled start to its delivery row in notifications (p50/p95/p99), and to the e-mail sent;
4. enrolment fan-out: the board enrols the shortlisted cohort in one request; FellowEnrolled events
   until pairing has projected every fellow (gateway → applications → pairing);
5. the consumer half alone: a backlog of ContactRecorded put straight onto the topic, drained by
   notifications (fetch, envelope, inbox, handler, commit, offset: no HTTP, no e-mail);
6. the HTTP ceiling: the gateway's cheapest route (a dev token: no upstream, no database) in a closed
   loop. No application passes the gateway faster, so this bounds the pipeline / raw ratio;
7. CPU seconds and peak memory (RSS) of each process over the run (psutil).

Times of effects come from the rows the services wrote (PostgreSQL's clock, the same host clock).
A benchmark, not a test: the machines are noisy, so quote the figures of one run together.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from lbb.devstack import Stack, free_port, port_open, wait_until
from services.gateway.upstream import Answer, Unavailable, Upstream
from shared import topics
from shared.broker import ensure_topics
from shared.envelope import wrap

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the bench package, when run as a script

from bench.people import contact_recorded

console = Console()
RAW_TOPIC = "lbb.bench.raw.v1"
# Each application puts two events on the topics (ApplicationSubmitted, ContactRecorded); notifications
# consumes both before it records the e-mail, so event rates are twice the application rates.
EVENTS_PER_APPLICATION = 2


# ---------------------------------------------------------------- processes: CPU and memory


@dataclass
class Watched:
    """One service's processes (PostgreSQL: the postmaster and its backends, found afresh each sample)."""

    name: str
    find: Callable[[], list[psutil.Process]]
    cpu_seen: dict[int, tuple[float, float]] = field(default_factory=dict)  # pid: (first, last) CPU seconds
    rss_peak: int = 0

    def sample(self) -> None:
        rss = 0
        for p in self.find():
            with contextlib.suppress(psutil.Error):
                t = p.cpu_times()
                cpu = t.user + t.system
                first = self.cpu_seen.get(p.pid, (cpu, cpu))[0]
                self.cpu_seen[p.pid] = (first, cpu)
                rss += p.memory_info().rss
        self.rss_peak = max(self.rss_peak, rss)

    def cpu(self) -> float:
        return sum(last - first for first, last in self.cpu_seen.values())


def fixed(pid: int) -> Callable[[], list[psutil.Process]]:
    process = psutil.Process(pid)
    return lambda: [process]


@dataclass
class Monitor:
    watched: list[Watched] = field(default_factory=list)
    _task: asyncio.Task[None] | None = None

    @classmethod
    def of(cls, stack: Stack) -> Monitor:
        watched = [Watched(name, fixed(p.process.pid)) for name, p in stack.processes.items() if p.process]
        if stack.kafka and stack.kafka.process:
            watched.append(Watched("broker (Tansu)", fixed(stack.kafka.process.pid)))
        if stack.postgres:
            data_dir = str(stack.postgres.data_dir)
            postmasters = [p for p in psutil.process_iter(["cmdline"]) if data_dir in " ".join(p.info["cmdline"] or [])]
            watched.append(
                Watched("PostgreSQL", lambda: [*postmasters, *(c for p in postmasters for c in p.children())])
            )
        return cls(watched)

    async def _sample(self) -> None:
        while True:
            for w in self.watched:
                w.sample()
            await asyncio.sleep(0.25)

    def start(self) -> None:
        self._task = asyncio.create_task(self._sample())

    async def stop(self) -> None:
        for w in self.watched:
            w.sample()
        if self._task:
            self._task.cancel()


# ---------------------------------------------------------------- raw broker throughput


async def raw_throughput(bootstrap: str, count: int, size: int) -> float:
    """Messages per second from the first send to the last message consumed (pipelined, acks=all)."""
    await ensure_topics(bootstrap, [RAW_TOPIC])
    payload = b"x" * size
    consumer = AIOKafkaConsumer(
        RAW_TOPIC,
        bootstrap_servers=bootstrap,
        group_id=f"bench-raw-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="latest",
        enable_auto_commit=False,
        fetch_max_wait_ms=50,
        session_timeout_ms=6000,
        heartbeat_interval_ms=500,
    )
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    await consumer.start()
    await producer.start()
    try:
        while not consumer.assignment():  # joined the group: "latest" now means from here on
            await consumer.getmany(timeout_ms=100)
        for tp in consumer.assignment():
            await consumer.seek_to_end(tp)
            await consumer.position(tp)
        run = uuid.uuid4().hex.encode()
        received = 0

        async def consume() -> None:
            nonlocal received
            while received < count:
                batches = await consumer.getmany(timeout_ms=200, max_records=5000)
                received += sum(1 for records in batches.values() for r in records if r.key == run)

        reader = asyncio.create_task(consume())
        started = time.perf_counter()
        acks = [await producer.send(RAW_TOPIC, payload, key=run) for _ in range(count)]
        await asyncio.gather(*acks)
        await asyncio.wait_for(reader, timeout=120)
        return count / (time.perf_counter() - started)
    finally:
        await producer.stop()
        await consumer.stop()


# ---------------------------------------------------------------- the system


def ok(answer: Answer) -> Answer:
    if answer.status_code >= 300:
        raise RuntimeError(f"{answer.status_code}: {answer.content.decode()}")
    return answer


class System:
    def __init__(self, stack: Stack, client: Upstream, engine: AsyncEngine, sink_pid: int) -> None:
        self.stack, self.client, self.engine, self.sink_pid = stack, client, engine, sink_pid
        self.tokens: dict[tuple[str, str], str] = {}

    def monitor(self) -> Monitor:
        """Every process of the run: the stack's, the SMTP sink and this load generator."""
        monitor = Monitor.of(self.stack)
        monitor.watched += [
            Watched("SMTP sink", fixed(self.sink_pid)),
            Watched("load generator (this)", fixed(os.getpid())),
        ]
        return monitor

    async def token(self, sub: str, role: str, organisation_id: str | None = None) -> str:
        key = (sub, role)
        if key not in self.tokens:
            body = {"sub": sub, "role": role, "organisation_id": organisation_id}
            answer = ok(await self.client.request("POST", f"{self.stack.gateway_url}/api/dev/token", body=body))
            self.tokens[key] = answer.json()["token"]
        return self.tokens[key]

    async def call(self, method: str, path: str, token: str, body: Any = None) -> Answer:
        url = f"{self.stack.gateway_url}{path}"
        return await self.client.request(method, url, body=body, headers={"Authorization": f"Bearer {token}"})

    async def cohort(self, name: str, capacity: int) -> str:
        admin = await self.token("bench-admin", "admin")
        body = {"programme": "Bench", "name": name, "capacity": capacity, "pairing_mode": "peer"}
        answer = await self.call("POST", "/api/cohorts", admin, body)
        return str(ok(answer).json()["id"])

    async def organisations(self) -> list[str]:
        answer = await self.call("GET", "/api/organisations", await self.token("bench-admin", "admin"))
        return [str(o["id"]) for o in ok(answer).json()]

    async def apply(self, cohort_id: str, org: str, i: int, token: str) -> tuple[str, float]:
        body = {
            "cohort_id": cohort_id,
            "name": f"Bench Fellow {i}",
            "email": f"bench{i}.{cohort_id[:8]}@example.nhs.uk",
            "job_title": "Ward manager",
            "organisation_id": org,
            "staff_group": "clinical" if i % 2 else "non_clinical",
            "band": "7",
            "statement": "I want to see how partners across the system lead.",
            "availability": ["monday", "wednesday"],
            "interests": ["flow", "workforce"],
        }
        started = time.perf_counter()
        answer = await self.call("POST", "/api/applications", token, body)
        if answer.status_code != 201:
            raise RuntimeError(f"application refused: {answer.status_code} {answer.content.decode()}")
        return str(answer.json()["id"]), time.perf_counter() - started

    async def _by_application(self, query: str, ids: list[str]) -> dict[str, tuple[Any, ...]]:
        """The rows of ``query`` (its first column the application id, ``:ids`` the ids asked for) by id."""
        async with self.engine.connect() as c:
            rows = await c.execute(text(query), {"ids": ids})
            return {r[0]: tuple(r[1:]) for r in rows}

    async def deliveries(self, ids: list[str]) -> dict[str, tuple[Any, ...]]:
        """Per application: when notifications recorded its delivery, and when the e-mail was sent."""
        return await self._by_application(
            "SELECT recipient_id::text, min(created_at), max(sent_at) FROM notifications.delivery"
            " WHERE template = 'application_submitted' AND recipient_id = ANY(CAST(:ids AS uuid[]))"
            " GROUP BY recipient_id",
            ids,
        )

    async def stages(self, ids: list[str]) -> dict[str, tuple[Any, ...]]:
        """Per application: when applications staged its ApplicationSubmitted in the outbox, when the relay
        marked it sent (after the broker's acknowledgement) and when notifications' inbox took it in."""
        return await self._by_application(
            "SELECT o.key, o.created_at, o.sent_at, i.received_at FROM applications.outbox o"
            " LEFT JOIN notifications.inbox i ON i.event_id = o.event_id"
            " WHERE o.event_type = 'ApplicationSubmitted' AND o.key = ANY(CAST(:ids AS text[]))",
            ids,
        )

    async def database_work(self) -> dict[str, int]:
        """PostgreSQL's counters so far: transactions committed, and rows written by each schema."""
        async with self.engine.connect() as c:
            commits = await c.scalar(
                text("SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()")
            )
            rows = await c.execute(
                text(
                    "SELECT schemaname, sum(n_tup_ins + n_tup_upd + n_tup_del) FROM pg_stat_user_tables"
                    " GROUP BY schemaname"
                )
            )
            found = {"commits": int(commits or 0)} | {f"rows {r[0]}": int(r[1] or 0) for r in rows}
        for name, process in self.stack.processes.items():  # each service's own count (lbb_db_commits_total)
            metrics = await self.client.request("GET", f"{process.url}/metrics")
            for line in metrics.content.decode().splitlines():
                if line.startswith("lbb_db_commits_total{"):
                    found[f"commits {name}"] = int(float(line.rsplit(" ", 1)[1]))
        return found

    async def count_fellows(self, cohort_id: str) -> int:
        async with self.engine.connect() as c:
            found = await c.scalar(
                text("SELECT count(*) FROM pairing.fellow WHERE cohort_id = CAST(:c AS uuid)"), {"c": cohort_id}
            )
            return int(found or 0)


async def wait_for(
    probe: Callable[[], Awaitable[int]], target: int, what: str, timeout_s: float, progress: Progress
) -> None:
    task = progress.add_task(what, total=target)
    deadline = time.monotonic() + timeout_s
    while True:
        done = await probe()
        progress.update(task, completed=done)
        if done >= target:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: {done} of {target} after {timeout_s:.0f} s")
        await asyncio.sleep(0.05)


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


@dataclass
class Load:
    """One fixed offered load (open loop)."""

    rate: float
    n: int = 0
    failed: int = 0
    achieved_rate: float = 0.0
    e2e_ms: list[float] = field(default_factory=list)
    email_ms: list[float] = field(default_factory=list)
    http_ms: list[float] = field(default_factory=list)
    # Where the time goes, per application (ms): scheduled start → staged in the outbox; staged → marked
    # sent by the relay; staged → taken into notifications' inbox; inbox → delivery row.
    stages: dict[str, list[float]] = field(default_factory=dict)
    # PostgreSQL's work over the load, per application: transactions committed, and rows written by schema
    database: dict[str, float] = field(default_factory=dict)


@dataclass
class Figures:
    raw_per_s: float = 0.0
    closed_n: int = 0
    consumed_per_s: float = 0.0
    emailed_per_s: float = 0.0
    loads: list[Load] = field(default_factory=list)
    enrolled: int = 0
    enrol_per_s: float = 0.0
    backlog_n: int = 0
    backlog_per_s: float = 0.0
    ceiling_n: int = 0
    ceiling_per_s: float = 0.0


async def closed_loop(system: System, n: int, in_flight: int, figures: Figures, progress: Progress) -> None:
    cohort = await system.cohort("closed loop", n)
    orgs = await system.organisations()
    tokens = [await system.token(f"bench-c{i}", "applicant") for i in range(n)]
    queue = list(range(n))
    ids: list[str] = []
    task = progress.add_task(f"closed loop: {n} applications, {in_flight} in flight", total=n)
    started_wall = time.time()

    async def worker() -> None:
        while queue:
            i = queue.pop()
            app_id, _ = await system.apply(cohort, orgs[i % len(orgs)], i, tokens[i])
            ids.append(app_id)
            progress.advance(task)

    await asyncio.gather(*(worker() for _ in range(in_flight)))

    async def consumed() -> int:
        return len(await system.deliveries(ids))

    async def emailed() -> int:
        return sum(1 for _, sent in (await system.deliveries(ids)).values() if sent is not None)

    await wait_for(consumed, n, "…consumed by notifications", 300, progress)
    await wait_for(emailed, n, "…e-mails sent", 300, progress)
    rows = await system.deliveries(ids)
    last_consumed = max(created.timestamp() for created, _ in rows.values())
    last_sent = max(sent.timestamp() for _, sent in rows.values() if sent)
    figures.closed_n = n
    figures.consumed_per_s = n / (last_consumed - started_wall)
    figures.emailed_per_s = n / (last_sent - started_wall)


async def open_loop(system: System, rate: float, seconds: float, progress: Progress, in_flight: int = 256) -> Load:
    load = Load(rate=rate, n=int(rate * seconds))
    n = load.n
    cohort = await system.cohort(f"open loop {rate:.0f}", n)
    orgs = await system.organisations()
    tokens = [await system.token(f"bench-o{rate:.0f}-{i}", "applicant") for i in range(n)]
    scheduled: dict[str, float] = {}
    task = progress.add_task(f"open loop: {rate:.0f} applications/s for {seconds:.0f} s", total=n)
    before = await system.database_work()
    t0 = time.time() + 0.5
    gate = asyncio.Semaphore(in_flight)  # beyond this many connections the gateway's backlog overflows

    async def one(i: int) -> None:
        at = t0 + i / rate
        await asyncio.sleep(max(0.0, at - time.time()))
        try:
            async with gate:
                app_id, http_s = await system.apply(cohort, orgs[i % len(orgs)], i, tokens[i])
        except (Unavailable, RuntimeError):
            load.failed += 1
            return
        finally:
            progress.advance(task)
        scheduled[app_id] = at  # latency counts from the scheduled start: no coordinated omission
        load.http_ms.append(http_s * 1000)

    await asyncio.gather(*(one(i) for i in range(n)))
    done = time.time()
    load.achieved_rate = len(scheduled) / (done - t0)
    ids = list(scheduled)

    async def emailed() -> int:
        return sum(1 for _, sent in (await system.deliveries(ids)).values() if sent is not None)

    await wait_for(emailed, len(ids), "…consumed and e-mailed", 300, progress)
    after = await system.database_work()
    load.database = {k: (v - before.get(k, 0)) / max(1, len(ids)) for k, v in after.items()}
    rows = await system.deliveries(ids)
    load.e2e_ms = [(rows[i][0].timestamp() - scheduled[i]) * 1000 for i in ids]
    load.email_ms = [(sent.timestamp() - scheduled[i]) * 1000 for i in ids if (sent := rows[i][1])]
    staged = await system.stages(ids)
    for i, (created, sent, received) in staged.items():
        spans = {"staged": created.timestamp() - scheduled[i]}
        if sent is not None:
            spans["relayed"] = (sent - created).total_seconds()
        if received is not None:
            spans["inbox"] = (received - created).total_seconds()
            spans["delivery"] = (rows[i][0] - received).total_seconds()
        for name, seconds in spans.items():
            load.stages.setdefault(name, []).append(seconds * 1000)
    return load


async def enrolment(system: System, n: int, figures: Figures, progress: Progress) -> None:
    cohort = await system.cohort("enrolment fan-out", n)
    orgs = await system.organisations()
    board = await system.token("bench-board", "board")
    task = progress.add_task(f"enrolment: {n} applications endorsed and shortlisted", total=n)
    sem = asyncio.Semaphore(16)

    async def one(i: int) -> None:
        async with sem:
            org = orgs[i % len(orgs)]
            app_id, _ = await system.apply(cohort, org, i, await system.token(f"bench-e{i}", "applicant"))
            sponsor = await system.token(f"bench-sponsor-{org}", "sponsor", org)
            for path, token, body in (
                (f"/api/applications/{app_id}/endorse", sponsor, {}),
                (f"/api/applications/{app_id}/decision", board, {"decision": "shortlist", "reason": "bench"}),
            ):
                answer = await system.call("POST", path, token, body)
                if answer.status_code >= 300:
                    raise RuntimeError(f"{path}: {answer.status_code} {answer.content.decode()}")
            progress.advance(task)

    await asyncio.gather(*(one(i) for i in range(n)))
    started = time.perf_counter()
    answer = await system.call("POST", f"/api/cohorts/{cohort}/enrol", board, {})
    ok(answer)
    await wait_for(lambda: system.count_fellows(cohort), n, "…FellowEnrolled projected by pairing", 300, progress)
    figures.enrolled = n
    figures.enrol_per_s = n / (time.perf_counter() - started)


async def backlog(system: System, n: int, figures: Figures, progress: Progress) -> None:
    """The consumer half alone: n ContactRecorded put straight onto the topic (as a relay would), until
    notifications has applied every one (fetch → envelope → inbox → handler → commit → offset)."""
    bootstrap = system.stack.kafka_bootstrap_servers
    assert bootstrap
    people = [uuid.uuid4() for _ in range(n)]
    organisation = uuid.uuid4()
    envelopes = [wrap(contact_recorded(p, i, organisation), "bench") for i, p in enumerate(people)]
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    await producer.start()
    try:
        started = time.perf_counter()
        acks = [await producer.send(topics.CONTACTS, e.to_bytes(), key=str(e.subject).encode()) for e in envelopes]
        await asyncio.gather(*acks)
    finally:
        await producer.stop()

    async def applied() -> int:
        async with system.engine.connect() as c:
            found = await c.scalar(
                text("SELECT count(*) FROM notifications.contact WHERE person_id = ANY(CAST(:ids AS uuid[]))"),
                {"ids": [str(p) for p in people]},
            )
            return int(found or 0)

    await wait_for(applied, n, f"backlog: {n:,} ContactRecorded applied by notifications", 300, progress)
    figures.backlog_n = n
    figures.backlog_per_s = n / (time.perf_counter() - started)


async def http_ceiling(system: System, n: int, in_flight: int, figures: Figures, progress: Progress) -> None:
    """The gateway's cheapest route (a dev token: no upstream, no database, no broker), closed loop.

    Every application is one request through the gateway and then much more (the applications
    service, PostgreSQL, the outbox, the broker, the consumers), so the pipeline cannot pass more
    applications per second than this, whatever the rest costs.
    """
    url = f"{system.stack.gateway_url}/api/dev/token"
    body = {"sub": "bench-ceiling", "role": "applicant", "organisation_id": None}
    task = progress.add_task(f"HTTP ceiling: {n:,} requests to the gateway alone", total=n)
    left = n

    async def worker() -> None:
        nonlocal left
        while left > 0:
            left -= 1
            ok(await system.client.request("POST", url, body=body))
            progress.advance(task)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(in_flight)))
    figures.ceiling_n = n
    figures.ceiling_per_s = n / (time.perf_counter() - started)


def report(figures: Figures, monitor: Monitor, wall_s: float, raw_count: int) -> None:
    table = Table(title="Pipeline benchmark (one run; the machine is shared and noisy)")
    table.add_column("measure")
    table.add_column("figure", justify="right")
    table.add_column("target / note")
    per = EVENTS_PER_APPLICATION
    ratio = figures.consumed_per_s * per / figures.raw_per_s if figures.raw_per_s else 0.0
    table.add_row("raw aiokafka produce→consume", f"{figures.raw_per_s:,.0f} msg/s", f"{raw_count:,} messages")
    table.add_row(
        "pipeline: applications consumed by notifications",
        f"{figures.consumed_per_s:,.1f} app/s = {figures.consumed_per_s * per:,.0f} ev/s",
        f"{figures.closed_n:,} applications through the gateway",
    )
    table.add_row("pipeline: … and e-mailed over SMTP", f"{figures.emailed_per_s:,.1f} app/s", "")
    table.add_row("pipeline / raw", f"{ratio:.1%}", f"target ≥ 30 %: {'met' if ratio >= 0.3 else 'NOT met'}")
    if figures.ceiling_n:
        bound = figures.ceiling_per_s * per / figures.raw_per_s if figures.raw_per_s else 0.0
        table.add_row(
            "HTTP ceiling: the gateway alone (dev token route), closed loop",
            f"{figures.ceiling_per_s:,.0f} req/s",
            f"{figures.ceiling_n:,} requests; as applications ({per} events each) at most {bound:.1%} of raw",
        )
    if figures.backlog_n:
        table.add_row(
            "consumer half alone: backlog drained by notifications",
            f"{figures.backlog_per_s:,.0f} ev/s = {figures.backlog_per_s / figures.raw_per_s:.1%} of raw",
            f"{figures.backlog_n:,} ContactRecorded already on the topic; no HTTP, no e-mail",
        )
    for load in figures.loads:
        p99 = pct(load.e2e_ms, 99) if load.e2e_ms else float("inf")
        table.add_row(
            f"offered {load.rate:.0f} app/s = {load.rate * per:.0f} ev/s (open loop), achieved",
            f"{load.achieved_rate:,.1f} app/s",
            f"{load.n:,} applications, {load.failed} failed",
        )
        table.add_row(
            "  gateway → notifications p50 / p95 / p99",
            f"{pct(load.e2e_ms, 50):.0f} / {pct(load.e2e_ms, 95):.0f} / {p99:.0f} ms",
            f"target p99 < 250 ms: {'met' if p99 < 250 else 'NOT met'}",
        )
        table.add_row(
            "  … to the e-mail sent p50 / p95 / p99",
            f"{pct(load.email_ms, 50):.0f} / {pct(load.email_ms, 95):.0f} / {pct(load.email_ms, 99):.0f} ms",
            "includes the SMTP exchange",
        )
        table.add_row(
            "  HTTP answer p50 / p99",
            f"{pct(load.http_ms, 50):.0f} / {pct(load.http_ms, 99):.0f} ms",
            f"mean {statistics.fmean(load.http_ms):.0f} ms",
        )
        if load.database:
            table.add_row(
                "  PostgreSQL per application: commits (by service); rows written",
                f"{load.database.get('commits', 0):.1f}",
                "; ".join(
                    ", ".join(
                        f"{k.split(' ', 1)[1]} {v:.1f}" for k, v in sorted(load.database.items()) if k.startswith(kind)
                    )
                    for kind in ("commits ", "rows ")
                ),
            )
        for name, note in STAGES.items():
            if spans := load.stages.get(name):
                table.add_row(f"  {note} p50 / p99", f"{pct(spans, 50):.0f} / {pct(spans, 99):.0f} ms", "")
    if figures.enrolled:
        table.add_row(
            "enrolment fan-out: FellowEnrolled → pairing",
            f"{figures.enrol_per_s:,.1f} ev/s",
            f"{figures.enrolled:,} fellows enrolled in one request",
        )
    console.print(table)

    usage = Table(title=f"CPU and memory per process over the run ({wall_s:.0f} s wall)")
    for column in ("process", "CPU seconds", "mean CPU %", "peak RSS MiB"):
        usage.add_column(column, justify="right" if column != "process" else "left")
    for w in monitor.watched:
        cpu = w.cpu()
        usage.add_row(w.name, f"{cpu:.1f}", f"{cpu / wall_s:.0%}", f"{w.rss_peak / 2**20:.0f}")
    console.print(usage)
    summary = {
        "raw_per_s": round(figures.raw_per_s, 1),
        "pipeline_per_s": round(figures.consumed_per_s, 1),
        "ratio": round(ratio, 4),
        "http_ceiling_per_s": round(figures.ceiling_per_s, 1),
        "p99_ms_by_rate": {f"{ld.rate:.0f}": round(pct(ld.e2e_ms, 99), 1) for ld in figures.loads if ld.e2e_ms},
        # p50 and p99 of the whole path and of each stage, for comparing runs by script
        "stages_ms_by_rate": {
            f"{ld.rate:.0f}": {
                name: [round(pct(spans, 50), 1), round(pct(spans, 99), 1)]
                for name, spans in {"e2e": ld.e2e_ms, **ld.stages}.items()
                if spans
            }
            for ld in figures.loads
        },
        "cpu_s": {w.name: round(w.cpu(), 2) for w in monitor.watched},
        "database_per_application_by_rate": {
            f"{ld.rate:.0f}": {k: round(v, 2) for k, v in ld.database.items() if v} for ld in figures.loads
        },
    }
    console.print_json(json.dumps(summary))


STAGES = {
    "staged": "scheduled start → staged in the outbox",
    "relayed": "staged → marked sent (relay, broker ack)",
    "inbox": "staged → notifications' inbox",
    "delivery": "inbox → delivery row",
}

SINK = (
    "import sys, threading; from lbb.mailsink import SmtpServer;"
    " SmtpServer(int(sys.argv[1])).start(); threading.Event().wait()"
)
# All the load comes from this one process: lift the gateway's per-caller and per-address write limits.
UNLIMITED_WRITES = {
    "RATE_LIMIT_WRITES": "100000/minute",
    "RATE_LIMIT_WRITES_PER_IP": "1000000/minute",
    "RATE_LIMIT_READS": "100000/minute",
    "RATE_LIMIT_READS_PER_IP": "1000000/minute",
}


@contextlib.contextmanager
def smtp_sink() -> Iterator[tuple[int, int]]:
    """The SMTP sink in a process of its own (its work is neither the services' nor the load
    generator's): its pid and port."""
    port = free_port()
    sink = subprocess.Popen([sys.executable, "-c", SINK, str(port)])
    try:
        wait_until(lambda: port_open(port), 20, "the SMTP sink")
        yield sink.pid, port
    finally:
        sink.terminate()
        sink.wait()


@contextlib.asynccontextmanager
async def running(prefix: str) -> AsyncIterator[System]:
    """The embedded stack in a temporary folder with the SMTP sink, and a ``System`` to drive them;
    all stopped after."""
    with smtp_sink() as (sink_pid, port):
        home = Path(tempfile.mkdtemp(prefix=prefix))
        stack = Stack(home=home, smtp_host="127.0.0.1", smtp_port=port, extra_env=UNLIMITED_WRITES)
        try:
            with console.status("starting the embedded stack…"):
                await asyncio.to_thread(stack.start, lambda line: None)
            assert stack.database_url
            engine = create_async_engine(stack.database_url)
            # The load generator uses the gateway's own aiohttp client: httpx's pool cost this process as
            # much CPU per request as the gateway itself, on the same two cores. Idle connections expire
            # before uvicorn's 5 s keep-alive does, so none is reused as it closes.
            client = Upstream(60.0, max_connections=400, keepalive_s=2.0)
            try:
                yield System(stack, client, engine, sink_pid)
            finally:
                await client.close()
                await engine.dispose()
        finally:
            stack.stop()
            shutil.rmtree(home, ignore_errors=True)


async def main(args: argparse.Namespace) -> None:
    figures = Figures()
    async with running("lbb-bench-") as system:
        stack = system.stack
        assert stack.kafka_bootstrap_servers
        monitor = system.monitor()
        monitor.start()
        started = time.perf_counter()
        with console.status(f"raw: {args.raw:,} messages of {args.size} bytes…"):
            figures.raw_per_s = await raw_throughput(stack.kafka_bootstrap_servers, args.raw, args.size)
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
        ) as progress:
            if args.ceiling:
                await http_ceiling(system, args.ceiling, args.in_flight, figures, progress)
            await closed_loop(system, args.n, args.in_flight, figures, progress)
            if args.backlog:
                await backlog(system, args.backlog, figures, progress)
            for rate in args.rates:
                figures.loads.append(await open_loop(system, rate, args.seconds, progress))
            if args.enrol:
                await enrolment(system, args.enrol, figures, progress)
        await monitor.stop()
        report(figures, monitor, time.perf_counter() - started, args.raw)


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--raw", type=int, default=20_000, help="raw messages produced and consumed")
    parser.add_argument("--size", type=int, default=700, help="raw message size in bytes (an envelope's)")
    parser.add_argument("--n", type=int, default=1_000, help="applications in the closed-loop throughput run")
    parser.add_argument("--in-flight", type=int, default=32, help="requests in flight in the closed loop")
    parser.add_argument(
        "--rates",
        type=lambda v: [float(x) for x in v.split(",")],
        default=[25.0, 50.0, 100.0],
        help="offered loads, applications per second (two events each), comma-separated",
    )
    parser.add_argument("--seconds", type=float, default=15.0, help="how long the offered load lasts")
    parser.add_argument("--backlog", type=int, default=10_000, help="events drained by notifications (0 skips)")
    parser.add_argument("--enrol", type=int, default=300, help="fellows enrolled at once (0 skips)")
    parser.add_argument("--ceiling", type=int, default=5_000, help="requests to the gateway's cheapest route (0 skips)")
    parser.add_argument(
        "--quick", action="store_true", help="a small run: 2,000 raw, 100, 500 backlog, 50/s for 4 s, 40"
    )
    args = parser.parse_args()
    if args.quick:
        args.raw, args.n, args.rates, args.seconds, args.enrol, args.backlog = 2_000, 100, [50.0], 4.0, 40, 500
        args.ceiling = 500
    return args


if __name__ == "__main__":
    asyncio.run(main(parse()))
