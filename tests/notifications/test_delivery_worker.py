"""The delivery worker and the mailer up close: SMTP connections are reused, sent records are grouped,
and a sender that dies after DATA but before recording never sends again.

A worker of its own on a database of its own (the stack's PostgreSQL, a fresh database with the
notifications schema), so the stack's notifications service never sees these rows, and a real SMTP
server of its own (aiosmtpd, the sink of `lbb dev`) that counts connections.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bench.people import add_contacts, email, record_submitted
from lbb.devstack import free_port
from lbb.mailsink import Hooks, MailSink
from services.notifications import domain
from services.notifications.mailer import Mailer, NotDelivered, SmtpConfig
from services.notifications.sending import Job
from services.notifications.settings import DeliveryConfig
from services.notifications.worker import DeliveryWorker, _Write
from tests.conftest import eventually

SENDER = "Beyond Boundaries <no-reply@example.nhs.uk>"


class CountingSink(MailSink):
    """The `lbb dev` sink, counting connections; it can answer the next MAIL FROM with 421."""

    def __init__(self) -> None:
        super().__init__()
        self.sessions: set[int] = set()
        self.close_next_mail = False

    @property
    def connections(self) -> int:
        return len(self.sessions)


class CountingHooks(Hooks):
    sink: CountingSink

    async def handle_MAIL(self, server: Any, session: Any, envelope: Any, address: str, options: list[str]) -> str:
        self.sink.sessions.add(id(session))
        if self.sink.close_next_mail:  # what a server says when it drops a connection that idled too long
            self.sink.close_next_mail = False
            return "421 4.4.2 idle for too long, closing"
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[CountingSink, int]]:
    sink = CountingSink()
    port = free_port()
    controller = Controller(CountingHooks(sink), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield sink, port
    finally:
        controller.stop()


def mailer(port: int, **kw: Any) -> Mailer:
    return Mailer(SmtpConfig(host="127.0.0.1", port=port, sender=SENDER, **kw))


def raw(to: str, subject: str) -> bytes:
    return f"From: {SENDER}\nTo: {to}\nSubject: {subject}\n\nHello\n".encode()


async def handed_over() -> bool:
    return True


# --- the mailer -------------------------------------------------------------------------------


async def test_one_connection_carries_one_message_after_another(smtp: tuple[CountingSink, int]) -> None:
    sink, port = smtp
    m = mailer(port)
    for i in range(5):
        await m.send(raw("ada@example.nhs.uk", f"m{i}"), "ada@example.nhs.uk", handed_over)
    assert [str(x["Subject"]) for x in sink.to("ada@example.nhs.uk")] == [f"m{i}" for i in range(5)]
    assert sink.connections == 1 and m.connections_opened == 1 and m.idle_connections == 1

    # as many connections as messages in flight at once, kept for the next ones
    await asyncio.gather(
        *(m.send(raw("bob@example.nhs.uk", f"b{i}"), "bob@example.nhs.uk", handed_over) for i in range(4))
    )
    await asyncio.gather(
        *(m.send(raw("bob@example.nhs.uk", f"c{i}"), "bob@example.nhs.uk", handed_over) for i in range(4))
    )
    assert len(sink.to("bob@example.nhs.uk")) == 8
    assert sink.connections == 4 and m.idle_connections == 4
    await m.close()
    assert m.idle_connections == 0


async def test_a_refused_recipient_is_not_delivered_and_the_connection_goes_on(
    smtp: tuple[CountingSink, int],
) -> None:
    sink, port = smtp
    m = mailer(port)
    sink.refuse.add("gone@example.nhs.uk")
    with pytest.raises(NotDelivered, match="550"):
        await m.send(raw("gone@example.nhs.uk", "x"), "gone@example.nhs.uk", handed_over)
    await m.send(raw("ada@example.nhs.uk", "after"), "ada@example.nhs.uk", handed_over)  # RSET, then on
    assert sink.to("gone@example.nhs.uk") == [] and len(sink.to("ada@example.nhs.uk")) == 1
    assert sink.connections == 1
    await m.close()


async def test_a_connection_the_server_dropped_is_replaced_before_anything_is_sent(
    smtp: tuple[CountingSink, int],
) -> None:
    sink, port = smtp
    m = mailer(port)
    await m.send(raw("ada@example.nhs.uk", "first"), "ada@example.nhs.uk", handed_over)
    sink.close_next_mail = True  # the kept connection answers 421 at MAIL FROM: once more on a fresh one
    calls = 0

    async def counted() -> bool:
        nonlocal calls
        calls += 1
        return True

    await m.send(raw("ada@example.nhs.uk", "second"), "ada@example.nhs.uk", counted)
    assert [str(x["Subject"]) for x in sink.to("ada@example.nhs.uk")] == ["first", "second"]
    assert calls == 1 and sink.connections == 2 and m.connections_opened == 2
    await m.close()


async def test_a_fresh_connection_that_fails_at_mail_from_is_not_delivered(smtp: tuple[CountingSink, int]) -> None:
    sink, port = smtp
    m = mailer(port)
    sink.close_next_mail = True  # no retry on a connection that was not reused
    with pytest.raises(NotDelivered, match="421"):
        await m.send(raw("ada@example.nhs.uk", "x"), "ada@example.nhs.uk", handed_over)
    assert sink.to("ada@example.nhs.uk") == [] and m.connections_opened == 1
    await m.close()


async def test_idle_connections_are_closed(smtp: tuple[CountingSink, int]) -> None:
    _, port = smtp
    m = mailer(port, idle_s=0.2)
    await m.send(raw("ada@example.nhs.uk", "x"), "ada@example.nhs.uk", handed_over)
    assert m.idle_connections == 1

    async def closed() -> bool:
        return m.idle_connections == 0

    await eventually(closed, 5, "the idle connection to be closed")
    await m.send(raw("ada@example.nhs.uk", "y"), "ada@example.nhs.uk", handed_over)
    assert m.connections_opened == 2
    await m.close()


# --- the worker, on a database of its own (the ``sessions`` fixture) -------------------------------


async def pending(sessions: async_sessionmaker[AsyncSession], count: int) -> list[uuid.UUID]:
    """``count`` people with contact details, each with a pending delivery (recorded as the handlers do)."""
    people = [uuid.uuid4() for _ in range(count)]
    now = datetime.now(UTC)
    await add_contacts(sessions, people, now)
    async with sessions() as s, s.begin():
        for p in people:
            await record_submitted(s, p, now)
    return people


async def states(sessions: async_sessionmaker[AsyncSession], people: list[uuid.UUID]) -> list[tuple[str, int]]:
    async with sessions() as s:
        rows = await s.execute(
            text("SELECT status, attempts FROM notifications.delivery WHERE recipient_id = ANY(:p)"), {"p": people}
        )
        return sorted((r.status, r.attempts) for r in rows)


async def outbox_events(sessions: async_sessionmaker[AsyncSession], event_type: str) -> int:
    async with sessions() as s:
        count = await s.scalar(
            text("SELECT count(*) FROM notifications.outbox WHERE event_type = :t"), {"t": event_type}
        )
        return int(count or 0)


def worker(sessions: async_sessionmaker[AsyncSession], m: Mailer, clock: Any = None, **config: Any) -> DeliveryWorker:
    return DeliveryWorker(
        lambda: sessions,
        m,
        DeliveryConfig(sender=SENDER, lease_s=60, **config),
        **({"clock": clock} if clock else {}),
    )


async def claim_all(w: DeliveryWorker, count: int) -> list[Job]:
    jobs: list[Job] = []
    while len(jobs) < count:
        claimed = await w.claim(count - len(jobs))
        assert claimed, f"only {len(jobs)} of {count} deliveries claimed"
        jobs += claimed
    return jobs


def received(sink: MailSink, people: list[uuid.UUID]) -> list[EmailMessage]:
    return [m for p in people for m in sink.to(email(p))]


async def test_a_sent_e_mail_is_recorded_at_once_without_waiting_for_a_claim(
    sessions: async_sessionmaker[AsyncSession], smtp: tuple[CountingSink, int]
) -> None:
    """No timer between the server's answer and the record: the writer commits ``sent`` and
    NotificationSent by itself, with nothing else called; concurrent sends share its rounds."""
    sink, port = smtp
    people = await pending(sessions, 6)
    sent_before = await outbox_events(sessions, "NotificationSent")
    w = worker(sessions, mailer(port))
    jobs = await claim_all(w, 6)
    await asyncio.gather(*(w.deliver(job) for job in jobs))
    assert len(received(sink, people)) == 6 and sink.connections <= 6

    async def recorded() -> bool:
        return await states(sessions, people) == [("sent", 1)] * 6

    await eventually(recorded, 5, "the sent records to be committed")
    assert await outbox_events(sessions, "NotificationSent") == sent_before + 6
    assert w.write_rounds <= 6 and 1 <= w.record_rounds <= 6
    await w.stop()
    await w.mailer.close()


async def test_the_next_claim_takes_the_sent_records_the_writer_has_not_taken_yet(
    sessions: async_sessionmaker[AsyncSession], smtp: tuple[CountingSink, int]
) -> None:
    """A record is written before the next claim or with it: one queued when the claim starts goes
    into the claim's own transaction."""
    _, port = smtp
    people = await pending(sessions, 3)
    w = worker(sessions, mailer(port))
    jobs = await claim_all(w, 3)
    for job in jobs:  # handed over and answered; the records queued as the sender does
        await w.deliver(job)
        await w.written()
    more = await pending(sessions, 1)
    (job,) = await claim_all(w, 1)
    await w.mailer.send(job.message, job.to, lambda: w._write(_Write(job)))
    w._writes.append(_Write(job, sent_at=datetime.now(UTC)))
    rounds = w.record_rounds
    assert await w.claim() == []  # nothing due: the claim's transaction carries the record
    assert w.record_rounds == rounds + 1 and not w._writes
    assert await states(sessions, people + more) == [("sent", 1)] * 4
    await w.stop()
    await w.mailer.close()


