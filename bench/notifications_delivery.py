"""Notifications delivery benchmark: CPU per e-mail of the delivery worker, without the rest of the system.

    .venv/bin/python bench/notifications_delivery.py               # 1,000 e-mails: a backlog, then 100/s
    .venv/bin/python bench/notifications_delivery.py --n 300 --rate 50

It starts an embedded PostgreSQL (the notifications schema migrated) and the SMTP sink in a child
process, then runs the service's own code in this process, as the service does:

1. record: N deliveries recorded the way the event handlers record them (one transaction each),
   with the delivery worker stopped: the CPU this takes is the recording's, not the sending's;
2. backlog: the worker started on those N deliveries (large claims, many sends at once);
3. trickle: N more recorded at ``--rate`` per second while the worker runs and is woken by each
   commit, as under a steady load (small claims): this process's CPU minus the recording's.

It prints CPU milliseconds per e-mail (this process: worker, SQLAlchemy, asyncpg, aiosmtplib) and,
for the trickle, the time from recording to ``sent`` (PostgreSQL's clock). The sink and PostgreSQL
run in other processes and are not counted. A benchmark, not a test: quote figures of runs close in
time on the same machine.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from lbb.devstack import EmbeddedPostgres, free_port, port_open, wait_until
from services.notifications.mailer import Mailer, SmtpConfig
from services.notifications.settings import DeliveryConfig
from services.notifications.worker import DeliveryWorker
from shared.db import make_engine, make_sessionmaker
from shared.migrations import upgrade

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the bench package, when run as a script

from bench.people import add_contacts, record_submitted

TRANSACTIONS = "  claims (with rows): {} ({}); hand-over statements: {}; transactions recording sent e-mails: {}"
SENDER = "Beyond Boundaries <no-reply@beyond-boundaries.nhs.uk>"


def sink(port: int, stop: Any) -> None:
    from lbb.mailsink import SmtpServer

    server = SmtpServer(port)
    server.start()
    stop.wait()
    server.stop()


async def record(sessions: async_sessionmaker[AsyncSession], person_id: uuid.UUID) -> None:
    async with sessions() as s, s.begin():
        await record_submitted(s, person_id, datetime.now(UTC))


async def sent(sessions: async_sessionmaker[AsyncSession]) -> int:
    async with sessions() as s:
        return int(await s.scalar(text("SELECT count(*) FROM notifications.delivery WHERE status = 'sent'")) or 0)


async def until_sent(sessions: async_sessionmaker[AsyncSession], count: int, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while await sent(sessions) < count:
        if time.monotonic() > deadline:
            raise TimeoutError(f"only {await sent(sessions)} of {count} e-mails sent")
        await asyncio.sleep(0.05)


def cpu() -> float:
    return time.process_time()


async def run(url: str, smtp_port: int, n: int, rate: float) -> None:
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    config = DeliveryConfig(sender=SENDER)
    mailer = Mailer(SmtpConfig(host="127.0.0.1", port=smtp_port, sender=SENDER))
    worker = DeliveryWorker(lambda: sessions, mailer, config)
    claims = [0, 0]  # claims, claims that found something
    claim = worker.claim

    async def counted_claim(limit: int | None = None) -> Any:
        jobs = await claim(limit)
        claims[0] += 1
        claims[1] += bool(jobs)
        return jobs

    worker.claim = counted_claim  # type: ignore[method-assign]
    people = [uuid.uuid4() for _ in range(2 * n)]
    await add_contacts(sessions, people, datetime.now(UTC))
    await sent(sessions)  # warm the pool

    # 1. record with the worker stopped
    c0 = cpu()
    for p in people[:n]:
        await record(sessions, p)
    record_ms = (cpu() - c0) / n * 1000

    # 2. the backlog
    c0, t0 = cpu(), time.monotonic()
    worker.start()
    await until_sent(sessions, n)
    backlog_cpu, backlog_s = cpu() - c0, time.monotonic() - t0

    def counts() -> tuple[int, ...]:
        return (*claims, getattr(worker, "write_rounds", 0), getattr(worker, "record_rounds", 0))

    backlog_counts = counts()

    # 3. a trickle at `rate` per second
    c0, t0 = cpu(), time.monotonic()
    for i, p in enumerate(people[n:]):
        await record(sessions, p)
        ahead = t0 + (i + 1) / rate - time.monotonic()
        if ahead > 0:
            await asyncio.sleep(ahead)
    await until_sent(sessions, 2 * n)
    trickle_cpu, trickle_s = cpu() - c0, time.monotonic() - t0
    trickle_counts = [now - before for now, before in zip(counts(), backlog_counts, strict=True)]
    await worker.stop()
    close = getattr(mailer, "close", None)
    if close is not None:
        await close()

    async with sessions() as s:
        latencies = [
            float(x) * 1000
            for x in (
                await s.scalars(
                    text(
                        "SELECT extract(epoch FROM sent_at - created_at) FROM notifications.delivery"
                        " WHERE recipient_id = ANY(:ids)"
                    ),
                    {"ids": people[n:]},
                )
            ).all()
        ]
    await engine.dispose()
    q = statistics.quantiles(latencies, n=100)
    print(f"record (handler path, worker stopped): {record_ms:.2f} ms CPU per delivery")
    print(
        f"backlog of {n}: {backlog_cpu / n * 1000:.2f} ms CPU per e-mail, {n / backlog_s:.0f} e-mails/s "
        f"({backlog_s:.1f} s wall)"
    )
    print(TRANSACTIONS.format(*backlog_counts))
    per = trickle_cpu / n * 1000
    print(
        f"trickle of {n} at {rate:g}/s: {per:.2f} ms CPU per e-mail including recording, "
        f"{per - record_ms:.2f} ms without ({trickle_s:.1f} s wall)"
    )
    print(TRANSACTIONS.format(*trickle_counts))
    print(f"trickle recorded → sent p50 / p95 / p99: {q[49]:.0f} / {q[94]:.0f} / {q[98]:.0f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=1000, help="e-mails in the backlog, and again in the trickle")
    parser.add_argument("--rate", type=float, default=100.0, help="deliveries recorded per second in the trickle")
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="lbb-bench-notifications-"))
    postgres = EmbeddedPostgres(home / "pgdata")
    stop = multiprocessing.Event()
    port = free_port()
    child = multiprocessing.Process(target=sink, args=(port, stop), daemon=True)
    try:
        url = postgres.start()
        upgrade("notifications", url)
        child.start()
        wait_until(lambda: port_open(port), 30, "the SMTP sink")
        asyncio.run(run(url, port, args.n, args.rate))
    finally:
        stop.set()
        child.join(10)
        postgres.stop()
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