async def test_a_sender_gone_between_data_and_its_record_never_sends_again(
    sessions: async_sessionmaker[AsyncSession], smtp: tuple[CountingSink, int]
) -> None:
    """The only window left: the server has the message and has not answered DATA when the sender
    dies (the sink holds its answer; the sends are cancelled there)."""
    sink, port = smtp
    failed_before = await outbox_events(sessions, "NotificationFailed")
    gone = worker(sessions, mailer(port))
    people = await pending(sessions, 4)
    sink.hold |= {email(p) for p in people}
    try:
        sends = [asyncio.create_task(gone.deliver(job)) for job in await claim_all(gone, 4)]

        async def all_received() -> bool:
            return len(received(sink, people)) == 4

        await eventually(all_received, 30, "the server to receive the four messages")
        for task in sends:  # the process dies here: no answer read, nothing recorded
            task.cancel()
        await asyncio.gather(*sends, return_exceptions=True)
    finally:
        sink.hold -= {email(p) for p in people}
    assert await states(sessions, people) == [("handing_over", 1)] * 4

    # another instance, once the lease has expired
    later = datetime.now(UTC) + timedelta(seconds=61)
    heir = worker(sessions, mailer(port), clock=lambda: later)
    assert await heir.recover() >= 4
    assert await states(sessions, people) == [("unconfirmed", 1)] * 4
    assert await outbox_events(sessions, "NotificationFailed") == failed_before + 4
    assert await heir.run_once() == 0  # nothing of theirs is claimed again
    assert len(received(sink, people)) == 4, "an e-mail was sent twice"
    await heir.stop()


def test_a_delivery_waiting_for_its_contact_looks_again_soon_then_less_often() -> None:
    """The contact comes on another topic, usually milliseconds behind the event: the first looks are
    quick (so the e-mail is not held for seconds under load), later ones back off to the cap."""
    created = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    waits = [
        domain.contact_retry(created, created + timedelta(seconds=s), 0.1, 2.0).total_seconds() for s in (0, 1, 3, 60)
    ]
    assert waits == [0.1, 0.5, 1.5, 2.0]
